"""How the pipeline treats an executor's answer: an executor that crashes is never called again
blindly, a vendor's Retry-After is honoured, and the executed record is what was sent."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from bot.errors import RetryableError
from bot.pipeline.pipeline import Pipeline
from bot.runtime import Runtime
from bot.store.column_types import utcnow
from bot.store.ingest import ingest
from bot.store.item_states import ItemState
from bot.store.items import claim
from bot.store.models import Item
from bot.tickets import TicketIn
from tests.support.pipeline_runs import run_ticket
from tests.support.scripted_executor import ScriptedExecutor
from tests.support.ticket_factory import password_ticket


async def _run_auto_item(rt: Runtime, passes: int = 3) -> Item:
    """A harmless password question is auto-approved; run the pipeline over it a few times."""
    return await run_ticket(rt, password_ticket(), passes)


async def test_an_executor_that_crashes_fails_the_item_once_and_is_not_called_again(
    runtime: Runtime,
) -> None:
    executor = ScriptedExecutor(ValueError("unreadable answer"))
    runtime.executor = executor
    item = await _run_auto_item(runtime)
    assert item.state == ItemState.FAILED
    assert len(executor.requests) == 1
    assert item.last_error == ("outcome unknown (ValueError): check generic before using Retry")
    assert item.attempts == 1


async def test_a_retry_waits_at_least_as_long_as_the_vendor_asked(runtime: Runtime) -> None:
    runtime.executor = ScriptedExecutor(RetryableError("throttled", status=429, retry_after=120))
    before = utcnow()
    item = await _run_auto_item(runtime)
    assert item.state == ItemState.EXECUTING
    assert item.attempts == 1
    assert item.next_attempt_at is not None
    assert item.next_attempt_at >= before + timedelta(seconds=119)


async def test_the_executed_record_is_exactly_what_the_executor_was_given(
    runtime: Runtime,
) -> None:
    executor = ScriptedExecutor({"sent": True})
    runtime.executor = executor
    item = await _run_auto_item(runtime)
    assert item.state == ItemState.EXECUTED
    (request,) = executor.requests
    assert item.executed_reply == request.reply_text
    assert item.executed_action == request.action


async def test_an_executed_item_is_never_read_back_or_released_after_its_moves(
    runtime: Runtime,
) -> None:
    """Each move returns the row it wrote and the execution's move ends the claim, so advancing
    an item neither reads it by id after the claim nor releases it afterwards: each of those
    was a round trip per step, and the worker's CPU per item followed the round trips."""
    runtime.executor = ScriptedExecutor({"sent": True})
    ticket = TicketIn.model_validate(password_ticket())
    item_id = (await ingest(runtime.sessions, "generic", ticket)).item_id
    statements: list[tuple[str, Any]] = []

    def note(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        statements.append((" ".join(statement.split()), params))

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        claimed = await claim(
            runtime.sessions, "w-test", lease=timedelta(seconds=30), limit=5, include_unposted=False
        )
        [item] = claimed
        ended = await Pipeline(runtime, "w-test").advance(item)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert ended.id == item_id and ended.state == ItemState.EXECUTED
    assert ended.claimed_by is None and ended.claimed_until is None
    on_item = [(s, p) for s, p in statements if re.match(r"(SELECT .* FROM|UPDATE) item\b", s)]
    # The claim is one statement: it picks, leases and returns the row.
    assert on_item[0][0].startswith("UPDATE item SET claimed_by=")
    assert not any(s.startswith("SELECT item.id FROM item") for s, _ in on_item)
    # No read of the row by its id: every step's move returned it.
    assert not [s for s, _ in on_item if re.search(r"FROM item WHERE item\.id = ", s)]
    # No release: the last statement on the item is the move to executed, claim and all.
    last, params = on_item[-1]
    assert last.startswith("UPDATE item SET state=")
    assert ItemState.EXECUTED.value in (params.values() if isinstance(params, dict) else params)
    assert all(not s.startswith("UPDATE item SET claimed_by=") for s, _ in on_item[1:])
