"""Money without a human, through the real pipeline and database: free-text money waits for a
person, the budgets stop the refund that would pass them (with the card's reason), and a failed
execution gives its reservation back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from bot.actions.sink import ActionRequest
from bot.errors import PermanentError
from bot.lead_settings.seed import seed_thresholds
from bot.runtime import Runtime, open_runtime
from bot.store.item_states import ItemState
from bot.store.models import AutoMoneyReservation, Item
from tests.support.pipeline_runs import run_ticket
from tests.support.server_harness import REVIEWER, make_settings
from tests.support.ticket_factory import refund_ticket


class CountingExecutor:
    """Our own Executor protocol (not an SDK): records each request, fails when told to."""

    name = "counting"

    def __init__(self) -> None:
        self.requests: list[ActionRequest] = []
        self.fail = False

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        self.requests.append(request)
        if self.fail:
            raise PermanentError("the vendor refused the refund")
        return {"ok": True}


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    settings = make_settings(
        database_url=database_url,
        reviewers=REVIEWER,
        SIGNOFF_AUTO_MONEY_PER_CUSTOMER="50",
        SIGNOFF_AUTO_MONEY_PER_DAY="500",
    )
    async with open_runtime(settings) as rt:
        await seed_thresholds(rt.sessions, settings)
        rt.executor = CountingExecutor()
        yield rt


def _shipping_refund(amount: str, email: str = "dana@example.com") -> dict[str, Any]:
    return refund_ticket(
        amount,
        subject="Shipping refund",
        body=f"Refund of the shipping fee for order 88, {amount} USD, as agreed.",
        customer={"name": "Dana Reyes", "email": email},
    )


async def _run(rt: Runtime, ticket: dict[str, Any]) -> Item:
    return await run_ticket(rt, ticket)


async def test_six_small_refunds_for_one_customer_stop_at_the_customer_budget(
    runtime: Runtime,
) -> None:
    items = [await _run(runtime, _shipping_refund("15.00")) for _ in range(6)]
    assert [item.state for item in items] == [ItemState.EXECUTED] * 3 + [
        ItemState.PENDING_REVIEW
    ] * 3
    held = items[3]
    assert held.route_policy == "money_budget"
    assert held.route_why is not None
    assert held.route_why.startswith(
        "this customer received 45.00 USD without review in the last 30 days"
    )
    # Someone else still has a budget of their own.
    other = await _run(runtime, _shipping_refund("15.00", email="lee@example.com"))
    assert other.state == ItemState.EXECUTED
    async with runtime.sessions() as session:
        rows = (await session.execute(select(AutoMoneyReservation))).scalars().all()
    assert sorted(row.amount_cents for row in rows) == [1500] * 4


async def test_a_failed_execution_gives_its_reservation_back(runtime: Runtime) -> None:
    executor = runtime.executor
    assert isinstance(executor, CountingExecutor)
    for _ in range(2):
        assert (await _run(runtime, _shipping_refund("20.00"))).state == ItemState.EXECUTED
    executor.fail = True
    failed = await _run(runtime, _shipping_refund("10.00"))
    assert failed.state == ItemState.FAILED
    executor.fail = False
    # Had the failed 10.00 stayed reserved, 10.00 more would pass the 50.00 budget.
    again = await _run(runtime, _shipping_refund("10.00"))
    assert again.state == ItemState.EXECUTED
    assert (await _run(runtime, _shipping_refund("0.01"))).route_policy == "money_budget"
    async with runtime.sessions() as session:
        released = await session.get(AutoMoneyReservation, failed.id)
    assert released is not None and released.released_at is not None


async def test_a_refund_asked_for_in_free_text_waits_for_a_human(runtime: Runtime) -> None:
    ticket = _shipping_refund("25.00")
    ticket.pop("requested_action")
    ticket["body"] = "please refund $25"
    item = await _run(runtime, ticket)
    assert item.state == ItemState.PENDING_REVIEW
    assert item.route_policy == "human_only"
    assert item.route_why is not None and "did not request it" in item.route_why
    # The heuristic's reading is kept on the card as information.
    assert item.proposed_action == {"kind": "refund", "amount": "25.00", "currency": "USD"}
    assert Decimal(item.proposed_action["amount"]) == Decimal(25)
