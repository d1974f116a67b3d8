"""Money that runs without a human: only the source's structured request, and within budgets.

A refund or credit that only a reading of the text found goes to a human under every threshold,
category override, pin and earned autonomy; the budgets refuse the amount that would pass them
and say so in the card's words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.autonomy import AutonomyPolicy, BucketState, Evidence, Pin, decide_autonomy
from policies.money_budget import AutoMoneySpent, MoneyLedger, day_start, over_budget
from policies.risk_levels import RiskLevel
from policies.risk_rules import TicketFacts, risk_floor, unrequested_money
from policies.routing import HUMAN_ONLY, Route, decide_route
from policies.thresholds import Thresholds, parse_threshold

ALLOW_ALL = Thresholds(
    auto_approve_max_risk=RiskLevel.HIGH,
    refund_auto_limit=Decimal("100000"),
    category_max_risk={"refund": RiskLevel.HIGH},
)
TRUSTED = (BucketState(Evidence(approved_unchanged=500)), BucketState(Evidence(), Pin.ALLOW))


def _final_route(facts: TicketFacts, thresholds: Thresholds, state: BucketState) -> Route:
    floor = risk_floor(facts, thresholds)
    base = decide_route(facts=facts, floor=floor, model_risk=RiskLevel.LOW, thresholds=thresholds)
    decision = decide_autonomy(
        base=base, floor=floor.level, state=state, item_id="x", policy=AutonomyPolicy()
    )
    return decision.route


@pytest.mark.parametrize("kind", ["refund", "credit"])
@pytest.mark.parametrize("state", TRUSTED)
def test_money_read_from_free_text_needs_a_human_whatever_thresholds_or_trust_say(
    kind: str, state: BucketState
) -> None:
    facts = TicketFacts.of(
        text="please refund $25",
        action={"kind": kind, "amount": "25.00", "currency": "USD"},
        category="refund",
    )
    floor = risk_floor(facts, ALLOW_ALL)
    decision = decide_route(
        facts=facts, floor=floor, model_risk=RiskLevel.LOW, thresholds=ALLOW_ALL
    )
    assert (decision.route, decision.policy) == (Route.REVIEW, HUMAN_ONLY)
    assert "did not request it as a structured action" in decision.why
    assert f"{kind} 25.00 USD" in decision.why
    assert _final_route(facts, ALLOW_ALL, state) == Route.REVIEW


@pytest.mark.parametrize(
    "requested",
    [
        {"kind": "refund", "amount": "12.00", "currency": "USD"},  # another amount
        {"kind": "credit", "amount": "25.00", "currency": "USD"},  # another kind
        {"kind": "refund", "amount": "25.00", "currency": "EUR"},  # another currency
        {"kind": "reply"},  # no money requested
    ],
)
def test_money_other_than_what_the_source_requested_needs_a_human(
    requested: dict[str, str],
) -> None:
    facts = TicketFacts.of(
        text="refund",
        action={"kind": "refund", "amount": "25.00", "currency": "USD"},
        requested=requested,
    )
    reason = unrequested_money(facts)
    assert reason is not None
    assert _final_route(facts, ALLOW_ALL, TRUSTED[1]) == Route.REVIEW


def test_the_sources_own_request_may_run_within_the_limits() -> None:
    facts = TicketFacts.of(
        text="refund",
        action={"kind": "refund", "amount": "25.00", "currency": "USD"},
        requested={"kind": "refund", "amount": "25", "currency": "usd"},
    )
    assert unrequested_money(facts) is None
    assert _final_route(facts, Thresholds(), BucketState(Evidence())) == Route.AUTO
    # Not money at all: the rule has nothing to say.
    assert unrequested_money(TicketFacts(text="hi", action_kind="reply")) is None


NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)


def test_the_customer_budget_refuses_the_amount_that_would_pass_it_and_says_why() -> None:
    thresholds = Thresholds(auto_money_per_customer=Decimal("50"))
    spent = AutoMoneySpent(customer=Decimal("45"), day=Decimal("45"))
    assert over_budget(Decimal("5"), spent, thresholds) is None
    refusal = over_budget(Decimal("5.01"), spent, thresholds)
    assert refusal is not None
    assert refusal.startswith("this customer received 45.00 USD without review in the last 30 days")


def test_the_daily_budget_counts_everyone() -> None:
    thresholds = Thresholds(auto_money_per_day=Decimal("500"))
    refusal = over_budget(
        Decimal("20"), AutoMoneySpent(customer=Decimal(0), day=Decimal("490")), thresholds
    )
    assert refusal is not None and "490.00 USD went out without review today" in refusal
    assert over_budget(Decimal("10"), AutoMoneySpent(day=Decimal("490")), thresholds) is None


def test_a_zero_budget_sends_all_money_to_a_human() -> None:
    thresholds = Thresholds(auto_money_per_customer=Decimal(0))
    assert over_budget(Decimal("0.01"), AutoMoneySpent(), thresholds) is not None


def test_the_ledger_rolls_the_customer_window_and_restarts_the_day_at_midnight_utc() -> None:
    thresholds = Thresholds(auto_money_per_customer=Decimal("50"), auto_money_per_day=Decimal(60))
    ledger = MoneyLedger()
    start = NOW - timedelta(days=31)
    assert ledger.try_reserve("a@x", Decimal("50"), start, thresholds) is None
    assert ledger.try_reserve("a@x", Decimal("1"), start + timedelta(days=29), thresholds)
    # 31 days later the first refund has left the customer's window.
    assert ledger.try_reserve("a@x", Decimal("50"), NOW, thresholds) is None
    assert ledger.try_reserve("b@x", Decimal("15"), NOW, thresholds)  # the day is at 50 + 15
    tomorrow = day_start(NOW) + timedelta(days=1)
    assert ledger.try_reserve("b@x", Decimal("15"), tomorrow, thresholds) is None


@given(st.lists(st.decimals(min_value=0, max_value=40, places=2), max_size=30))
def test_the_ledger_never_lets_one_customer_pass_the_budget(amounts: list[Decimal]) -> None:
    thresholds = Thresholds(auto_money_per_customer=Decimal("50"))
    ledger = MoneyLedger()
    for n, amount in enumerate(amounts):
        ledger.try_reserve("a@x", amount, NOW + timedelta(seconds=n), thresholds)
    assert ledger.spent("a@x", NOW + timedelta(days=1)).customer <= Decimal("50")


@pytest.mark.parametrize("key", ["auto_money_per_customer", "auto_money_per_day"])
def test_budgets_are_lead_thresholds_with_their_own_stored_form(key: str) -> None:
    assert parse_threshold(key, " 75.5 ") == Decimal("75.5")
    stored = Thresholds.from_strings({key: "12"})
    assert getattr(stored, key) == Decimal("12")
    assert stored.to_strings()[key] == "12"
    assert Thresholds.from_strings(stored.to_strings()) == stored
