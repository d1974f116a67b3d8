"""Everything a running Signoff process shares, built once from settings and closed once.

Handlers, the worker and the demo all take a ``Runtime`` instead of reaching for globals, which
is what lets a test start two independent instances in one process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.action_sink import Executor, GenericActionSink, LogOnlyExecutor
from bot.assessment import Classifier
from bot.card_publisher import CardPublisher
from bot.database import SessionFactory, create_engine, session_factory
from bot.heuristic_classifier import HeuristicClassifier
from bot.metrics import Metrics
from bot.settings import Settings
from bot.slack_client import build_slack_client


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: SessionFactory
    classifier: Classifier
    executor: Executor
    publisher: CardPublisher | None
    http: httpx.AsyncClient
    metrics: Metrics


def build_classifier(settings: Settings) -> Classifier:
    """The embedded heuristic classifier; the OpenAI classifier plugs in here when configured."""
    return HeuristicClassifier()


def build_executor(settings: Settings, http: httpx.AsyncClient) -> Executor:
    if settings.action_url:
        secret = settings.action_signing_secret
        return GenericActionSink(
            settings.action_url, secret.get_secret_value() if secret else None, http
        )
    return LogOnlyExecutor()


@asynccontextmanager
async def open_runtime(
    settings: Settings, *, classifier: Classifier | None = None
) -> AsyncIterator[Runtime]:
    engine = create_engine(settings.database_url)
    http = httpx.AsyncClient(timeout=settings.action_timeout_seconds)
    metrics = Metrics()
    publisher = None
    if settings.slack_bot_token is not None and settings.review_channel:
        publisher = CardPublisher(
            build_slack_client(settings, metrics.slack_retries),
            settings.review_channel,
            session_factory(engine),
            metrics.slack_errors,
        )
    try:
        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            classifier=classifier or build_classifier(settings),
            executor=build_executor(settings, http),
            publisher=publisher,
            http=http,
            metrics=metrics,
        )
    finally:
        await http.aclose()
        await engine.dispose()
