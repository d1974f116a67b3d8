"""Fixtures shared by the integration tests beyond the root ones: the fake vendor API, the HTTP
client vendor executors send with, the Signoff server with vendor webhooks enabled, the fake
OpenAI server with a classifier on it, and a runtime with the thresholds seeded for tests that
drive the pipeline in-process."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bot.assess.llm.client import OpenAIClassifier
from bot.lead_settings.seed import seed_thresholds
from bot.runtime import Runtime, open_runtime
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.openai_api import FakeOpenAI
from tests.support.fakes.slack_api import FakeSlack
from tests.support.fakes.vendor_api import FakeVendorApi
from tests.support.openai_classifier import ModelServer, open_classifier, server_with_classifier
from tests.support.server_harness import REVIEWER, make_settings
from tests.support.vendor_harness import VendorServer, start_vendor_server, vendor_settings


@pytest.fixture
def model_server(database_url: str, slack: FakeSlack, sink: HttpSink) -> ModelServer:
    """Starts the real server assessing with a fake model that answers with the given answer
    (``server_with_classifier`` on this test's database, Slack and action endpoint)."""
    return functools.partial(
        server_with_classifier, database_url=database_url, slack=slack, sink=sink
    )


@pytest.fixture
def api() -> Iterator[FakeVendorApi]:
    """The vendors' APIs (Zendesk, Intercom, HubSpot, Stripe) on one loopback server."""
    with FakeVendorApi() as fake:
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client a vendor executor under test sends with (a short timeout: the fake API
    answers at once unless told to wait)."""
    async with httpx.AsyncClient(timeout=2) as client:
        yield client


@pytest.fixture
def vendor_server(database_url: str, slack: FakeSlack, sink: HttpSink) -> Iterator[VendorServer]:
    """Signoff with every vendor webhook enabled; approved actions go to the action sink."""
    with start_vendor_server(
        database_url=database_url, slack=slack, sink=sink, vendors=vendor_settings()
    ) as running:
        yield running


@pytest.fixture
def routed_vendor_server(
    database_url: str, slack: FakeSlack, sink: HttpSink, api: FakeVendorApi
) -> Iterator[VendorServer]:
    """Signoff with every vendor webhook enabled and each source's actions routed to its vendor
    executor on ``api``, so a test follows a webhook to the vendor API call."""
    with start_vendor_server(
        database_url=database_url, slack=slack, sink=sink, vendors=vendor_settings(api.url)
    ) as running:
        yield running


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """The fake OpenAI server; a test passes only if every answer it scripted met the schema the
    client sent."""
    with FakeOpenAI() as running:
        yield running
        assert not running.schema_problems, running.schema_problems


@pytest.fixture
async def classifier(fake: FakeOpenAI) -> AsyncIterator[OpenAIClassifier]:
    """The real OpenAI classifier pointed at ``fake``, no retries, a short timeout."""
    async with open_classifier(fake) as built:
        yield built


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    """A runtime with one reviewer and the default thresholds seeded, as ``serve`` starts; a
    module that needs other settings defines its own ``runtime``."""
    settings = make_settings(database_url=database_url, reviewers=REVIEWER)
    async with open_runtime(settings) as rt:
        await seed_thresholds(rt.sessions, settings)
        yield rt
