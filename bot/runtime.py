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

from bot.actions.sink import Executor, ExecutorRouter, GenericActionSink, LogOnlyExecutor
from bot.assess.assessment import Classifier
from bot.assess.heuristic import HeuristicClassifier
from bot.errors import ConfigurationError
from bot.logging_setup import get_logger
from bot.review.away import AwayBook
from bot.review.roster import ReviewerRoster
from bot.settings import Settings
from bot.slack.card_publisher import CardPeople, CardPublisher
from bot.slack.client import build_slack_client, open_slack_session
from bot.slack.pacing import ChannelPacer
from bot.stats.metrics import Metrics
from bot.store.audit import start_keyed_chain
from bot.store.audit_keys import AuditKeys
from bot.store.database import SessionFactory, create_engine, session_factory, transaction
from bot.store.prompt_store import remember_prompt
from bot.vendors.executors import build_vendor_executors, unconfigured_sources
from bot.vendors.settings import VendorSettings

log = get_logger(__name__)

# The OpenAI SDK is imported only when OPENAI_API_KEY is set (``build_classifier``): it is the
# heaviest import Signoff has (seconds on a busy machine, tens of MiB), and the heuristic
# classifier never needs it. Everything else reaches a classifier through its protocol.


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
    # Who may decide and who leads: one per runtime, so listeners and the executor's authority
    # re-check see the same group membership.
    roster: ReviewerRoster
    # Who is away (``/signoff away``, and Slack's status when SIGNOFF_RESPECT_SLACK_STATUS).
    away: AwayBook
    vendors: VendorSettings | None = None


def build_classifier(settings: Settings) -> Classifier:
    """The OpenAI classifier when ``OPENAI_API_KEY`` is set, else the embedded heuristic one.

    The heuristic classifier labels every assessment ``heuristic``, so a card never passes it off
    as an LLM's judgement.
    """
    if settings.openai_api_key is not None:
        from bot.assess.llm.client import OpenAIClassifier

        return OpenAIClassifier.from_settings(settings)
    return HeuristicClassifier()


def build_executor(
    settings: Settings, http: httpx.AsyncClient, vendors: VendorSettings | None = None
) -> Executor:
    """Vendor executors for the sources that have API credentials; everything else goes to the
    generic signed action sink (or is only logged when ``SIGNOFF_ACTION_URL`` is not set)."""
    fallback: Executor = LogOnlyExecutor()
    if settings.action_url:
        secret = settings.action_signing_secret
        if secret is None:  # the CLI says so first; this keeps every other entry point honest
            raise ConfigurationError(settings.action_problems())
        fallback = GenericActionSink(settings.action_url, secret.get_secret_value(), http)
    by_source = (
        build_vendor_executors(vendors, http, fallback_configured=bool(settings.action_url))
        if vendors is not None
        else {}
    )
    if not by_source:
        return fallback
    return ExecutorRouter(fallback, by_source)


def _log_vendor_setup(vendors: VendorSettings, *, fallback_configured: bool) -> None:
    """One line per enabled or disabled half at INFO; a WARNING for a source that receives
    tickets whose approved actions nothing can carry out, whatever LOG_LEVEL hides."""
    for line in vendors.enabled_lines() + vendors.disabled_lines():
        log.info(line)
    for source in unconfigured_sources(vendors, fallback_configured=fallback_configured):
        missing = ", ".join(vendors.missing_executor_settings(source))
        log.warning(
            f"{source} webhooks are accepted but approved {source} actions will fail: "
            f"set {missing} (or SIGNOFF_ACTION_URL)"
        )


async def _start_audit_chain(sessions: SessionFactory, keys: AuditKeys) -> None:
    """Seal the chain with the configured key from here on (or refuse: ``start_keyed_chain``),
    and say plainly when there is no key."""
    async with transaction(sessions) as session:
        started = await start_keyed_chain(session)
    if started is not None:
        log.info(f"audit chain: {started} (the keyed chain continues from here)")
    if keys.current is None:
        log.warning(
            "SIGNOFF_AUDIT_KEY is not set: the audit chain is unkeyed, so anyone with write "
            "access to the database can rewrite it undetected (see docs/security.md)"
        )


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    vendors: VendorSettings | None = None,
) -> AsyncIterator[Runtime]:
    """``vendors`` is passed by the CLI (read from the environment); tests pass their own, and
    leaving it out disables every vendor source and executor."""
    engine = create_engine(settings.database_url)
    audit_keys = AuditKeys.from_settings(settings)
    http = httpx.AsyncClient(timeout=settings.action_timeout_seconds)
    metrics = Metrics()
    publisher = None
    slack_session = None
    client = None
    sessions = session_factory(engine, audit_keys)
    pacer = ChannelPacer.from_settings(settings)
    if settings.slack_bot_token is not None and settings.review_channel:
        slack_session = open_slack_session()
        client = build_slack_client(
            settings, metrics.slack_retries, session=slack_session, pacer=pacer
        )
    roster = ReviewerRoster(
        client,
        reviewers=settings.reviewers,
        leads=settings.leads,
        group_id=settings.reviewer_group,
        ttl_seconds=settings.reviewer_group_ttl_seconds,
    )
    away = AwayBook(sessions, client, respect_slack=settings.respect_slack_status)
    if client is not None and settings.review_channel:
        publisher = CardPublisher(
            client,
            settings.review_channel,
            session_factory(engine, audit_keys),
            metrics.slack_errors,
            pacer=pacer,
            people=CardPeople(roster, away),
        )
        publisher.configure(settings)  # posting pace and digest threshold
    owned_classifier = classifier is None
    chosen = classifier or build_classifier(settings)
    if vendors is not None:
        _log_vendor_setup(vendors, fallback_configured=bool(settings.action_url))
    try:
        await _start_audit_chain(sessions, audit_keys)
        prompt = chosen.prompt_record()
        if prompt is not None:
            await remember_prompt(sessions, prompt)  # what prompt_sha256 will name
        yield Runtime(
            settings=settings,
            engine=engine,
            sessions=sessions,
            classifier=chosen,
            executor=build_executor(settings, http, vendors),
            publisher=publisher,
            http=http,
            metrics=metrics,
            roster=roster,
            away=away,
            vendors=vendors,
        )
    finally:
        if owned_classifier:
            await chosen.aclose()
        await http.aclose()
        if slack_session is not None:
            await slack_session.close()
        await engine.dispose()
