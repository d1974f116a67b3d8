"""Budgets for money that runs without a human: per customer and for everyone together.

Each refund or credit below the refund limit can be small and still add up: six $15 refunds to
one customer in a minute are $90 nobody looked at. Two lead settings bound the total
(``Thresholds.auto_money_per_customer`` over a rolling 30 days, ``auto_money_per_day`` per UTC
day across all customers). A money action that would pass either goes to a human, with the
reason on the card.

This module only decides from the sums it is given; ``bot.store.money_budget`` keeps the
reservations and takes the lock that makes the sums exact across instances, and the dry run
replays a month with :class:`MoneyLedger`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from policies.thresholds import AUTO_MONEY_PER_CUSTOMER, AUTO_MONEY_PER_DAY, Thresholds

# The per-customer budget looks back this far.
CUSTOMER_WINDOW = timedelta(days=30)
ZERO = Decimal("0")


@dataclass(frozen=True)
class AutoMoneySpent:
    """Money already executed (or reserved) without a human, in the thresholds' currency."""

    customer: Decimal = ZERO  # this customer's, over the last 30 days
    day: Decimal = ZERO  # everyone's, since the start of this UTC day


def customer_window_start(now: datetime) -> datetime:
    return now - CUSTOMER_WINDOW


def day_start(now: datetime) -> datetime:
    """Midnight UTC of ``now``'s day: the daily budget starts again there."""
    utc = now.astimezone(UTC)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def customer_key(email: str) -> str:
    """Whose budget an item spends: the customer's e-mail address, case-folded and trimmed."""
    return email.strip().casefold()


def over_budget(amount: Decimal, spent: AutoMoneySpent, thresholds: Thresholds) -> str | None:
    """Why ``amount`` more without a human would pass a budget (the card's reason), or None."""
    currency = thresholds.currency
    per_customer = thresholds.auto_money_per_customer
    if spent.customer + amount > per_customer:
        return (
            f"this customer received {spent.customer:.2f} {currency} without review in the last "
            f"30 days; {amount:.2f} more would pass {AUTO_MONEY_PER_CUSTOMER} "
            f"({per_customer:.2f} {currency}), so a human decides"
        )
    per_day = thresholds.auto_money_per_day
    if spent.day + amount > per_day:
        return (
            f"{spent.day:.2f} {currency} went out without review today (UTC); {amount:.2f} more "
            f"would pass {AUTO_MONEY_PER_DAY} ({per_day:.2f} {currency}), so a human decides"
        )
    return None


@dataclass
class MoneyLedger:
    """Reservations replayed in memory, in time order (the dry run's "what if")."""

    entries: list[tuple[datetime, str, Decimal]] = field(default_factory=list)

    def spent(self, customer: str, now: datetime) -> AutoMoneySpent:
        since_customer, since_day = customer_window_start(now), day_start(now)
        by_customer = sum(
            (amount for at, who, amount in self.entries if who == customer and at > since_customer),
            ZERO,
        )
        today = sum((amount for at, _, amount in self.entries if since_day <= at <= now), ZERO)
        return AutoMoneySpent(customer=by_customer, day=today)

    def try_reserve(
        self, customer: str, amount: Decimal, now: datetime, thresholds: Thresholds
    ) -> str | None:
        """Reserve ``amount`` as the route step would; the refusal's reason when it would not."""
        refusal = over_budget(amount, self.spent(customer, now), thresholds)
        if refusal is None:
            self.entries.append((now, customer, amount))
        return refusal
