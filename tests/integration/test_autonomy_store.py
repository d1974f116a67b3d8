"""Earned autonomy's evidence in the database: outcomes derived from what reviewers did (once
each), revocation on a reject or a material edit but not on an expiry, lead-set policy values,
and the 30-day threshold replay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.autonomy.evidence import (
    review_outcome_of,
    revocation_text,
    sync_review_outcomes,
)
from bot.autonomy.routing import WOULD_HAVE_AUTO_APPROVED, catch_up, route_with_autonomy
from bot.lead_settings.autonomy_settings import load_learning_settings, parse_policy_value
from bot.lead_settings.dry_run import replay, summary_lines
from bot.runtime import Runtime, open_runtime
from bot.store import audit
from bot.store.autonomy_buckets import load_bucket_state
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.ingest import new_item_id
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import AutonomyBucket, AutonomyOutcome, Decision, Item, ThresholdSetting
from policies.autonomy import AutonomyPolicy, Pin, ReviewOutcome
from policies.risk_levels import RiskLevel
from policies.routing import Route, RouteDecision
from policies.thresholds import Thresholds
from tests.support.server_harness import LEAD, REVIEWER, make_settings
from tests.support.stored_items import stored_item

BUCKET = "billing/refund/low/10-25"
POLICY = AutonomyPolicy(min_reviews=3, target=0.4, sample_share=0.0)
REPLY = "Hi Maria, I have refunded 20.00 USD to your card; it arrives within five days."
ACTION = {"kind": "refund", "amount": "20.00", "currency": "USD"}


@pytest.fixture
async def rt(database_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(
        database_url=database_url,
        reviewers=REVIEWER,
        leads=LEAD,
        autonomy_min_reviews=3,
        autonomy_target=0.4,
        autonomy_sample=0.0,
    )
    async with open_runtime(settings) as runtime:
        yield runtime


def _reviewed_refund(**values: Any) -> Item:
    """A low-risk billing refund of ``BUCKET`` a reviewer decided just now, ten minutes after
    opening it; ``values`` override any of it."""
    now = utcnow()
    fields: dict[str, Any] = {
        "state": ItemState.EXECUTED,
        "created_at": now - timedelta(minutes=11),
        "subject": "Refund",
        "body": "Please refund the duplicate charge of 20.00 USD.",
        "customer_name": "Maria Lopez",
        "customer_email": "maria@example.com",
        "category": "billing",
        "risk_level": "low",
        "draft_reply": REPLY,
        "proposed_action": ACTION,
        "autonomy_bucket": BUCKET,
        "review_started_at": now - timedelta(minutes=10),
        "decided_at": now,
        "updated_at": now,
    }
    return stored_item(**{**fields, **values})


async def _reviewed(
    rt: Runtime, outcome: DecisionOutcome | None, *, at: datetime | None = None, **values: Any
) -> str:
    """One item a human decided (``None``: expired), as the review flow leaves it."""
    item = _reviewed_refund(**values, **({"decided_at": at} if at else {}))
    async with transaction(rt.sessions) as session:
        session.add(item)
        await session.flush()
        if outcome is not None:
            decision = Decision(
                item_id=item.id, outcome=outcome, actor=REVIEWER, created_at=utcnow()
            )
            session.add(decision)
            await session.flush()
            item.decision_id = decision.id
    return item.id


def test_outcome_of_each_kind_of_decision() -> None:
    def decision(outcome: DecisionOutcome, actor: str = REVIEWER) -> Decision:
        return Decision(item_id="i", outcome=outcome, actor=actor, created_at=utcnow())

    approved = decision(DecisionOutcome.APPROVED)
    assert review_outcome_of(_reviewed_refund(), approved) == (
        ReviewOutcome.APPROVED_UNCHANGED,
        False,
    )
    typo = REPLY.replace("five", "5")
    minor = _reviewed_refund(
        edited_by=REVIEWER, ai_reply=REPLY, approved_reply=typo, ai_action=ACTION
    )
    assert review_outcome_of(minor, approved) == (ReviewOutcome.APPROVED_AFTER_EDIT, False)
    amount = _reviewed_refund(
        edited_by=REVIEWER,
        ai_reply=REPLY,
        approved_reply=REPLY,
        ai_action=ACTION,
        approved_action={**ACTION, "amount": "15.00"},
    )
    assert review_outcome_of(amount, approved) == (ReviewOutcome.APPROVED_AFTER_EDIT, True)
    rewritten = _reviewed_refund(
        edited_by=REVIEWER, ai_reply=REPLY, approved_reply="We cannot refund this order."
    )
    assert review_outcome_of(rewritten, approved) == (ReviewOutcome.APPROVED_AFTER_EDIT, True)
    rejected = _reviewed_refund(state=ItemState.REJECTED)
    assert review_outcome_of(rejected, decision(DecisionOutcome.REJECTED)) == (
        ReviewOutcome.REJECTED,
        False,
    )
    assert review_outcome_of(_reviewed_refund(state=ItemState.EXPIRED), None) == (
        ReviewOutcome.EXPIRED,
        False,
    )
    auto = decision(DecisionOutcome.AUTO_APPROVED, actor=audit.AUTO)
    assert review_outcome_of(_reviewed_refund(), auto) is None


async def test_sync_records_each_review_once_and_revokes_a_trusted_bucket(rt: Runtime) -> None:
    start = utcnow() - timedelta(minutes=5)
    for n in range(3):
        await _reviewed(rt, DecisionOutcome.APPROVED, at=start + timedelta(seconds=n))
    assert await sync_review_outcomes(rt.sessions, POLICY) == []
    assert await sync_review_outcomes(rt.sessions, POLICY) == []  # idempotent
    async with rt.sessions() as session:
        state = await load_bucket_state(session, BUCKET, POLICY)
        count = (await session.execute(select(func.count()).select_from(AutonomyOutcome))).one()
    assert state.evidence.approved_unchanged == 3 and count[0] == 3
    assert state.trusted(POLICY)

    # An expiry neither earns nor costs trust.
    await _reviewed(rt, None, state=ItemState.EXPIRED, at=start + timedelta(seconds=10))
    assert await sync_review_outcomes(rt.sessions, POLICY) == []
    async with rt.sessions() as session:
        state = await load_bucket_state(session, BUCKET, POLICY)
    assert state.trusted(POLICY) and state.evidence.expired == 1

    rejected = await _reviewed(
        rt,
        DecisionOutcome.REJECTED,
        state=ItemState.REJECTED,
        at=start + timedelta(seconds=20),
    )
    revoked = await sync_review_outcomes(rt.sessions, POLICY)
    assert [(r.bucket, r.item_id, r.why) for r in revoked] == [(BUCKET, rejected, "a reject")]
    async with rt.sessions() as session:
        state = await load_bucket_state(session, BUCKET, POLICY)
        row = await session.get(AutonomyBucket, BUCKET)
    assert state.evidence.reviews == 0 and not state.trusted(POLICY)
    assert row is not None and row.reset_reason == f"a reject on `{rejected}`"


async def test_a_material_edit_revokes_and_clears_an_allow_pin(rt: Runtime) -> None:
    async with transaction(rt.sessions) as session:
        session.add(
            AutonomyBucket(key=BUCKET, pin=Pin.ALLOW.value, pinned_by=LEAD, updated_at=utcnow())
        )
    minor = await _reviewed(
        rt,
        DecisionOutcome.APPROVED,
        edited_by=REVIEWER,
        ai_reply=REPLY,
        approved_reply=REPLY + " Thanks!",
        ai_action=ACTION,
        approved_action=ACTION,
    )
    assert await sync_review_outcomes(rt.sessions, POLICY) == []
    material = await _reviewed(
        rt,
        DecisionOutcome.APPROVED,
        edited_by=REVIEWER,
        ai_reply=REPLY,
        approved_reply=REPLY,
        ai_action=ACTION,
        approved_action={**ACTION, "amount": "12.00"},
    )
    revoked = await sync_review_outcomes(rt.sessions, POLICY)
    assert [r.item_id for r in revoked] == [material]
    assert revoked[0].why == "a material edit" and revoked[0].pin_cleared_of == LEAD
    # The leads are told the pin went with the trust, and how to set it again.
    told = revocation_text(revoked[0])
    assert f"The allow pin set by <@{LEAD}> was cleared" in told
    assert f"`/signoff autonomy pin {BUCKET} allow`" in told
    async with rt.sessions() as session:
        row = await session.get(AutonomyBucket, BUCKET)
        rows = (
            await session.execute(
                select(col(AutonomyOutcome.item_id), col(AutonomyOutcome.material))
            )
        ).all()
    outcomes = {str(item_id): bool(material) for item_id, material in rows}
    assert row is not None and row.pin == Pin.NONE.value
    assert outcomes == {minor: False, material: True}


async def test_route_with_autonomy_catches_up_and_tells_the_leads(rt: Runtime) -> None:
    base = RouteDecision(Route.REVIEW, RiskLevel.LOW, "risk_threshold", "test")

    async def route() -> Any:
        return await route_with_autonomy(
            rt,
            item_id=new_item_id(),
            category="billing",
            action_kind="refund",
            amount=None,
            base=base,
            floor=RiskLevel.LOW,
        )

    shadow = await route()
    assert shadow.bucket == "billing/refund/low/no-amount"
    assert shadow.decision.would_auto and shadow.note is not None
    assert shadow.note.startswith(WOULD_HAVE_AUTO_APPROVED)
    assert "0 of 0 recent reviews" in shadow.note
    for _ in range(3):
        await _reviewed(rt, DecisionOutcome.APPROVED, autonomy_bucket=shadow.bucket)
    trusted = await route()
    assert trusted.decision.route == Route.AUTO and trusted.note is None
    assert await catch_up(rt) == []


async def test_leads_override_the_policy_and_bad_values_fall_back(rt: Runtime) -> None:
    assert parse_policy_value("autonomy_target", "90%") == "0.9"
    assert parse_policy_value("autonomy_min_reviews", "12") == "12"
    for key, raw in (
        ("autonomy_target", "1"),
        ("autonomy_sample", "-0.1"),
        ("autonomy_min_reviews", "0"),
        ("autonomy_min_reviews", "x"),
        ("nonsense", "1"),
    ):
        with pytest.raises(ValueError):
            parse_policy_value(key, raw)
    async with transaction(rt.sessions) as session:
        for key, value in (("autonomy_target", "0.8"), ("spot_check_share", "oops")):
            session.add(
                ThresholdSetting(key=key, value=value, updated_by=LEAD, updated_at=utcnow())
            )
    learning = await load_learning_settings(rt.sessions, rt.settings)
    assert learning.policy.target == 0.8 and learning.policy.min_reviews == 3
    assert learning.spot_check_share == rt.settings.spot_check_share  # the bad value is ignored


async def test_replay_of_a_refund_limit_counts_what_humans_did(rt: Runtime) -> None:
    amounts = {"30.00": None, "80.00": DecisionOutcome.REJECTED, "120.00": DecisionOutcome.APPROVED}
    ids = {}
    for amount, outcome in amounts.items():
        action = {"kind": "refund", "amount": amount, "currency": "USD"}
        ids[amount] = await _reviewed(
            rt,
            outcome,
            state=ItemState.REJECTED if outcome == DecisionOutcome.REJECTED else ItemState.EXECUTED,
            proposed_action=action,
            requested_action=action,
            subject=f"Refund {amount}",
        )
        async with transaction(rt.sessions) as session:
            await audit.record(
                session, "assessed", item_id=ids[amount], risk_level="low", error=None
            )
    budget = Decimal("1000")  # budgets out of the way: this is about the refund limit
    before = Thresholds(refund_auto_limit=Decimal("50"), auto_money_per_customer=budget)
    after = Thresholds(refund_auto_limit=Decimal("100"), auto_money_per_customer=budget)
    table = await replay(rt.sessions, before=before, after=after, now=utcnow())
    cell = table["billing"]
    assert (cell.items, cell.auto_before, cell.auto_after, cell.newly_auto) == (3, 1, 2, 1)
    assert (cell.reviewed, cell.rejected, cell.edited) == (1, 1, 0)
    assert ids["80.00"] in cell.examples[0] and "rejected" in cell.examples[0]
    lines = summary_lines("refund_auto_limit", "50", "100", table)
    assert "2 would have been auto-executed (now 1)" in lines[0]
    assert "+1 auto (humans rejected 100% and edited 0% of the 1 they reviewed)" in lines[1]
    tighter = await replay(rt.sessions, before=after, after=before, now=utcnow())
    assert tighter["billing"].newly_review == 1
    assert summary_lines("quorum_amount", "500", "800", {})[0].startswith("`quorum_amount` does")


async def test_replay_of_a_budget_spends_it_oldest_first(rt: Runtime) -> None:
    action = {"kind": "refund", "amount": "15.00", "currency": "USD"}
    for n in range(4):
        item_id = await _reviewed(
            rt,
            DecisionOutcome.APPROVED,
            state=ItemState.EXECUTED,
            proposed_action=action,
            requested_action=action,
            subject=f"Refund {n}",
            created_at=utcnow() - timedelta(hours=4 - n),
        )
        async with transaction(rt.sessions) as session:
            await audit.record(session, "assessed", item_id=item_id, risk_level="low", error=None)
    before = Thresholds(auto_money_per_customer=Decimal("50"))
    after = Thresholds(auto_money_per_customer=Decimal("20"))
    table = await replay(rt.sessions, before=before, after=after, now=utcnow())
    cell = table["billing"]
    assert (cell.items, cell.auto_before, cell.auto_after, cell.newly_review) == (4, 3, 1, 2)
    lines = summary_lines("auto_money_per_customer", "50", "20", table)
    assert "1 would have been auto-executed (now 3)" in lines[0]


async def test_concurrent_catch_ups_record_each_outcome_once(rt: Runtime) -> None:
    start = utcnow() - timedelta(minutes=5)
    for n in range(4):
        await _reviewed(rt, DecisionOutcome.APPROVED, at=start + timedelta(seconds=n))
    rejected = await _reviewed(
        rt, DecisionOutcome.REJECTED, state=ItemState.REJECTED, at=start + timedelta(seconds=9)
    )
    results = await asyncio.gather(*(sync_review_outcomes(rt.sessions, POLICY) for _ in range(6)))
    revocations = [r for found in results for r in found]
    assert [r.item_id for r in revocations] == [rejected]  # told once, not six times
    async with rt.sessions() as session:
        per_item = (
            await session.execute(
                select(col(AutonomyOutcome.item_id), func.count()).group_by(
                    col(AutonomyOutcome.item_id)
                )
            )
        ).all()
    assert len(per_item) == 5 and all(count == 1 for _, count in per_item)
