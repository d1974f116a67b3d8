"""Earned autonomy as pure rules: simulated review histories, deterministic and property-based."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from policies.autonomy import (
    AUTONOMY_SAMPLE,
    EARNED_AUTONOMY,
    PINNED_ALLOW,
    PINNED_REVIEW,
    AutonomyPolicy,
    BucketKey,
    BucketState,
    Evidence,
    Pin,
    ReviewOutcome,
    amount_band,
    bucket_key,
    decide_autonomy,
    hard_limited,
    is_material_edit,
    revokes,
    sampled,
    unchanged_streak_needed,
    wilson_lower_bound,
)
from policies.risk_levels import RiskLevel
from policies.routing import Route, RouteDecision

U, E, R, X = (
    ReviewOutcome.APPROVED_UNCHANGED,
    ReviewOutcome.APPROVED_AFTER_EDIT,
    ReviewOutcome.REJECTED,
    ReviewOutcome.EXPIRED,
)
REVIEW = RouteDecision(Route.REVIEW, RiskLevel.MEDIUM, "risk_threshold", "medium > low")
AUTO = RouteDecision(Route.AUTO, RiskLevel.LOW, "low_risk_auto", "low ≤ low")
HARD = [
    RouteDecision(Route.REVIEW, RiskLevel.HIGH, "assessment_unavailable", "no assessment"),
    RouteDecision(Route.REVIEW, RiskLevel.MEDIUM, "paused", "paused"),
    RouteDecision(Route.REVIEW, RiskLevel.HIGH, "refund_limit", "above 50"),
    RouteDecision(Route.REVIEW, RiskLevel.HIGH, "human_only", "addressed to the AI"),
    RouteDecision(Route.REVIEW, RiskLevel.CRITICAL, "critical_risk", "critical"),
]
DEFAULT = AutonomyPolicy()


def _trusted_state() -> BucketState:
    return BucketState(Evidence(approved_unchanged=200))


def _reference_wilson_lower(k: int, n: int) -> float:
    """The textbook formula written independently, to check the implementation against."""
    z = 1.959963984540054
    p = k / n
    return (p + z * z / (2 * n) - z * math.sqrt((p * (1 - p) + z * z / (4 * n)) / n)) / (
        1 + z * z / n
    )


# --- the Wilson bound -------------------------------------------------------------------------


def test_wilson_known_values() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    assert wilson_lower_bound(0, 10) == 0.0
    assert wilson_lower_bound(10, 10) == pytest.approx(0.7225, abs=1e-4)
    assert wilson_lower_bound(81, 100) == pytest.approx(0.7222, abs=1e-4)
    with pytest.raises(ValueError):
        wilson_lower_bound(11, 10)


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_matches_reference_and_is_below_the_rate(kn: tuple[int, int]) -> None:
    k, n = kn
    bound = wilson_lower_bound(k, n)
    assert bound == pytest.approx(max(0.0, _reference_wilson_lower(k, n)), abs=1e-12)
    assert 0.0 <= bound <= k / n


@given(st.integers(1, 500), st.integers(0, 500))
def test_one_more_success_never_lowers_the_bound(n: int, k: int) -> None:
    k = min(k, n)
    assert wilson_lower_bound(k + 1, n + 1) >= wilson_lower_bound(k, n)


def test_default_target_needs_73_unchanged_approvals_in_a_row() -> None:
    assert unchanged_streak_needed(0.95) == 73
    assert wilson_lower_bound(72, 72) < 0.95 <= wilson_lower_bound(73, 73)


@given(st.floats(0.05, 0.995))
def test_streak_needed_is_the_exact_crossing(target: float) -> None:
    n = unchanged_streak_needed(target)
    assert wilson_lower_bound(n, n) >= target
    assert n == 1 or wilson_lower_bound(n - 1, n - 1) < target


# --- buckets ----------------------------------------------------------------------------------


def test_amount_bands_have_inclusive_upper_edges() -> None:
    assert amount_band(None) == "no-amount"
    assert amount_band(Decimal("0")) == "0-10"
    assert amount_band(Decimal("10")) == "0-10"
    assert amount_band(Decimal("10.01")) == "10-25"
    assert amount_band(Decimal("50.00")) == "25-50"
    assert amount_band(Decimal("5000")) == "1000-5000"
    assert amount_band(Decimal("5000.01")) == "5000+"


def test_bucket_key_bands_only_money_actions_and_round_trips() -> None:
    refund = bucket_key(
        category="Billing", action_kind="refund", risk=RiskLevel.MEDIUM, amount=Decimal("30")
    )
    assert str(refund) == "billing/refund/medium/25-50"
    reply = bucket_key(category=None, action_kind="reply", risk=RiskLevel.LOW, amount=Decimal("30"))
    assert str(reply) == "unassessed/reply/low"
    for key in (refund, reply):
        assert BucketKey.parse(str(key)) == key
    for bad in ("billing", "billing/refund", "billing/refund/extreme", "a//low", "a/b/low/c/d"):
        with pytest.raises(ValueError):
            BucketKey.parse(bad)


# --- evidence and eligibility -----------------------------------------------------------------


def test_expired_is_kept_but_is_not_a_review() -> None:
    ev = Evidence.from_outcomes([U, X, U, X, R], window=200)
    assert (ev.approved_unchanged, ev.rejected, ev.expired, ev.reviews) == (2, 1, 2, 3)


def test_window_keeps_only_the_newest_reviews() -> None:
    ev = Evidence.from_outcomes([E] * 5 + [U] * 10, window=10)
    assert (ev.approved_unchanged, ev.approved_after_edit) == (10, 0)


def test_eligible_exactly_at_the_minimum_and_the_target() -> None:
    policy = AutonomyPolicy(min_reviews=20, target=0.95)
    streak = [U] * 72
    assert not Evidence.from_outcomes(streak, policy.window).eligible(policy)
    assert Evidence.from_outcomes([*streak, U], policy.window).eligible(policy)
    low_target = AutonomyPolicy(min_reviews=20, target=0.5)
    assert not Evidence.from_outcomes([U] * 19, 200).eligible(low_target)
    assert Evidence.from_outcomes([U] * 20, 200).eligible(low_target)


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from([U, E, R, X]), max_size=120),
    st.integers(1, 60),
    st.floats(0.3, 0.99),
)
def test_eligible_exactly_when_bound_crosses_target(
    history: list[ReviewOutcome], min_reviews: int, target: float
) -> None:
    policy = AutonomyPolicy(min_reviews=min_reviews, target=target)
    ev = Evidence.from_outcomes(history, policy.window)
    reviews = [o for o in history if o != X]
    expected_bound = wilson_lower_bound(sum(o == U for o in reviews), len(reviews))
    assert ev.eligible(policy) == (len(reviews) >= min_reviews and expected_bound >= target)


@given(st.lists(st.sampled_from([U, E, X]), max_size=100))
def test_an_unchanged_streak_after_any_history_only_raises_the_bound(
    history: list[ReviewOutcome],
) -> None:
    before = Evidence.from_outcomes(history, 1000).lower_bound
    after = Evidence.from_outcomes([*history, U], 1000).lower_bound
    assert after >= before


def test_revocation_rules() -> None:
    assert revokes(R, material_edit=False)
    assert revokes(E, material_edit=True)
    assert not revokes(E, material_edit=False)
    assert not revokes(U, material_edit=False)
    assert not revokes(X, material_edit=False)  # an expiry is never a rejection


def test_material_edits() -> None:
    reply = "Hi Maria, I have refunded 30.00 USD to your card. It arrives in 5 days."
    action = {"kind": "refund", "amount": "30.00", "currency": "USD"}
    assert not is_material_edit(
        original_reply=reply, edited_reply=reply, original_action=action, edited_action=action
    )
    typo = reply.replace("arrives", "arrive")
    assert not is_material_edit(
        original_reply=reply, edited_reply=typo, original_action=action, edited_action=action
    )
    assert not is_material_edit(
        original_reply=reply,
        edited_reply=reply,
        original_action=action,
        edited_action={**action, "amount": "30"},  # the same amount written differently
    )
    assert is_material_edit(
        original_reply=reply,
        edited_reply=reply,
        original_action=action,
        edited_action={**action, "amount": "25.00"},
    )
    assert is_material_edit(
        original_reply=reply,
        edited_reply="We can't refund this order, sorry.",
        original_action=action,
        edited_action=action,
    )


# --- routing on top of the thresholds ---------------------------------------------------------


def test_untrusted_bucket_goes_to_review_in_shadow_mode() -> None:
    decision = decide_autonomy(
        base=REVIEW,
        floor=RiskLevel.LOW,
        state=BucketState(Evidence(approved_unchanged=5)),
        item_id="itm_1",
        policy=DEFAULT,
    )
    assert decision.route == Route.REVIEW
    assert decision.policy == "risk_threshold"
    assert decision.would_auto and not decision.sampled


def test_trusted_bucket_auto_executes_with_its_own_policy_name() -> None:
    unsampled = next(f"itm_{i}" for i in range(100) if not sampled(f"itm_{i}", 0.05))
    decision = decide_autonomy(
        base=REVIEW,
        floor=RiskLevel.LOW,
        state=_trusted_state(),
        item_id=unsampled,
        policy=DEFAULT,
    )
    assert decision.route == Route.AUTO and decision.policy == EARNED_AUTONOMY
    assert "200 of 200" in decision.why


def test_trusted_bucket_sends_its_sampled_items_to_review() -> None:
    chosen = next(f"itm_{i}" for i in range(1000) if sampled(f"itm_{i}", 0.05))
    decision = decide_autonomy(
        base=REVIEW, floor=RiskLevel.LOW, state=_trusted_state(), item_id=chosen, policy=DEFAULT
    )
    assert decision.route == Route.REVIEW and decision.policy == AUTONOMY_SAMPLE
    assert decision.sampled and decision.would_auto


def test_threshold_auto_items_stay_auto_and_are_not_shadowed() -> None:
    decision = decide_autonomy(
        base=AUTO, floor=RiskLevel.LOW, state=BucketState(Evidence()), item_id="x", policy=DEFAULT
    )
    assert (decision.route, decision.policy, decision.would_auto) == (
        Route.AUTO,
        "low_risk_auto",
        False,
    )


@given(
    base=st.sampled_from([REVIEW, AUTO, *HARD]),
    floor=st.sampled_from(list(RiskLevel)),
    unchanged=st.integers(0, 300),
    rejected=st.integers(0, 3),
    item_id=st.text(min_size=1, max_size=12),
    sample_share=st.floats(0, 1),
)
def test_pins_win_over_evidence(
    base: RouteDecision,
    floor: RiskLevel,
    unchanged: int,
    rejected: int,
    item_id: str,
    sample_share: float,
) -> None:
    # The thresholds never auto-execute an item whose rule floor is above its final risk.
    assume(not (base.route == Route.AUTO and floor.rank > base.risk.rank))
    policy = AutonomyPolicy(sample_share=sample_share)
    ev = Evidence(approved_unchanged=unchanged, rejected=rejected)
    review_pin = decide_autonomy(
        base=base,
        floor=floor,
        state=BucketState(ev, Pin.ALWAYS_REVIEW),
        item_id=item_id,
        policy=policy,
    )
    assert review_pin.route == Route.REVIEW
    allow_pin = decide_autonomy(
        base=base, floor=floor, state=BucketState(ev, Pin.ALLOW), item_id=item_id, policy=policy
    )
    if not hard_limited(base, floor):
        assert review_pin.policy == PINNED_REVIEW
        if base.route == Route.REVIEW and not sampled(item_id, sample_share):
            assert (allow_pin.route, allow_pin.policy) == (Route.AUTO, PINNED_ALLOW)


@given(
    hard=st.sampled_from(HARD),
    floor=st.sampled_from(list(RiskLevel)),
    pin=st.sampled_from(list(Pin)),
    unchanged=st.integers(0, 1000),
    item_id=st.text(max_size=12),
)
def test_hard_limits_always_win(
    hard: RouteDecision, floor: RiskLevel, pin: Pin, unchanged: int, item_id: str
) -> None:
    state = BucketState(Evidence(approved_unchanged=unchanged), pin)
    policy = AutonomyPolicy(min_reviews=1, target=0.01, sample_share=0.0)
    decision = decide_autonomy(base=hard, floor=floor, state=state, item_id=item_id, policy=policy)
    assert decision.route == Route.REVIEW and decision.policy == hard.policy
    assert not decision.would_auto


@given(pin=st.sampled_from(list(Pin)), unchanged=st.integers(0, 1000))
def test_critical_risk_never_auto_executes(pin: Pin, unchanged: int) -> None:
    state = BucketState(Evidence(approved_unchanged=unchanged), pin)
    policy = AutonomyPolicy(min_reviews=1, target=0.01, sample_share=0.0)
    for base, floor in (
        (REVIEW, RiskLevel.CRITICAL),
        (RouteDecision(Route.REVIEW, RiskLevel.CRITICAL, "risk_threshold", "c"), RiskLevel.LOW),
    ):
        decision = decide_autonomy(base=base, floor=floor, state=state, item_id="i", policy=policy)
        assert decision.route == Route.REVIEW


def test_a_reject_revokes_a_trusted_bucket_and_restarts_the_count() -> None:
    """Simulated history: evidence counts from the last revoking outcome on."""
    policy = AutonomyPolicy(min_reviews=3, target=0.5)
    history: list[ReviewOutcome] = []

    def trusted_now() -> bool:
        return BucketState(Evidence.from_outcomes(history, policy.window)).trusted(policy)

    needed = unchanged_streak_needed(policy.target)
    for _ in range(max(needed, policy.min_reviews)):
        assert not trusted_now()
        history.append(U)
    assert trusted_now()
    history.append(R)
    assert revokes(R, material_edit=False)
    history.clear()  # the store keeps only outcomes after the revocation
    assert not trusted_now()


@settings(max_examples=20)
@given(st.floats(0.01, 0.5), st.text(min_size=1, max_size=8))
def test_sampling_rate_holds_within_tolerance(share: float, prefix: str) -> None:
    n = 20_000
    hits = sum(sampled(f"{prefix}-{i}", share) for i in range(n))
    tolerance = 5 * math.sqrt(share * (1 - share) / n)  # five standard errors
    assert abs(hits / n - share) <= tolerance


@given(st.text(max_size=30), st.floats(0, 1))
def test_sampling_is_reproducible(item_id: str, share: float) -> None:
    assert sampled(item_id, share) == sampled(item_id, share)
    assert not sampled(item_id, 0.0) and sampled(item_id, 1.0)


def test_policy_validates_its_settings() -> None:
    bad: dict[str, Any]
    for bad in (
        {"min_reviews": 0},
        {"target": 1.0},
        {"target": 0.0},
        {"sample_share": 1.5},
        {"window": 5, "min_reviews": 10},
    ):
        with pytest.raises(ValueError):
            AutonomyPolicy(**bad)
