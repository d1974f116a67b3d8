"""Earned autonomy's evidence in the database: outcomes per bucket, bucket pins and resets (the
plain reads of a bucket's state are ``bot.store.autonomy_buckets``).

Audit rows here are bucket events: they name the item in their detail (``item``) rather than
in ``item_id``, so an item's own trail stays the story of that item.

Outcomes are *derived* from what the review flow already writes (the decision row, the item's
state, its AI and approved versions) rather than hooked into it: ``sync_review_outcomes`` finds
reviewed items that have no outcome yet and records one. It is idempotent (one outcome per item
and source, enforced by a unique constraint), so the route step, the execution step and the
commands can all call it; whichever runs first after a human decides records it.

A revoking outcome (a reject, a material edit, a 👎 spot check) moves the bucket's ``reset_at``
to its time: evidence counts only outcomes after it, so trust has to be earned again from zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store import audit
from bot.store.autonomy_buckets import bucket_row, load_bucket_state
from bot.store.column_types import utcnow
from bot.store.database import SessionFactory, one_round_trip, transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import AutonomyBucket, AutonomyOutcome, Decision, Item
from policies.autonomy import (
    AutonomyPolicy,
    BucketState,
    Pin,
    ReviewOutcome,
    is_material_edit,
    revokes,
)

REVIEW = "review"
SPOT_CHECK = "spot_check"
SYNC_BATCH = 500
# Catch-ups run every few seconds; a decision older than this that was never counted (the
# service was down for a week) is left out rather than scanning every item ever decided.
SYNC_LOOKBACK = timedelta(days=7)

_DECIDED_STATES = [
    ItemState.APPROVED,
    ItemState.EXECUTING,
    ItemState.EXECUTED,
    ItemState.FAILED,
    ItemState.REJECTED,
    ItemState.EXPIRED,
]


async def _ensure_bucket(session: AsyncSession, key: str) -> AutonomyBucket:
    row = await bucket_row(session, key)
    if row is None:
        row = AutonomyBucket(key=key, updated_at=utcnow())
        session.add(row)
        await session.flush()
    return row


@dataclass(frozen=True)
class Revocation:
    """A bucket that was trusted (by evidence or by a lead's allow pin) lost its trust."""

    bucket: str
    item_id: str
    why: str
    actor: str
    # The lead whose allow pin this revocation cleared (a human's no outranks a standing yes).
    pin_cleared_of: str | None = None


async def record_outcome(
    session: AsyncSession,
    *,
    item_id: str,
    bucket: str,
    outcome: ReviewOutcome,
    material: bool,
    source: str,
    actor: str,
    at: datetime,
    policy: AutonomyPolicy,
) -> tuple[bool, Revocation | None]:
    """Insert one outcome (once per item and source) and apply a revocation it causes.

    Returns whether it was inserted, and the revocation when a trusted bucket lost its trust.
    """
    existing = (
        await session.execute(
            select(col(AutonomyOutcome.id)).where(
                and_(col(AutonomyOutcome.item_id) == item_id, col(AutonomyOutcome.source) == source)
            )
        )
    ).first()
    if existing is not None:
        return False, None
    before = await load_bucket_state(session, bucket, policy)
    session.add(
        AutonomyOutcome(
            item_id=item_id,
            bucket=bucket,
            outcome=outcome.value,
            material=material,
            source=source,
            actor=actor,
            at=at,
        )
    )
    await session.flush()
    await audit.record(
        session,
        "autonomy_outcome",
        item=item_id,
        actor=actor,
        bucket=bucket,
        outcome=outcome.value,
        material=material,
        source=source,
    )
    if not revokes(outcome, material_edit=material):
        return True, None
    row = await _ensure_bucket(session, bucket)
    was_trusted = before.trusted(policy)
    why = _revoke_why(outcome, source)
    row.reset_at = at
    row.reset_reason = f"{why} on `{item_id}`"
    pin_cleared_of = None
    if row.pin == Pin.ALLOW:
        pin_cleared_of = row.pinned_by or "a lead"
        row.pin, row.pinned_by, row.pinned_at = Pin.NONE.value, actor, at
    row.trusted = False
    row.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        "autonomy_reset",
        item=item_id,
        actor=actor,
        bucket=bucket,
        why=why,
        was_trusted=was_trusted,
        allow_pin_cleared=pin_cleared_of is not None,
    )
    revocation = Revocation(bucket, item_id, why, actor, pin_cleared_of)
    return True, revocation if was_trusted else None


def _revoke_why(outcome: ReviewOutcome, source: str) -> str:
    if source == SPOT_CHECK:
        return "a 👎 spot check"
    if outcome == ReviewOutcome.REJECTED:
        return "a reject"
    return "a material edit"


def review_outcome_of(item: Item, decision: Decision | None) -> tuple[ReviewOutcome, bool] | None:
    """What the human did with a reviewed item, and whether an edit was material; ``None`` when
    no human decided (e.g. a failure before anyone looked)."""
    if item.state == ItemState.EXPIRED:
        return ReviewOutcome.EXPIRED, False
    if decision is None or decision.actor == audit.AUTO:
        return None
    if decision.outcome == DecisionOutcome.REJECTED:
        return ReviewOutcome.REJECTED, False
    if decision.outcome != DecisionOutcome.APPROVED:
        return None
    if not item.edited_by:
        return ReviewOutcome.APPROVED_UNCHANGED, False
    material = is_material_edit(
        original_reply=item.ai_reply if item.ai_reply is not None else item.draft_reply,
        edited_reply=item.approved_reply if item.approved_reply is not None else item.draft_reply,
        original_action=item.ai_action if item.ai_action is not None else item.proposed_action,
        edited_action=item.approved_action or item.proposed_action,
    )
    return ReviewOutcome.APPROVED_AFTER_EDIT, material


async def _unrecorded_reviews(sessions: SessionFactory) -> Sequence[tuple[Item, Decision | None]]:
    since = utcnow() - SYNC_LOOKBACK
    async with one_round_trip(sessions) as session:
        recorded = select(col(AutonomyOutcome.item_id)).where(col(AutonomyOutcome.source) == REVIEW)
        query = (
            select(Item, Decision)
            .outerjoin(Decision, col(Decision.id) == col(Item.decision_id))
            .where(
                col(Item.autonomy_bucket).is_not(None),
                col(Item.review_started_at).is_not(None),
                col(Item.state).in_(_DECIDED_STATES),
                col(Item.decided_at) >= since,
                col(Item.id).not_in(recorded),
            )
            .order_by(col(Item.decided_at))
            .limit(SYNC_BATCH)
        )
        rows = (await session.execute(query)).all()
        return [(row[0], row[1]) for row in rows]


async def sync_review_outcomes(
    sessions: SessionFactory, policy: AutonomyPolicy
) -> list[Revocation]:
    """Record an outcome for every reviewed item that has none yet; return revocations."""
    revocations: list[Revocation] = []
    for item, decision in await _unrecorded_reviews(sessions):
        found = review_outcome_of(item, decision)
        if found is None or item.autonomy_bucket is None:
            continue
        outcome, material = found
        try:
            async with transaction(sessions) as session:
                _, revoked = await record_outcome(
                    session,
                    item_id=item.id,
                    bucket=item.autonomy_bucket,
                    outcome=outcome,
                    material=material,
                    source=REVIEW,
                    actor=decision.actor if decision is not None else audit.SYSTEM,
                    at=item.decided_at or item.updated_at,
                    policy=policy,
                )
        except IntegrityError:
            continue  # another worker recorded it first
        if revoked is not None:
            revocations.append(revoked)
    return revocations


async def set_pin(
    sessions: SessionFactory, *, bucket: str, pin: Pin, actor: str
) -> tuple[Pin, Pin]:
    """A lead pins a bucket (or unpins with ``Pin.NONE``); audited old → new."""
    async with transaction(sessions) as session:
        # Chain first, then the bucket row, as ``record_outcome`` takes them: never a deadlock.
        await audit.lock_chain(session)
        row = await _ensure_bucket(session, bucket)
        old = Pin(row.pin)
        if old != pin:
            row.pin, row.pinned_by, row.pinned_at = pin.value, actor, utcnow()
            row.updated_at = utcnow()
            await session.flush()
            await audit.record(
                session, "autonomy_pinned", actor=actor, bucket=bucket, old=old.value, new=pin.value
            )
    return old, pin


async def mark_trusted(sessions: SessionFactory, bucket: str, *, why: str) -> bool:
    """Remember that a bucket now auto-executes; True the first time (so it is announced once)."""
    try:
        async with transaction(sessions) as session:
            await audit.lock_chain(session)  # the same order as record_outcome
            row = await _ensure_bucket(session, bucket)
            if row.trusted:
                return False
            row.trusted, row.updated_at = True, utcnow()
            await session.flush()
            await audit.record(session, "autonomy_earned", actor=audit.AUTO, bucket=bucket, why=why)
    except IntegrityError:
        return False  # another worker created the row at that moment; the next item retries
    return True


def revocation_text(revocation: Revocation) -> str:
    who = "" if revocation.actor in {audit.SYSTEM, audit.AUTO} else f" by <@{revocation.actor}>"
    return (
        f":warning: Autonomy revoked for `{revocation.bucket}` after {revocation.why}{who} "
        f"(item `{revocation.item_id}`). Its items go to review again until they earn it back; "
        "`/signoff autonomy` shows the evidence."
        + (
            f" The allow pin{_pinned_by(revocation.pin_cleared_of)} was cleared with it; "
            f"`/signoff autonomy pin {revocation.bucket} allow` sets it again."
            if revocation.pin_cleared_of is not None
            else ""
        )
    )


def _pinned_by(lead: str) -> str:
    return f" set by <@{lead}>" if lead.startswith(("U", "W")) else ""


def evidence_summary(state: BucketState, policy: AutonomyPolicy) -> dict[str, Any]:
    ev = state.evidence
    return {
        "approved_unchanged": ev.approved_unchanged,
        "approved_after_edit": ev.approved_after_edit,
        "rejected": ev.rejected,
        "expired": ev.expired,
        "reviews": ev.reviews,
        "lower_bound": round(ev.lower_bound, 4),
        "target": policy.target,
        "min_reviews": policy.min_reviews,
        "pin": state.pin.value,
    }
