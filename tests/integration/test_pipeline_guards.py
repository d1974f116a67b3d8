"""Guards inside the pipeline: the executor refuses without a valid decision, a failing
classifier sends the item to a human, the sink's errors are classified, and the audit log
cannot be rewritten."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from bot.actions.authorise import authorise, idempotency_key
from bot.actions.sink import ActionRequest, GenericActionSink
from bot.assess.assessment import Assessment, Classifier
from bot.errors import (
    AssessmentUnavailableError,
    ExecutionRefusedError,
    PermanentError,
    RetryableError,
)
from bot.lead_settings.registry import load_lead_settings
from bot.lead_settings.seed import seed_thresholds
from bot.pipeline.execute_step import backoff_delay
from bot.pipeline.pipeline import Pipeline
from bot.review.approve import approve
from bot.review.outcomes import MERGED_PREFIX
from bot.review.result import ReviewStatus
from bot.review.roster import Roles
from bot.runtime import Runtime, open_runtime
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.ingest import ingest
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import claim, get_item, transition
from bot.store.models import Decision, Item
from bot.tickets import TicketIn
from tests.support.fakes.http_sink import HttpSink
from tests.support.server_harness import REVIEWER, make_settings
from tests.support.ticket_factory import password_ticket, refund_ticket


class FailingClassifier(Classifier):
    name = "failing"

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def assess(self, ticket: TicketIn) -> Assessment:
        raise self.error


async def _new_item(rt: Runtime, ticket: dict[str, object]) -> str:
    return (await ingest(rt.sessions, "generic", TicketIn.model_validate(ticket))).item_id


async def _advance_all(rt: Runtime) -> None:
    pipeline = Pipeline(rt, "w-test")
    for item in await claim(
        rt.sessions, "w-test", lease=timedelta(seconds=30), limit=50, include_unposted=False
    ):
        await pipeline.advance(item)


@pytest.mark.parametrize(
    "error",
    [AssessmentUnavailableError("timed out after 20s"), RuntimeError("classifier bug")],
)
async def test_classifier_failure_sends_even_a_harmless_ticket_to_a_human(
    runtime: Runtime, error: Exception
) -> None:
    runtime.classifier = FailingClassifier(error)
    item_id = await _new_item(runtime, password_ticket())
    await _advance_all(runtime)
    item = await get_item(runtime.sessions, item_id)
    assert item is not None
    assert item.state == ItemState.PENDING_REVIEW
    assert item.route_policy == "assessment_unavailable"
    assert item.reasons[0].startswith("AI assessment unavailable: ")
    assert item.decision_id is None


async def test_failed_assessment_keeps_the_requested_money_action_for_review(
    runtime: Runtime,
) -> None:
    runtime.classifier = FailingClassifier(AssessmentUnavailableError("invalid JSON"))
    item_id = await _new_item(runtime, refund_ticket("10.00"))
    await _advance_all(runtime)
    item = await get_item(runtime.sessions, item_id)
    assert item is not None and item.state == ItemState.PENDING_REVIEW
    assert item.proposed_action == {"kind": "refund", "amount": "10.00", "currency": "USD"}


async def test_executor_refuses_an_item_forced_to_executing_without_a_decision(
    runtime: Runtime,
) -> None:
    item_id = await _new_item(runtime, refund_ticket("480.00"))
    await _advance_all(runtime)
    async with transaction(runtime.sessions) as session:
        # Simulate a bug or a tampered row: the item jumps to executing with no decision.
        assert await transition(
            session,
            item_id,
            from_states=[ItemState.PENDING_REVIEW],
            to=ItemState.EXECUTING,
            idempotency_key="forged",
        )
    item = await get_item(runtime.sessions, item_id)
    assert item is not None
    async with runtime.sessions() as session:
        with pytest.raises(ExecutionRefusedError, match="no decision"):
            await authorise(session, item, reviewers=frozenset({REVIEWER}), leads=frozenset())
    await _advance_all(runtime)
    item = await get_item(runtime.sessions, item_id)
    assert item is not None and item.state == ItemState.FAILED
    assert item.last_error is not None and item.last_error.startswith("refused: ")


async def test_executor_refuses_rejections_and_people_no_longer_allowed(runtime: Runtime) -> None:
    item_id = await _new_item(runtime, refund_ticket("480.00"))
    await _advance_all(runtime)
    result = await approve(
        runtime.sessions,
        item_id=item_id,
        roles=Roles(REVIEWER, reviewers=frozenset({REVIEWER}), leads=frozenset()),
        policy=await load_lead_settings(runtime.sessions, runtime.settings),
    )
    assert result.status == ReviewStatus.RECORDED
    async with transaction(runtime.sessions) as session:
        await transition(session, item_id, from_states=[ItemState.APPROVED], to=ItemState.EXECUTING)
    item = await get_item(runtime.sessions, item_id)
    assert item is not None
    async with runtime.sessions() as session:
        request = await authorise(session, item, reviewers=frozenset({REVIEWER}), leads=frozenset())
        assert request.approved_by == REVIEWER
        assert request.idempotency_key == idempotency_key(item_id, item.decision_id or 0)
        with pytest.raises(ExecutionRefusedError, match="not allowed to approve"):
            await authorise(session, item, reviewers=frozenset(), leads=frozenset())
        rejection = Decision(
            item_id=item_id, outcome=DecisionOutcome.REJECTED, actor=REVIEWER, created_at=utcnow()
        )
        session.add(rejection)
        await session.flush()
        item.decision_id = rejection.id
        with pytest.raises(ExecutionRefusedError, match="not an approval"):
            await authorise(session, item, reviewers=frozenset({REVIEWER}), leads=frozenset())
        await session.rollback()


async def test_audit_log_rejects_update_and_delete(runtime: Runtime) -> None:
    await _new_item(runtime, password_ticket())
    for statement in ("UPDATE audit_event SET actor = 'mallory'", "DELETE FROM audit_event"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with transaction(runtime.sessions) as session:
                await session.execute(text(statement))


async def test_claims_do_not_overlap_and_expire(runtime: Runtime) -> None:
    for _ in range(5):
        await _new_item(runtime, password_ticket())
    lease = timedelta(seconds=30)
    first = await claim(runtime.sessions, "w1", lease=lease, limit=3, include_unposted=False)
    second = await claim(runtime.sessions, "w2", lease=lease, limit=10, include_unposted=False)
    assert len(first) == 3 and len(second) == 2
    assert not {i.id for i in first} & {i.id for i in second}
    later = utcnow() + timedelta(seconds=31)
    taken_over = await claim(
        runtime.sessions, "w3", lease=lease, limit=10, include_unposted=False, now=later
    )
    assert len(taken_over) == 5
    assert all((i.claimed_by or "").startswith("w3#") for i in taken_over)
    # Each claim is its own token: the takeover's is none of the earlier ones (the items of one
    # claim share it; every write names the item too).
    assert len({i.claimed_by for i in taken_over}) == 1
    assert not {i.claimed_by for i in taken_over} & {i.claimed_by for i in [*first, *second]}
    # Claimed in order of arrival, oldest first.
    assert [i.created_at for i in taken_over] == sorted(i.created_at for i in taken_over)
    # A worker whose lease was taken over can no longer move the item.
    async with transaction(runtime.sessions) as session:
        assert not await transition(
            session,
            first[0].id,
            from_states=[ItemState.RECEIVED],
            to=ItemState.ASSESSED,
            held_by=first[0].claimed_by,
        )
        await session.execute(update(Item).values(claimed_by=None, claimed_until=None))


def _request() -> ActionRequest:
    return ActionRequest(
        item_id="itm_1",
        source="generic",
        ticket_id="T-1",
        action={"kind": "reply"},
        reply_text="hi",
        approved_by="auto",
        policy="low_risk_auto",
        idempotency_key="signoff-itm_1-1",
    )


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (500, RetryableError),
        (503, RetryableError),
        (429, RetryableError),
        (408, RetryableError),
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (422, PermanentError),
    ],
)
async def test_sink_errors_are_classified(status: int, error: type[Exception]) -> None:
    with HttpSink() as sink:
        sink.respond_with(status)
        async with httpx.AsyncClient() as client:
            with pytest.raises(error):
                await GenericActionSink(sink.url, "secret", client).execute(_request())
        assert sink.requests[0].headers["idempotency-key"] == "signoff-itm_1-1"


async def test_unreachable_and_slow_sinks_are_retryable() -> None:
    with HttpSink() as sink:
        url = sink.url
    async with httpx.AsyncClient(timeout=0.2) as client:
        with pytest.raises(RetryableError, match="unreachable"):
            await GenericActionSink(url, "k" * 16, client).execute(_request())
    with HttpSink() as slow:
        slow.delay = 1.0
        async with httpx.AsyncClient(timeout=0.2) as client:
            with pytest.raises(RetryableError, match="timed out"):
                await GenericActionSink(slow.url, "k" * 16, client).execute(_request())


@asynccontextmanager
async def _runtime_sending_to(
    sink: HttpSink, database_url: str, attempts: int
) -> AsyncIterator[Runtime]:
    """A seeded runtime whose approved actions go to ``sink``, trying each up to ``attempts``."""
    settings = make_settings(
        database_url=database_url,
        action_url=sink.url,
        action_secret="k" * 16,
        max_execution_attempts=attempts,
    )
    async with open_runtime(settings) as rt:
        await seed_thresholds(rt.sessions, settings)
        yield rt


async def test_retry_then_success_keeps_the_same_idempotency_key(database_url: str) -> None:
    with HttpSink() as sink:
        async with _runtime_sending_to(sink, database_url, attempts=3) as rt:
            sink.respond_with(503, count=1)
            item_id = await _new_item(rt, password_ticket())
            await _advance_all(rt)
            item = await get_item(rt.sessions, item_id)
            assert item is not None and item.state == ItemState.EXECUTING
            assert item.attempts == 1 and item.next_attempt_at is not None
            async with transaction(rt.sessions) as session:  # make the retry due now
                await session.execute(update(Item).values(next_attempt_at=utcnow()))
            await _advance_all(rt)
            item = await get_item(rt.sessions, item_id)
            assert item is not None and item.state == ItemState.EXECUTED
        keys = [r.headers["idempotency-key"] for r in sink.requests]
        assert len(keys) == 2 and len(set(keys)) == 1


async def test_retries_give_up_after_the_limit(database_url: str) -> None:
    with HttpSink() as sink:
        async with _runtime_sending_to(sink, database_url, attempts=2) as rt:
            sink.respond_with(500, count=5)
            item_id = await _new_item(rt, password_ticket())
            for _ in range(2):
                await _advance_all(rt)
                async with transaction(rt.sessions) as session:
                    await session.execute(update(Item).values(next_attempt_at=utcnow()))
            item = await get_item(rt.sessions, item_id)
            assert item is not None and item.state == ItemState.FAILED
            assert item.last_error is not None and "gave up after 2 attempts" in item.last_error
        assert len(sink.requests) == 2


def test_backoff_grows_and_is_capped() -> None:
    for attempt in range(1, 12):
        delay = backoff_delay(attempt, base=2.0, cap=60.0)
        assert 0 <= delay <= min(60.0, 2.0 * 2 ** (attempt - 1))


async def test_an_event_folded_into_a_re_draft_is_never_auto_executed(runtime: Runtime) -> None:
    """A re-draft can merge a newer event while it is still being assessed: even a harmless
    one then waits for a human to close it, since the re-drafted item answers the customer."""
    item_id = await _new_item(runtime, password_ticket())
    async with transaction(runtime.sessions) as session:
        await session.execute(
            update(Item)
            .where(Item.id == item_id)  # type: ignore[arg-type]
            .values(stale_reason=f"{MERGED_PREFIX}`itm_other` by a re-draft: reject this one.")
        )
    await _advance_all(runtime)
    item = await get_item(runtime.sessions, item_id)
    assert item is not None
    assert item.state == ItemState.PENDING_REVIEW and item.route_policy == "merged"
    assert item.decision_id is None
