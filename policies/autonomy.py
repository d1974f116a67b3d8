"""Earned autonomy: which kinds of work a human no longer needs to see, decided from evidence.

Trust is kept per *bucket* (category, action kind and risk level, plus an amount band for money
actions) because "refunds under $25 for billing questions" can be safe long before "refunds of
$250" are. A bucket is trusted when the lower bound of a 95% Wilson score interval on the share of
reviews approved *unchanged* reaches the lead-set target over at least ``min_reviews`` reviews
since the bucket was last revoked. The lower bound, not the observed rate, is what makes a short
lucky streak insufficient: with every review approved unchanged, the bound reaches 0.95 only after
73 reviews in a row.

Everything here is a pure function of its arguments (no clock, no randomness, no database), so the
rules can be tested exhaustively and the routing step stays reproducible: the sampling draw is a
hash of the item id, so the same item is always sampled the same way.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from difflib import SequenceMatcher
from enum import StrEnum
from typing import Any

from policies.risk_levels import RiskLevel
from policies.risk_rules import MONEY_ACTIONS
from policies.routing import CRITICAL_RISK, HUMAN_ONLY, Route, RouteDecision

# Two-sided 95%: the 97.5th percentile of the standard normal distribution.
Z_95 = 1.959963984540054

# Upper edges of the amount bands for money actions; above the last edge is one open band.
AMOUNT_BAND_EDGES: tuple[Decimal, ...] = tuple(
    Decimal(edge) for edge in ("10", "25", "50", "100", "250", "500", "1000", "5000")
)

# Route policies that no evidence and no pin may override: the item goes to a human.
HARD_LIMIT_POLICIES = frozenset(
    {"assessment_unavailable", "paused", "refund_limit", HUMAN_ONLY, CRITICAL_RISK}
)

EARNED_AUTONOMY = "earned_autonomy"
PINNED_ALLOW = "pinned_allow"
PINNED_REVIEW = "pinned_review"
AUTONOMY_SAMPLE = "autonomy_sample"

# A reply edited below this similarity to the AI's draft (difflib ratio over words) is a
# material edit.
MATERIAL_REPLY_SIMILARITY = 0.9


class ReviewOutcome(StrEnum):
    """What a human did with one item of a bucket. ``EXPIRED`` is kept but is not a review:
    nobody looked, so it neither earns nor costs trust."""

    APPROVED_UNCHANGED = "approved_unchanged"
    APPROVED_AFTER_EDIT = "approved_after_edit"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Pin(StrEnum):
    NONE = "none"
    ALWAYS_REVIEW = "always_review"
    ALLOW = "allow"


@dataclass(frozen=True)
class BucketKey:
    category: str
    action_kind: str
    risk: str
    amount_band: str | None = None

    def __str__(self) -> str:
        parts = [self.category, self.action_kind, self.risk]
        if self.amount_band is not None:
            parts.append(self.amount_band)
        return "/".join(parts)

    @classmethod
    def parse(cls, text: str) -> BucketKey:
        """Inverse of ``str``; raises ``ValueError`` on text that is not a bucket key."""
        parts = text.strip().split("/")
        if len(parts) not in {3, 4} or not all(parts):
            raise ValueError(f"{text!r} is not a bucket (category/action/risk[/band])")
        try:
            RiskLevel(parts[2])
        except ValueError:
            raise ValueError(f"{parts[2]!r} is not a risk level") from None
        return cls(parts[0], parts[1], parts[2], parts[3] if len(parts) == 4 else None)


def amount_band(amount: Decimal | None) -> str:
    """The band an amount falls in, e.g. ``25-50`` (upper edge inclusive) or ``5000+``."""
    if amount is None:
        return "no-amount"
    lower = Decimal(0)
    for edge in AMOUNT_BAND_EDGES:
        if amount <= edge:
            return f"{_plain(lower)}-{_plain(edge)}"
        lower = edge
    return f"{_plain(lower)}+"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def bucket_key(
    *, category: str | None, action_kind: str, risk: RiskLevel, amount: Decimal | None
) -> BucketKey:
    return BucketKey(
        category=(category or "unassessed").strip().lower() or "unassessed",
        action_kind=action_kind,
        risk=risk.value,
        amount_band=amount_band(amount) if action_kind in MONEY_ACTIONS else None,
    )


def wilson_lower_bound(successes: int, trials: int, z: float = Z_95) -> float:
    """Lower bound of the Wilson score interval for a binomial proportion (0 with no trials)."""
    if trials <= 0:
        return 0.0
    if not 0 <= successes <= trials:
        raise ValueError("successes must be between 0 and trials")
    if successes == 0:
        return 0.0  # exact; the formula leaves floating-point dust
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    margin = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return max(0.0, (centre - margin) / (1 + z2 / trials))


def unchanged_streak_needed(target: float, z: float = Z_95) -> int:
    """How many reviews, all approved unchanged, make the bound reach ``target``.

    With no failures the bound is n / (n + z²), so n >= z² * target / (1 - target).
    """
    if not 0 < target < 1:
        raise ValueError("target must be between 0 and 1")
    n = math.ceil(z * z * target / (1 - target))
    while wilson_lower_bound(n, n, z) < target:  # floating point: never answer one short
        n += 1
    while n > 1 and wilson_lower_bound(n - 1, n - 1, z) >= target:
        n -= 1
    return n


@dataclass(frozen=True)
class AutonomyPolicy:
    min_reviews: int = 20
    target: float = 0.95
    # Share of items in a trusted bucket still sent to a human, so the evidence stays fresh.
    sample_share: float = 0.05
    # Only the most recent reviews since the last revocation count.
    window: int = 200

    def __post_init__(self) -> None:
        if self.min_reviews < 1:
            raise ValueError("min_reviews must be at least 1")
        if not 0 < self.target < 1:
            raise ValueError("target must be between 0 and 1")
        if not 0 <= self.sample_share <= 1:
            raise ValueError("sample_share must be between 0 and 1")
        if self.window < self.min_reviews:
            raise ValueError("window must hold at least min_reviews reviews")


@dataclass(frozen=True)
class Evidence:
    """Counts over the reviews that count (since the last revocation, newest ``window``)."""

    approved_unchanged: int = 0
    approved_after_edit: int = 0
    rejected: int = 0
    expired: int = 0

    @property
    def reviews(self) -> int:
        return self.approved_unchanged + self.approved_after_edit + self.rejected

    @property
    def lower_bound(self) -> float:
        return wilson_lower_bound(self.approved_unchanged, self.reviews)

    def eligible(self, policy: AutonomyPolicy) -> bool:
        return self.reviews >= policy.min_reviews and self.lower_bound >= policy.target

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[ReviewOutcome], window: int) -> Evidence:
        """``outcomes`` oldest first, already limited to those after the last revocation."""
        all_outcomes = list(outcomes)
        counted = [o for o in all_outcomes if o != ReviewOutcome.EXPIRED]
        recent = counted[-window:] if window > 0 else []
        return cls(
            approved_unchanged=sum(o == ReviewOutcome.APPROVED_UNCHANGED for o in recent),
            approved_after_edit=sum(o == ReviewOutcome.APPROVED_AFTER_EDIT for o in recent),
            rejected=sum(o == ReviewOutcome.REJECTED for o in recent),
            expired=sum(o == ReviewOutcome.EXPIRED for o in all_outcomes),
        )


def revokes(outcome: ReviewOutcome, *, material_edit: bool) -> bool:
    """One reject or one material edit ends a bucket's trust at once (and restarts its count)."""
    return outcome == ReviewOutcome.REJECTED or (
        outcome == ReviewOutcome.APPROVED_AFTER_EDIT and material_edit
    )


def is_material_edit(
    *,
    original_reply: str | None,
    edited_reply: str | None,
    original_action: Mapping[str, Any] | None,
    edited_action: Mapping[str, Any] | None,
    min_similarity: float = MATERIAL_REPLY_SIMILARITY,
) -> bool:
    """A changed action (kind, amount, field…) or a reply rewritten beyond small touch-ups.

    Fixing a typo or a greeting should not cost a bucket its trust; changing what is done or
    what is said should.
    """
    if _normal_action(original_action) != _normal_action(edited_action):
        return True
    return reply_similarity(original_reply, edited_reply) < min_similarity


_TOKENS = re.compile(r"\w+|[^\w\s]")


def reply_similarity(before: str | None, after: str | None) -> float:
    """difflib's ratio over words and punctuation (1.0 = the same text).

    Words rather than characters: as meaningful for prose, and fast enough for long drafts.
    """
    a, b = (before or "").strip(), (after or "").strip()
    if a == b:
        return 1.0
    return SequenceMatcher(None, _TOKENS.findall(a), _TOKENS.findall(b), autojunk=False).ratio()


def _normal_action(action: Mapping[str, Any] | None) -> dict[str, str]:
    if not action:
        return {}
    normal: dict[str, str] = {}
    for key, value in action.items():
        if value is None:
            continue
        if key == "amount":
            try:
                normal[key] = _plain(Decimal(str(value)))
                continue
            except ArithmeticError:
                pass
        normal[key] = str(value).strip()
    return normal


def sampled(item_id: str, share: float, *, salt: str = "autonomy-sample") -> bool:
    """A reproducible draw: True for about ``share`` of item ids, always the same for one id."""
    if share <= 0:
        return False
    if share >= 1:
        return True
    digest = hashlib.sha256(f"{salt}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


@dataclass(frozen=True)
class BucketState:
    evidence: Evidence
    pin: Pin = Pin.NONE

    def trusted(self, policy: AutonomyPolicy) -> bool:
        if self.pin == Pin.ALWAYS_REVIEW:
            return False
        return self.pin == Pin.ALLOW or self.evidence.eligible(policy)


@dataclass(frozen=True)
class AutonomyDecision:
    route: Route
    policy: str
    why: str
    # The bucket would have auto-executed this item if it were trusted (shadow mode), or it is
    # trusted and this item was sampled for review.
    would_auto: bool = False
    sampled: bool = False


def hard_limited(base: RouteDecision, floor: RiskLevel) -> bool:
    """Limits no evidence and no pin overrides: no assessment, paused, money above the refund
    limit (or in another currency), a ticket that addresses the AI, and critical risk (legal
    words, chargebacks, regulators set a critical floor)."""
    return (
        base.policy in HARD_LIMIT_POLICIES
        or floor == RiskLevel.CRITICAL
        or base.risk == RiskLevel.CRITICAL
    )


def decide_autonomy(
    *,
    base: RouteDecision,
    floor: RiskLevel,
    state: BucketState,
    item_id: str,
    policy: AutonomyPolicy,
) -> AutonomyDecision:
    """Apply a bucket's earned (or pinned) autonomy on top of the threshold route ``base``.

    Order matters and is the whole policy: hard limits win over everything; a pin to
    always-review wins over evidence and thresholds; an item the thresholds already auto-execute
    stays auto; otherwise a trusted bucket auto-executes except for its sampled share.
    """
    keep = AutonomyDecision(base.route, base.policy, base.why)
    if hard_limited(base, floor):
        return keep
    if state.pin == Pin.ALWAYS_REVIEW:
        return AutonomyDecision(
            Route.REVIEW, PINNED_REVIEW, "a lead pinned this kind of work to always-review"
        )
    if base.route == Route.AUTO:
        return keep
    if not state.trusted(policy):
        return AutonomyDecision(base.route, base.policy, base.why, would_auto=True)
    if sampled(item_id, policy.sample_share):
        return AutonomyDecision(
            Route.REVIEW,
            AUTONOMY_SAMPLE,
            f"trusted, but sampled for review ({policy.sample_share:.0%} of items) to keep the "
            "evidence fresh",
            would_auto=True,
            sampled=True,
        )
    if state.pin == Pin.ALLOW:
        return AutonomyDecision(Route.AUTO, PINNED_ALLOW, "a lead allowed this kind of work")
    ev = state.evidence
    return AutonomyDecision(
        Route.AUTO,
        EARNED_AUTONOMY,
        f"{ev.approved_unchanged} of {ev.reviews} reviews approved unchanged; 95% lower bound "
        f"{ev.lower_bound:.3f} ≥ target {policy.target:.3f}",
    )
