"""The real OpenAI classifier pointed at a ``FakeOpenAI``: the test key and model, and a timeout
short enough that a test of "the model never answered" takes half a second."""

from __future__ import annotations

from typing import Any

from bot.assess.openai_classifier import OpenAIClassifier
from tests.support.fakes.openai_api import FakeOpenAI
from tests.support.server_harness import make_settings

API_KEY = "sk-test-not-a-real-key-0123456789"
MODEL = "gpt-test"
TIMEOUT = 0.5


def classifier_for(fake: FakeOpenAI, **settings: Any) -> OpenAIClassifier:
    """A classifier on ``fake`` with no retries unless ``settings`` say otherwise."""
    fields: dict[str, Any] = {
        "openai_api_key": API_KEY,
        "openai_base_url": fake.base_url,
        "openai_model": MODEL,
        "openai_timeout_seconds": TIMEOUT,
        "openai_max_retries": 0,
    }
    fields.update(settings)
    return OpenAIClassifier.from_settings(make_settings(**fields))
