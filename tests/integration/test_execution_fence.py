"""At most once, even when a worker is slow rather than dead.

A lease lets another worker finish an item after a crash; these tests show the other side of
that bargain: a live worker keeps its claim for as long as its executor takes, a worker that did
lose its claim never calls out, an attempt whose answer was lost is resent only through an
executor that de-duplicates, and attempts that never report back are bounded. Plus the checks
the executor's gate makes on the approval itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, select, update
from sqlmodel import col

from bot.actions.authorise import authorise
from bot.actions.sink import ActionRequest
from bot.errors import ExecutionRefusedError
from bot.pipeline.pipeline import Pipeline
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.store.column_types import utcnow
from bot.store.database import sync_url
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import claim, get_item
from bot.store.models import Decision, Item
from tests.support.approved_items import item_events, seed_approved
from tests.support.server_harness import LEAD, OUTSIDER, REVIEWER, REVIEWER_2, make_settings

LEASE = 0.6


class GatedExecutor:
    """Our own Executor protocol (not an SDK): holds each call until released, counting them."""

    name = "gated"

    def __init__(self, *, resends_safely: bool) -> None:
        self.resends_safely = resends_safely
        self.requests: list[ActionRequest] = []
        self.release = asyncio.Event()

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        self.requests.append(request)
        await self.release.wait()
        return {"sent": True}


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(
        database_url=database_url,
        reviewers=f"{REVIEWER},{REVIEWER_2}",
        leads=LEAD,
        lease_seconds=LEASE,
        max_execution_attempts=3,
        log_level="WARNING",
    )
    async with open_runtime(settings) as rt:
        yield rt


@pytest.fixture
def db(database_url: str) -> Any:
    engine = create_engine(sync_url(database_url))
    yield engine
    engine.dispose()


def _set(db: Engine, item_id: str, **values: Any) -> None:
    if not values:
        return
    with db.begin() as connection:
        connection.execute(update(Item).where(col(Item.id) == item_id).values(**values))


async def _successor_takes_over(
    rt: Runtime, db: Engine, resends_safely: bool, *, attempts: int
) -> tuple[Item, Item, GatedExecutor]:
    """An executing item whose earlier worker counted ``attempts`` and died 5 s after calling
    out; a successor claims and advances it. Returns the claimed item, the item after, and the
    executor (already released) the successor would call."""
    [item_id] = seed_approved(db, 1, state=ItemState.EXECUTING)
    _set(db, item_id, attempts=attempts, send_started_at=utcnow() - timedelta(seconds=5))
    executor = GatedExecutor(resends_safely=resends_safely)
    executor.release.set()
    rt.executor = executor
    [item] = await _claimed(rt, "successor")
    await Pipeline(rt, "successor").advance(item)
    after = await get_item(rt.sessions, item_id)
    assert after is not None
    return item, after, executor


async def _claimed(rt: Runtime, worker_id: str) -> list[Item]:
    return list(
        await claim(
            rt.sessions,
            worker_id,
            lease=timedelta(seconds=LEASE),
            limit=10,
            include_unposted=False,
        )
    )


async def test_a_slow_executor_keeps_its_claim_so_no_second_worker_sends(
    runtime: Runtime, db: Engine
) -> None:
    [item_id] = seed_approved(db, 1, state=ItemState.EXECUTING)
    executor = GatedExecutor(resends_safely=False)
    runtime.executor = executor
    [item] = await _claimed(runtime, "slow")
    first = asyncio.create_task(Pipeline(runtime, "slow").advance(item))
    other = Worker(runtime)
    taken_over = 0
    # Five leases long, another worker keeps trying to take the item over.
    for _ in range(15):
        await asyncio.sleep(LEASE / 3)
        taken_over += await other.run_once()
    executor.release.set()
    await first
    finished = await get_item(runtime.sessions, item_id)
    assert taken_over == 0
    assert len(executor.requests) == 1
    assert finished is not None and finished.state == ItemState.EXECUTED
    assert finished.attempts == 1 and finished.send_started_at is None
    assert item_events(db, item_id).count("executed") == 1


async def test_a_worker_that_lost_its_claim_never_calls_out(runtime: Runtime, db: Engine) -> None:
    [item_id] = seed_approved(db, 1, state=ItemState.EXECUTING)
    executor = GatedExecutor(resends_safely=True)
    executor.release.set()
    runtime.executor = executor
    [item] = await _claimed(runtime, "stalled")
    # It stalled past its lease and another worker took the item over.
    _set(db, item_id, claimed_by="successor", claimed_until=utcnow() + timedelta(seconds=60))
    await Pipeline(runtime, "stalled").advance(item)
    after = await get_item(runtime.sessions, item_id)
    assert executor.requests == []
    assert after is not None and after.state == ItemState.EXECUTING
    assert after.claimed_by == "successor" and after.attempts == 0
    assert "execution_attempt" not in item_events(db, item_id)


@pytest.mark.parametrize("resends_safely", [False, True])
async def test_a_cut_off_attempt_is_resent_only_where_the_far_side_deduplicates(
    runtime: Runtime, db: Engine, resends_safely: bool
) -> None:
    # A worker counted an attempt, called out and died before hearing back.
    item, after, executor = await _successor_takes_over(runtime, db, resends_safely, attempts=1)
    assert after.send_started_at is None
    if resends_safely:
        [request] = executor.requests
        assert request.idempotency_key == item.idempotency_key
        assert after.state == ItemState.EXECUTED and after.attempts == 2
    else:
        assert executor.requests == []
        assert after.state == ItemState.FAILED and after.attempts == 1
        assert after.last_error is not None
        assert after.last_error.startswith("outcome unknown: an earlier attempt was cut off")


async def test_attempts_that_never_report_back_are_bounded(runtime: Runtime, db: Engine) -> None:
    """An item that kills its worker on every attempt is not sent forever."""
    _, after, executor = await _successor_takes_over(runtime, db, True, attempts=3)
    assert executor.requests == []
    assert after.state == ItemState.FAILED
    assert after.last_error == "gave up after 3 attempts with no recorded outcome"


# --- The gate's checks on the approval ------------------------------------------------------


def _human_approval(db: Engine, item_id: str, actor: str, **values: Any) -> None:
    """Turn a seeded auto-approval into a human one with the given item columns."""
    with db.begin() as connection:
        decision_id = connection.execute(
            select(col(Item.decision_id)).where(col(Item.id) == item_id)
        ).scalar_one()
        connection.execute(
            update(Decision)
            .where(col(Decision.id) == decision_id)
            .values(outcome=DecisionOutcome.APPROVED, actor=actor, policy=None)
        )
    _set(
        db,
        item_id,
        approved_reply="The approved reply.",
        approved_action={"kind": "reply"},
        approvals=[actor],
        **values,
    )


async def _authorise(rt: Runtime, item_id: str) -> ActionRequest:
    item = await get_item(rt.sessions, item_id)
    assert item is not None
    async with rt.sessions() as session:
        return await authorise(
            session,
            item,
            reviewers=frozenset({REVIEWER, REVIEWER_2}),
            leads=frozenset({LEAD}),
        )


async def test_the_gate_executes_the_approved_snapshot_not_the_working_copy(
    runtime: Runtime, db: Engine
) -> None:
    [item_id] = seed_approved(db, 1, state=ItemState.EXECUTING)
    _human_approval(db, item_id, REVIEWER)
    # Something changed the working copy after the approval.
    _set(db, item_id, draft_reply="Changed later", proposed_action={"kind": "credit"})
    request = await _authorise(runtime, item_id)
    assert request.reply_text == "The approved reply."
    assert request.action == {"kind": "reply"}
    assert request.approved_by == REVIEWER


@pytest.mark.parametrize(
    ("actor", "values", "refusal"),
    [
        (REVIEWER, {"approvals_required": 2}, "1 of 2 required approvals"),
        (REVIEWER, {"lead_required": True}, "a lead's approval is required"),
        (OUTSIDER, {}, f"{OUTSIDER} is not allowed to approve"),
        (REVIEWER, {"extra": {"slack_user_id": REVIEWER}}, "raised this item"),
        (REVIEWER, {"executed_at": utcnow()}, "already executed"),
        (REVIEWER, {"approved_action": None}, "no approved action"),
    ],
)
async def test_the_gate_refuses_an_approval_that_no_longer_holds(
    runtime: Runtime, db: Engine, actor: str, values: dict[str, Any], refusal: str
) -> None:
    [item_id] = seed_approved(db, 1, state=ItemState.EXECUTING)
    _human_approval(db, item_id, actor)
    _set(db, item_id, **values)
    with pytest.raises(ExecutionRefusedError, match=refusal):
        await _authorise(runtime, item_id)


async def test_the_gate_refuses_an_approval_given_after_the_item_expired(
    runtime: Runtime, db: Engine
) -> None:
    [item_id] = seed_approved(db, 1, state=ItemState.EXECUTING)
    _human_approval(db, item_id, REVIEWER, expires_at=utcnow() - timedelta(hours=1))
    with pytest.raises(ExecutionRefusedError, match="after the item expired"):
        await _authorise(runtime, item_id)
