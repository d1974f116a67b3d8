"""Reservations against the budgets for money executed without a human.

``policies.money_budget`` decides from two sums; this module makes the sums exact across
instances. The route step calls :func:`hold_money_budget` inside the transaction that
auto-approves the item: it takes the budget's lock (a transaction-scoped advisory lock on
PostgreSQL; on SQLite the transaction already holds the one writer lock, ``BEGIN IMMEDIATE``),
sums what is reserved, and either inserts the item's reservation or turns the route into a
review. The lock is held until that transaction commits, so a second instance routing a money
item at the same moment waits and then sees the first one's reservation. A failed execution
releases the reservation (:func:`release_money_budget`), in the transaction that records it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.models import AutoMoneyReservation
from policies.money_budget import (
    AutoMoneySpent,
    customer_key,
    customer_window_start,
    day_start,
    over_budget,
)
from policies.risk_rules import MONEY_ACTIONS
from policies.routing import Route, RouteDecision
from policies.thresholds import Thresholds

# The route policy of an item a budget sent to a human.
MONEY_BUDGET = "money_budget"
_BUDGET_LOCK = 0x5160FE  # fixed advisory-lock key, next to the audit chain's
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_CENTS = Decimal(100)


async def hold_money_budget(
    session: AsyncSession,
    route: RouteDecision,
    *,
    item_id: str,
    customer_email: str,
    action: Mapping[str, Any] | None,
    thresholds: Thresholds,
    now: datetime,
) -> RouteDecision:
    """``route``, or a review when the item's money would pass a budget. Reserves the money of
    an auto-executed refund or credit in the caller's transaction (it commits or rolls back with
    the approval); anything else passes through untouched."""
    amount = _money(action)
    if route.route != Route.AUTO or amount is None:
        return route
    await _lock(session)
    customer = customer_key(customer_email)
    spent = await spent_without_review(session, customer, thresholds.currency, now)
    refusal = over_budget(amount, spent, thresholds)
    if refusal is not None:
        return RouteDecision(Route.REVIEW, route.risk, MONEY_BUDGET, refusal)
    session.add(
        AutoMoneyReservation(
            item_id=item_id,
            customer=customer,
            amount_cents=int(amount * _CENTS),
            currency=thresholds.currency,
            reserved_at=now,
        )
    )
    await session.flush()
    return route


async def release_money_budget(session: AsyncSession, item_id: str, now: datetime) -> bool:
    """Give back a failed item's reservation (if it had one): nothing was paid without review."""
    result = await session.execute(
        update(AutoMoneyReservation)
        .where(
            col(AutoMoneyReservation.item_id) == item_id,
            col(AutoMoneyReservation.released_at).is_(None),
        )
        .values(released_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def spent_without_review(
    session: AsyncSession, customer: str, currency: str, now: datetime
) -> AutoMoneySpent:
    """What the customer (last 30 days) and everyone (this UTC day) hold in reservations."""
    live = (
        col(AutoMoneyReservation.released_at).is_(None),
        col(AutoMoneyReservation.currency) == currency,
    )
    total = func.coalesce(func.sum(col(AutoMoneyReservation.amount_cents)), 0)
    by_customer = await session.scalar(
        select(total).where(
            *live,
            col(AutoMoneyReservation.customer) == customer,
            col(AutoMoneyReservation.reserved_at) > customer_window_start(now),
        )
    )
    today = await session.scalar(
        select(total).where(*live, col(AutoMoneyReservation.reserved_at) >= day_start(now))
    )
    return AutoMoneySpent(customer=_amount(by_customer), day=_amount(today))


async def _lock(session: AsyncSession) -> None:
    if session.bind.dialect.name == "postgresql":
        await session.execute(_LOCK, {"key": _BUDGET_LOCK})


def _money(action: Mapping[str, Any] | None) -> Decimal | None:
    """The amount of a refund or credit, or None (no money, or none stated: other rules send
    those to a human before a budget is asked)."""
    if not action or action.get("kind") not in MONEY_ACTIONS or action.get("amount") is None:
        return None
    return Decimal(str(action["amount"]))


def _amount(cents: int | None) -> Decimal:
    return (Decimal(int(cents or 0)) / _CENTS).quantize(Decimal("0.01"))
