"""The decision layer, exhaustively: the model can raise risk but never lower it, money above the
limit always goes to a human, a failed assessment never auto-executes, pause stops everything."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.approvers import may_decide
from policies.risk_levels import RiskLevel, highest
from policies.risk_rules import TicketFacts, normalise_text, risk_floor
from policies.routing import Route, decide_route
from policies.thresholds import InvalidThresholdError, Thresholds, parse_threshold

LEVELS = list(RiskLevel)
KINDS = ["reply", "refund", "credit", "update_field", "escalate"]

facts_strategy = st.builds(
    TicketFacts,
    text=st.text(max_size=200),
    action_kind=st.sampled_from(KINDS),
    amount=st.one_of(st.none(), st.decimals(min_value=0, max_value=100_000, places=2)),
    customer_tier=st.one_of(st.none(), st.sampled_from(["free", "pro", "enterprise", "vip"])),
)
thresholds_strategy = st.builds(
    Thresholds,
    auto_approve_max_risk=st.sampled_from(LEVELS),
    refund_auto_limit=st.decimals(min_value=0, max_value=10_000, places=2),
    paused=st.booleans(),
)


@given(facts_strategy, thresholds_strategy, st.one_of(st.none(), st.sampled_from(LEVELS)))
def test_model_never_lowers_risk_below_the_rule_floor(
    facts: TicketFacts, thresholds: Thresholds, model_risk: RiskLevel | None
) -> None:
    floor = risk_floor(facts, thresholds)
    decision = decide_route(facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds)
    assert decision.risk.rank >= floor.level.rank
    if model_risk is not None:
        assert decision.risk.rank >= model_risk.rank


@given(facts_strategy, thresholds_strategy, st.one_of(st.none(), st.sampled_from(LEVELS)))
def test_auto_only_when_every_guard_allows_it(
    facts: TicketFacts, thresholds: Thresholds, model_risk: RiskLevel | None
) -> None:
    floor = risk_floor(facts, thresholds)
    decision = decide_route(facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds)
    if decision.route == Route.AUTO:
        assert model_risk is not None
        assert not thresholds.paused
        assert decision.risk.rank <= thresholds.auto_approve_max_risk.rank
        if facts.action_kind in {"refund", "credit"}:
            assert facts.amount is not None and facts.amount <= thresholds.refund_auto_limit
        assert decision.policy == "low_risk_auto"


@pytest.mark.parametrize("kind", ["refund", "credit"])
@pytest.mark.parametrize("model_risk", LEVELS)
def test_money_above_limit_goes_to_a_human_even_if_everything_is_allowed(
    kind: str, model_risk: RiskLevel
) -> None:
    thresholds = Thresholds(auto_approve_max_risk=RiskLevel.CRITICAL, refund_auto_limit=Decimal(50))
    facts = TicketFacts(text="please", action_kind=kind, amount=Decimal("50.01"))
    floor = risk_floor(facts, thresholds)
    decision = decide_route(facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds)
    assert decision.route == Route.REVIEW and decision.policy == "refund_limit"


def test_amount_at_the_limit_may_be_automatic() -> None:
    thresholds = Thresholds(refund_auto_limit=Decimal(50))
    facts = TicketFacts(text="refund please", action_kind="refund", amount=Decimal("50.00"))
    floor = risk_floor(facts, thresholds)
    decision = decide_route(
        facts=facts, floor=floor, model_risk=RiskLevel.LOW, thresholds=thresholds
    )
    assert decision.route == Route.AUTO


def test_failed_assessment_and_pause_always_review() -> None:
    facts = TicketFacts(text="hello", action_kind="reply")
    floor = risk_floor(facts, Thresholds())
    failed = decide_route(facts=facts, floor=floor, model_risk=None, thresholds=Thresholds())
    paused = decide_route(
        facts=facts, floor=floor, model_risk=RiskLevel.LOW, thresholds=Thresholds(paused=True)
    )
    assert (failed.route, failed.policy) == (Route.REVIEW, "assessment_unavailable")
    assert (paused.route, paused.policy) == (Route.REVIEW, "paused")


@pytest.mark.parametrize(
    "text",
    [
        "I will contact my lawyer",
        "I'm filing a chargeback with my bank",
        "see you in small claims court",
        "This is a GDPR subject access request",
        "\uff4c\uff41\uff57\uff59\uff45\uff52 will hear about this",  # full-width letters
        "law\u200byer",  # zero-width space inside the word
    ],
)
def test_legal_words_make_it_critical_even_when_disguised(text: str) -> None:
    floor = risk_floor(TicketFacts(text=text, action_kind="reply"), Thresholds())
    assert floor.level == RiskLevel.CRITICAL


def test_tier_anger_and_data_changes_raise_the_floor() -> None:
    t = Thresholds()
    assert (
        risk_floor(TicketFacts("hi", "reply", customer_tier="Enterprise"), t).level
        == RiskLevel.MEDIUM
    )
    assert risk_floor(TicketFacts("this is unacceptable", "reply"), t).level == RiskLevel.MEDIUM
    assert risk_floor(TicketFacts("hi", "update_field"), t).level == RiskLevel.MEDIUM
    assert risk_floor(TicketFacts("hi", "refund", amount=None), t).level == RiskLevel.HIGH
    assert risk_floor(TicketFacts("hi", "launch_missiles"), t).level == RiskLevel.HIGH
    assert risk_floor(TicketFacts("thanks!", "reply"), t).level == RiskLevel.LOW


def test_highest_and_normalise() -> None:
    for a, b in itertools.product(LEVELS, LEVELS):
        assert highest(a, b).rank == max(a.rank, b.rank)
    assert normalise_text("\uff4c\uff41\uff57\u200dyer") == "lawyer"


def test_thresholds_round_trip_and_explain_bad_values() -> None:
    custom = Thresholds(RiskLevel.MEDIUM, Decimal("75.5"), True)
    assert Thresholds.from_strings(custom.to_strings()) == custom
    assert Thresholds.from_strings({"unknown": "x"}) == Thresholds()
    with pytest.raises(InvalidThresholdError, match="one of low, medium, high, critical"):
        parse_threshold("auto_approve_max_risk", "extreme")
    with pytest.raises(InvalidThresholdError, match="must be a number"):
        parse_threshold("refund_auto_limit", "lots")
    with pytest.raises(InvalidThresholdError, match="zero or more"):
        parse_threshold("refund_auto_limit", "-1")
    with pytest.raises(InvalidThresholdError, match="zero or more"):
        parse_threshold("refund_auto_limit", "NaN")
    with pytest.raises(InvalidThresholdError, match="true or false"):
        parse_threshold("paused", "maybe")
    with pytest.raises(InvalidThresholdError, match="unknown setting"):
        parse_threshold("nope", "1")


def test_only_reviewers_and_leads_may_decide() -> None:
    assert may_decide("U1", reviewers={"U1"}, leads=set())
    assert may_decide("U2", reviewers=set(), leads={"U2"})
    assert not may_decide("U3", reviewers={"U1"}, leads={"U2"})
    assert not may_decide("", reviewers={""}, leads=set())
    assert not may_decide("U1", reviewers=set(), leads=set())


@pytest.mark.parametrize(
    ("sentiment", "expected"),
    [
        ("negative", RiskLevel.MEDIUM),
        ("Negative", RiskLevel.MEDIUM),
        ("neutral", RiskLevel.LOW),
        ("positive", RiskLevel.LOW),
        (None, RiskLevel.LOW),
    ],
)
def test_a_negative_sentiment_reading_is_a_medium_floor(
    sentiment: str | None, expected: RiskLevel
) -> None:
    facts = TicketFacts(text="Where is my invoice?", action_kind="reply", sentiment=sentiment)
    floor = risk_floor(facts, Thresholds())
    assert floor.level == expected
    assert ("customer sentiment is negative" in floor.reasons) == (expected == RiskLevel.MEDIUM)
    model_says_low = decide_route(
        facts=facts, floor=floor, model_risk=RiskLevel.LOW, thresholds=Thresholds()
    )
    assert (model_says_low.route == Route.AUTO) == (expected == RiskLevel.LOW)
