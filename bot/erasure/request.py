"""One erasure request, from whoever asked (the CLI, a lead in Slack, a signed webhook, the
retention sweep) to a report: which items, which classes of data, what Slack and the storage
did.

Everything in the database goes in one transaction with one ``erased`` audit event (who asked,
how, which items, which classes of data: never the data), so the log never shows content erased
without the event that explains it. An item whose send is in flight is waited for (its outcome
recorded first: executed, then erased); one still sending when the wait runs out is left and
reported, to be erased by running the request again. After the commit: the in-process caches,
the database files (``bot.erasure.storage``), and the Slack messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.assess.assessment import Classifier
from bot.assess.edit_examples import forget_edits
from bot.assess.pii_masking import forget_masks
from bot.erasure.slack_messages import SlackRewrite, rewrite_messages
from bot.erasure.storage import purge_erased
from bot.errors import SignoffError
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.store import audit
from bot.store.database import SessionFactory, transaction
from bot.store.erasure import ErasedItem, erase_items, item_ids_of_customer

log = get_logger(__name__)

ERASED_EVENT = "erased"
# What an erasure removes, as the audit event and the report name it (docs/privacy.md).
DATA_CLASSES = (
    "ticket subject and body",
    "customer name, e-mail and tier",
    "source metadata",
    "drafts, approved and executed replies",
    "free-text action values",
    "LLM input and raw answer",
    "reasons and summaries typed by people",
    "vendor errors and results",
    "personal fields of audit rows",
    "interaction inbox payloads",
    "Slack cards and thread lines",
    "in-memory caches and edit examples",
)
WAIT_FOR_SENDS_SECONDS = 30.0
_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ErasureTools:
    """What an erasure needs; a running server has them all in its ``Runtime``."""

    engine: AsyncEngine
    sessions: SessionFactory
    client: AsyncWebClient | None = None
    classifier: Classifier | None = None

    @classmethod
    def of(cls, rt: Runtime) -> ErasureTools:
        client = rt.publisher.client if rt.publisher is not None else None
        return cls(rt.engine, rt.sessions, client, rt.classifier)


@dataclass(frozen=True)
class ErasureReport:
    items: tuple[str, ...]
    # Still sending when the wait ran out: not erased yet.
    busy: tuple[str, ...]
    storage: str = ""
    slack: SlackRewrite = field(default_factory=SlackRewrite)

    def summary(self) -> str:
        """One line for a person; no personal data."""
        parts = [f"{len(self.items)} item(s) erased"]
        if self.slack.cards or self.slack.thread_lines:
            parts.append(
                f"{self.slack.cards} Slack card(s) and {self.slack.thread_lines} thread "
                "line(s) rewritten"
            )
        if self.slack.failures:
            parts.append(f"{len(self.slack.failures)} Slack message(s) could not be rewritten")
        if self.busy:
            parts.append(
                f"{len(self.busy)} item(s) still executing were NOT erased: run it again "
                f"({', '.join(self.busy)})"
            )
        return "; ".join(parts)


class _StillSendingError(SignoffError):
    """Roll back and wait: an item's send is in flight."""


async def _erase_in_database(
    sessions: SessionFactory,
    *,
    email: str | None,
    item_ids: Sequence[str],
    requested_by: str,
    via: str,
    give_up_at: float,
) -> tuple[list[ErasedItem], list[str]]:
    while True:
        try:
            async with transaction(sessions) as session:
                ids = list(item_ids)
                if email:
                    ids.extend(await item_ids_of_customer(session, email))
                erased, busy = await erase_items(session, ids, needles=[email] if email else [])
                if busy and time.monotonic() < give_up_at:
                    raise _StillSendingError
                await audit.record(
                    session,
                    ERASED_EVENT,
                    actor=requested_by[:64],
                    via=via,
                    items=[item.item_id for item in erased],
                    not_erased_while_sending=busy,
                    classes=list(DATA_CLASSES),
                )
                return erased, busy
        except _StillSendingError:
            await asyncio.sleep(_POLL_SECONDS)


async def erase(
    tools: ErasureTools,
    *,
    requested_by: str,
    via: str,
    email: str | None = None,
    item_ids: Sequence[str] = (),
    full_purge: bool = False,
    wait_seconds: float = WAIT_FOR_SENDS_SECONDS,
) -> ErasureReport:
    """Erase the customer ``email``'s items and/or ``item_ids``; see the module docstring."""
    erased, busy = await _erase_in_database(
        tools.sessions,
        email=email,
        item_ids=item_ids,
        requested_by=requested_by,
        via=via,
        give_up_at=time.monotonic() + wait_seconds,
    )
    return await after_commit(tools, erased, busy, full_purge=full_purge)


async def after_commit(
    tools: ErasureTools, erased: list[ErasedItem], busy: Sequence[str], *, full_purge: bool
) -> ErasureReport:
    """What follows a committed erasure: caches, files, Slack."""
    ids = [item.item_id for item in erased]
    forget_edits(tools.sessions, ids)
    forget_masks()
    if tools.classifier is not None:
        tools.classifier.forget_cached()
    storage = await purge_erased(tools.engine, full=full_purge)
    slack = SlackRewrite()
    if tools.client is not None and erased:
        slack = await rewrite_messages(tools.client, erased)
    log.info("erasure done", items=len(ids), busy=len(busy), slack_failures=len(slack.failures))
    return ErasureReport(tuple(ids), tuple(busy), storage, slack)
