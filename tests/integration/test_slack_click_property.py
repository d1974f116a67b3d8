"""Property: whatever random sequence of clicks random people make on one item (approve, approve
an old card, edit, reject, re-draft, retry; reviewers, leads, outsiders, the person who raised
it), with newer events arriving and the worker running in between, the item is executed at most
once, holds at most one decision, and the audit log has one row for every step that happened."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import col

from bot.lead_settings.registry import load_lead_settings
from bot.lead_settings.seed import seed_thresholds
from bot.pipeline.worker import Worker
from bot.review.approve import approve
from bot.review.edit import save_edit
from bot.review.redraft import redraft
from bot.review.reject import reject
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.retry import retry_failed
from bot.review.roster import Roles
from bot.runtime import Runtime, open_runtime
from bot.store.ingest import ingest
from bot.store.items import get_item
from bot.store.models import AuditEvent, Decision
from bot.tickets import TicketIn
from policies.reject_reasons import RejectReason
from tests.support.server_harness import LEAD, OUTSIDER, REVIEWER, REVIEWER_2, make_settings
from tests.support.ticket_factory import refund_ticket

RAISER = "U0RAISER"
REVIEWERS = frozenset({REVIEWER, REVIEWER_2, RAISER})
LEADS = frozenset({LEAD})
OPS = ["approve", "approve_old", "edit_up", "edit_down", "reject", "redraft", "retry", "newer"]
OPS += ["work"]
USERS = [REVIEWER, REVIEWER_2, LEAD, OUTSIDER, RAISER]
HUMAN_EVENTS = {
    "approved",
    "approval_recorded",
    "decision_refused",
    "approve_refused_stale",
    "edit_refused_stale",
    "rejected",
    "edited",
    "redrafted",
    "retry_requested",
}
EXPECTED: dict[tuple[str, ReviewStatus], tuple[str, ...]] = {
    ("approve", ReviewStatus.RECORDED): ("approved",),
    ("approve", ReviewStatus.WAITING): ("approval_recorded",),
    ("approve", ReviewStatus.STALE): ("approve_refused_stale",),
    ("edit", ReviewStatus.RECORDED): ("edited", "approved"),
    ("edit", ReviewStatus.WAITING): ("edited", "approval_recorded"),
    ("edit", ReviewStatus.STALE): ("edit_refused_stale",),
    ("reject", ReviewStatus.RECORDED): ("rejected",),
    ("redraft", ReviewStatus.RECORDED): ("redrafted",),
    ("retry", ReviewStatus.RECORDED): ("retry_requested",),
}

clicks = st.lists(st.tuples(st.sampled_from(OPS), st.sampled_from(USERS)), max_size=12)


def _roles(user: str) -> Roles:
    return Roles(user_id=user, reviewers=REVIEWERS, leads=LEADS)


async def _click(rt: Runtime, item_id: str, op: str, user: str) -> tuple[str, ReviewResult]:
    sessions, roles = rt.sessions, _roles(user)
    policy = await load_lead_settings(sessions, rt.settings)
    item = await get_item(sessions, item_id)
    assert item is not None
    if op in {"approve", "approve_old"}:
        version = item.draft_version if op == "approve" else item.draft_version - 1
        return "approve", await approve(
            sessions, item_id=item_id, roles=roles, policy=policy, version=version
        )
    if op in {"edit_up", "edit_down"}:
        amount = Decimal("5000.00") if op == "edit_up" else Decimal("20.00")
        return "edit", await save_edit(
            sessions,
            item_id=item_id,
            roles=roles,
            policy=policy,
            version=item.draft_version,
            reply=f"Edited by {user}",
            action={"kind": "refund", "amount": str(amount), "currency": "USD"},
            summary=f"refund → {amount}",
        )
    if op == "reject":
        return "reject", await reject(
            sessions, item_id=item_id, roles=roles, reason=RejectReason.WRONG_FACTS, detail="x"
        )
    if op == "redraft":
        return "redraft", await redraft(sessions, item_id=item_id, roles=roles)
    return "retry", await retry_failed(sessions, item_id=item_id, roles=roles)


async def _scenario(url: str, steps: list[tuple[str, str]]) -> None:
    config = make_settings(database_url=url, reviewers=REVIEWERS, leads=LEADS)
    async with open_runtime(config) as rt:
        await seed_thresholds(rt.sessions, config)
        worker = Worker(rt)
        thread = f"conv-{uuid.uuid4().hex}"
        ticket: dict[str, Any] = refund_ticket(
            "300.00", metadata={"thread_id": thread, "slack_user_id": RAISER}
        )
        item_id = (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id
        await worker.drain()
        expected: Counter[str] = Counter()
        for op, user in steps:
            if op == "work":
                await worker.drain()
                continue
            if op == "newer":
                newer = refund_ticket("300.00", metadata={"thread_id": thread})
                await ingest(rt.sessions, "generic", TicketIn.model_validate(newer))
                continue
            kind, result = await _click(rt, item_id, op, user)
            if result.status == ReviewStatus.NOT_ALLOWED:
                expected["decision_refused"] += 1
            else:
                expected.update(EXPECTED.get((kind, result.status), ()))
        await worker.drain()
        async with rt.sessions() as session:
            events = Counter(
                (
                    await session.execute(
                        select(col(AuditEvent.event)).where(col(AuditEvent.item_id) == item_id)
                    )
                )
                .scalars()
                .all()
            )
            decisions = (
                await session.execute(select(func.count()).where(col(Decision.item_id) == item_id))
            ).scalar_one()
        item = await get_item(rt.sessions, item_id)
        assert item is not None
    human = Counter({event: n for event, n in events.items() if event in HUMAN_EVENTS})
    assert human == expected
    assert events["executed"] <= 1 and events["execution_started"] <= 1
    assert decisions <= 1
    assert decisions == (1 if item.decision_id is not None else 0)
    if events["approved"]:
        assert item.state == "executed" and events["executed"] == 1
        assert item.approved_action == item.proposed_action
        assert len(set(item.approvals)) >= item.approvals_required
        assert RAISER not in item.approvals and OUTSIDER not in item.approvals
    elif events["rejected"]:
        assert item.state == "rejected" and events["executed"] == 0
    else:
        assert item.state == "pending_review" and events["executed"] == 0


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=clicks)
def test_random_clicks_execute_at_most_once_and_every_step_is_audited(
    database_url: str, steps: list[tuple[str, str]]
) -> None:
    # One database per backend; every example works on its own new item in it.
    asyncio.run(_scenario(database_url, steps))
