"""The real OpenAI classifier pointed at a ``FakeOpenAI``: the test key and model, a timeout short
enough that a test of "the model never answered" takes half a second, and the Signoff server
assessing with that fake either through an injected classifier or through its settings."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any, Protocol

from bot.assess.llm.client import OpenAIClassifier
from tests.support.fakes.http_sink import HttpSink
from tests.support.fakes.openai_api import Answer, FakeOpenAI
from tests.support.fakes.slack_api import FakeSlack
from tests.support.model_answers import answer_from_request
from tests.support.server_harness import RunningServer, make_settings, start_server

API_KEY = "sk-test-not-a-real-key-0123456789"
MODEL = "gpt-test"
TIMEOUT = 0.5
# A whole server's classifier waits longer: the tests that use one are not about timeouts, and a
# loaded CI machine must not turn a slow fake answer into "assessment unavailable".
SERVER_TIMEOUT = 10.0


def classifier_for(fake: FakeOpenAI | str, **settings: Any) -> OpenAIClassifier:
    """A classifier on ``fake`` (or at that base URL) with no retries unless ``settings`` say
    otherwise."""
    fields: dict[str, Any] = {
        "openai_api_key": API_KEY,
        "openai_base_url": fake if isinstance(fake, str) else fake.base_url,
        "openai_model": MODEL,
        "openai_timeout_seconds": TIMEOUT,
        "openai_max_retries": 0,
    }
    fields.update(settings)
    return OpenAIClassifier.from_settings(make_settings(**fields))


@contextlib.asynccontextmanager
async def open_classifier(
    fake: FakeOpenAI | str, **settings: Any
) -> AsyncIterator[OpenAIClassifier]:
    """``classifier_for``, closed on the way out whatever the test raised."""
    classifier = classifier_for(fake, **settings)
    try:
        yield classifier
    finally:
        await classifier.aclose()


@contextlib.contextmanager
def server_with_classifier(
    answer: Answer | None,
    *,
    database_url: str,
    slack: FakeSlack,
    sink: HttpSink,
    **classifier_settings: Any,
) -> Iterator[tuple[RunningServer, FakeOpenAI]]:
    """The real Signoff server assessing with ``classifier_for`` a fake model that answers with
    ``answer``; on the way out, every answer the model gave must have met the client's schema."""
    with FakeOpenAI(answer) as model:
        classifier = classifier_for(
            model, **({"openai_timeout_seconds": SERVER_TIMEOUT} | classifier_settings)
        )
        with start_server(
            database_url=database_url, slack=slack, sink=sink, classifier=classifier
        ) as server:
            yield server, model
        asyncio.run(classifier.aclose())
        assert not model.schema_problems, model.schema_problems


class ModelServer(Protocol):
    """``server_with_classifier`` with the database, Slack and action endpoint already given
    (the ``model_server`` fixture)."""

    def __call__(
        self, answer: Answer | None, **classifier_settings: Any
    ) -> contextlib.AbstractContextManager[tuple[RunningServer, FakeOpenAI]]: ...


@contextlib.contextmanager
def server_configured_for_llm(
    *, database_url: str, slack: FakeSlack, sink: HttpSink, **overrides: Any
) -> Iterator[tuple[RunningServer, FakeOpenAI]]:
    """The real Signoff server told to use a fake model through its settings alone (as ``serve``
    is), the model agreeing with whatever each ticket asks."""
    with (
        FakeOpenAI(answer_from_request, api_key=API_KEY) as model,
        start_server(
            database_url=database_url,
            slack=slack,
            sink=sink,
            **{
                "openai_api_key": API_KEY,
                "openai_base_url": model.base_url,
                "openai_model": MODEL,
                "openai_max_retries": 0,
                **overrides,
            },
        ) as server,
    ):
        yield server, model
