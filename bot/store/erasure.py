"""Erasing a customer's personal data from the database, one locked item at a time.

What an item keeps: its id, source and the source's ticket id (a pseudonymous reference the
source system resolves, and what stops a re-delivery from becoming a new item), kind, category,
risk, the route and policy, the decision (who, when, outcome, reason code), quorum, autonomy
bucket, amounts and currencies of its actions, token counts, timestamps and state. Everything
the customer wrote or that was written to or about them goes: subject, body, name, e-mail, tier,
metadata (but ``slack_user_id``, the colleague who raised it, which the four-eyes rule needs),
every draft, approved and executed text, free-text action values, reasons typed by people, the
LLM's redacted input and raw answer, vendor errors and results. The item's audit rows lose their
personal fields (``bot.store.audit_erasure``), its decisions their typed reasons, and its work in
the interaction inbox its payload, and its auto-money reservation the customer it was for.

Race with execution: the item row is locked first (as every review command does). An item not
yet sending moves to ``erased`` and can never execute (``begin_send`` and ``authorise`` check
``erased_at``); an item whose send is in flight is reported busy, and the caller waits for its
outcome and erases it after (executed, then erased): never an execution of erased content.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Text, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.audit_erasure import erase_audit_content
from bot.store.column_types import utcnow
from bot.store.database import changed_rows
from bot.store.item_states import TERMINAL_STATES, ItemState
from bot.store.items import lock_item, update_item
from bot.store.models import AuditEvent, AutoMoneyReservation, Decision, InboxEntry, Item
from bot.store.money_budget import release_money_budget

ERASED_TEXT = "[erased]"
ERASED_OUTCOME = "erased at the customer's request"
_ACTION_FACTS = frozenset({"kind", "amount", "currency", "field"})
_USAGE_FACTS = frozenset(
    {
        "model", "prompt_version", "prompt_sha256", "prompt_tokens", "completion_tokens",
        "cached_tokens", "latency_seconds", "cache_hit", "retries", "redactions",
        "example_item_ids",
    }
)  # fmt: skip
_EXTRA_FACTS = frozenset({"slack_user_id"})
# Where an item's posted messages are recorded (channel and ts are facts the audit keeps).
_POSTED_EVENTS = ("card_posted", "spot_check_posted")


class Busy(StrEnum):
    """The item's send is in flight: erase it once its outcome is recorded."""

    SENDING = "sending"


@dataclass(frozen=True)
class ErasedItem:
    """What the Slack side needs to rewrite the messages of an erased item (no personal data)."""

    item_id: str
    state: str
    category: str | None
    risk_level: str | None
    route_policy: str | None
    decided_at: datetime | None
    decided_by: str | None
    outcome: str | None
    # (channel, ts) of every card and spot check posted for it, the current card first.
    messages: tuple[tuple[str, str], ...]


def _facts(value: Any, allowed: frozenset[str]) -> Any:
    if not isinstance(value, dict):
        return None
    return {k: v for k, v in value.items() if k in allowed}


def scrubbed_values(item: Item) -> dict[str, Any]:
    """The item's columns with the customer's data erased and the facts kept."""
    raised = _facts(item.extra, _EXTRA_FACTS) or {}
    return {
        "subject": ERASED_TEXT,
        "body": ERASED_TEXT,
        "customer_name": ERASED_TEXT,
        "customer_email": ERASED_TEXT,
        "customer_tier": None,
        "extra": raised,
        "requested_action": _facts(item.requested_action, _ACTION_FACTS),
        "proposed_action": _facts(item.proposed_action, _ACTION_FACTS),
        "ai_action": _facts(item.ai_action, _ACTION_FACTS),
        "approved_action": _facts(item.approved_action, _ACTION_FACTS),
        "executed_action": _facts(item.executed_action, _ACTION_FACTS),
        "llm_usage": _facts(item.llm_usage, _USAGE_FACTS),
        "reasons": [],
        "assessment_error": None,
        "draft_reply": None,
        "ai_reply": None,
        "approved_reply": None,
        "executed_reply": None,
        "edit_summary": None,
        "route_why": None,
        "autonomy_note": None,
        "stale_reason": None,
        "last_error": None,
        "execution_result": None,
    }


async def item_ids_of_customer(session: AsyncSession, email: str) -> list[str]:
    """Every item of the customer with this e-mail address (case-insensitive), oldest first."""
    rows = await session.execute(
        select(col(Item.id))
        .where(func.lower(col(Item.customer_email)) == email.strip().lower())
        .order_by(col(Item.created_at))
    )
    return list(rows.scalars())


async def _posted_messages(session: AsyncSession, item: Item) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    if item.slack_channel and item.slack_ts:
        found.append((item.slack_channel, item.slack_ts))
    rows = await session.execute(
        select(col(AuditEvent.detail))
        .where(col(AuditEvent.item_id) == item.id, col(AuditEvent.event).in_(_POSTED_EVENTS))
        .order_by(col(AuditEvent.id))
    )
    for detail in rows.scalars():
        pair = (str(detail.get("channel") or ""), str(detail.get("ts") or ""))
        if all(pair) and pair not in found:
            found.append(pair)
    return tuple(found)


async def erase_item(
    session: AsyncSession, item_id: str, now: datetime
) -> ErasedItem | Busy | None:
    """Lock and erase one item (its audit rows are the caller's, in the same transaction:
    ``erase_audit_content``). ``None`` when there is no such item."""
    item = await lock_item(session, item_id)
    if item is None:
        return None
    if item.state == ItemState.EXECUTING and item.send_started_at is not None:
        return Busy.SENDING
    decision = await session.get(Decision, item.decision_id) if item.decision_id else None
    values = scrubbed_values(item)
    state = item.state
    if state not in TERMINAL_STATES:
        state = ItemState.ERASED
        values.update(
            state=state,
            claimed_by=None,
            claimed_until=None,
            next_reminder_at=None,
            escalate_at=None,
            expires_at=None,
            next_attempt_at=None,
        )
    await update_item(session, item_id, erased_at=item.erased_at or now, updated_at=now, **values)
    if state == ItemState.ERASED:
        await release_money_budget(session, item_id, now)  # it will never be spent
    # The budget's reservation keeps its amount and time, not whose it was.
    await changed_rows(
        session,
        update(AutoMoneyReservation)
        .where(col(AutoMoneyReservation.item_id) == item_id)
        .values(customer=f"erased:{item_id}"),
    )
    await changed_rows(
        session, update(Decision).where(col(Decision.item_id) == item_id).values(reason=None)
    )
    return ErasedItem(
        item_id=item.id,
        state=str(state),
        category=item.category,
        risk_level=item.risk_level,
        route_policy=item.route_policy,
        decided_at=item.decided_at,
        decided_by=decision.actor if decision is not None else None,
        outcome=decision.outcome if decision is not None else None,
        messages=await _posted_messages(session, item),
    )


async def scrub_inbox(
    session: AsyncSession, item_ids: Collection[str], needles: Sequence[str], now: datetime
) -> int:
    """Empty the payload of the inbox rows of these items (and mark their undone work done: it
    would act on an erased item), and of any row whose payload names the customer (the
    ``/signoff erase`` command itself). Returns rows changed."""
    lanes = [f"item:{item_id}" for item_id in item_ids]
    payload_text = func.lower(cast(col(InboxEntry.payload), Text))
    dialect = session.bind.dialect.name
    finder = func.strpos if dialect == "postgresql" else func.instr
    mentions = [finder(payload_text, needle.lower()) > 0 for needle in needles if needle]
    changed = 0
    if lanes:
        changed += await changed_rows(
            session,
            update(InboxEntry)
            .where(col(InboxEntry.lane).in_(lanes))
            .values(
                payload={},
                done_at=func.coalesce(col(InboxEntry.done_at), now),
                outcome=ERASED_OUTCOME,
            ),
        )
    if mentions:
        changed += await changed_rows(
            session,
            update(InboxEntry).where(or_(*mentions)).values(payload={}, outcome=ERASED_OUTCOME),
        )
    return changed


async def erase_items(
    session: AsyncSession, item_ids: Sequence[str], *, needles: Sequence[str] = ()
) -> tuple[list[ErasedItem], list[str]]:
    """Erase ``item_ids`` in this transaction, locking them in id order (two erasures never
    deadlock). Returns the erased items and the ids still sending (left untouched)."""
    now = utcnow()
    erased: list[ErasedItem] = []
    busy: list[str] = []
    for item_id in sorted(set(item_ids)):
        outcome = await erase_item(session, item_id, now)
        if isinstance(outcome, Busy):
            busy.append(item_id)
        elif outcome is not None:
            erased.append(outcome)
    done = [e.item_id for e in erased]
    await erase_audit_content(session, done)
    await scrub_inbox(session, done, needles, now)
    return erased, busy
