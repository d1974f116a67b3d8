"""How the pipeline treats an executor's answer: an executor that crashes is never called again
blindly, a vendor's Retry-After is honoured, and the executed record is what was sent."""

from __future__ import annotations

from datetime import timedelta

from bot.errors import RetryableError
from bot.runtime import Runtime
from bot.store.column_types import utcnow
from bot.store.item_states import ItemState
from bot.store.models import Item
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
