"""Local HTTP fakes (Slack Web API, customer action endpoint) for tests that use real clients."""

from tests.support.fakes.http_sink import HttpSink, SinkRequest
from tests.support.fakes.slack_api import FakeSlack, SlackCall

__all__ = ["FakeSlack", "HttpSink", "SinkRequest", "SlackCall"]
