"""Auto-execute or ask a human: the one decision every item goes through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from policies.risk_levels import RiskLevel, highest
from policies.risk_rules import RiskFloor, TicketFacts, money_over_limit
from policies.thresholds import Thresholds

# Policies that send an item to review whatever thresholds, evidence or pins say.
HUMAN_ONLY = "human_only"
CRITICAL_RISK = "critical_risk"


class Route(StrEnum):
    AUTO = "auto"
    REVIEW = "review"


@dataclass(frozen=True)
class RouteDecision:
    route: Route
    risk: RiskLevel
    # Name of the policy that allowed an auto-execution, or that sent the item to review.
    policy: str
    why: str


def decide_route(
    *,
    facts: TicketFacts,
    floor: RiskFloor,
    model_risk: RiskLevel | None,
    thresholds: Thresholds,
) -> RouteDecision:
    """Combine the rule floor and the model's risk (which can only raise it) and pick a route.

    ``model_risk`` is ``None`` when the assessment failed; a failed assessment never auto-executes.
    """
    risk = floor.level if model_risk is None else highest(floor.level, model_risk)
    if model_risk is None:
        return RouteDecision(Route.REVIEW, risk, "assessment_unavailable", "no usable assessment")
    if thresholds.paused:
        return RouteDecision(Route.REVIEW, risk, "paused", "auto-execution is paused by a lead")
    if floor.human_only:
        return RouteDecision(Route.REVIEW, risk, HUMAN_ONLY, floor.human_only[0])
    money = money_over_limit(facts, thresholds)
    if money is not None:
        return RouteDecision(Route.REVIEW, risk, "refund_limit", money)
    if risk == RiskLevel.CRITICAL:
        return RouteDecision(
            Route.REVIEW, risk, CRITICAL_RISK, "critical risk always needs a human"
        )
    allowed = thresholds.max_risk_for(facts.category)
    scope = (
        f" for {facts.category}"
        if facts.category is not None and facts.category in thresholds.category_max_risk
        else ""
    )
    if risk.rank > allowed.rank:
        return RouteDecision(
            Route.REVIEW,
            risk,
            "risk_threshold",
            f"{risk.value} risk is above the auto-approve level{scope} ({allowed.value})",
        )
    return RouteDecision(
        Route.AUTO,
        risk,
        "low_risk_auto",
        f"{risk.value} risk at or below the auto-approve level{scope} ({allowed.value})",
    )
