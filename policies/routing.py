"""Auto-execute or ask a human: the one decision every item goes through."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from policies.risk_levels import RiskLevel, highest
from policies.risk_rules import MONEY_ACTIONS, RiskFloor, TicketFacts
from policies.thresholds import Thresholds


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
    money_over_limit = facts.action_kind in MONEY_ACTIONS and (
        facts.amount is None or facts.amount > thresholds.refund_auto_limit
    )
    if money_over_limit:
        return RouteDecision(
            Route.REVIEW,
            risk,
            "refund_limit",
            f"above the auto limit of {thresholds.refund_auto_limit}",
        )
    if risk.rank > thresholds.auto_approve_max_risk.rank:
        return RouteDecision(
            Route.REVIEW,
            risk,
            "risk_threshold",
            f"{risk.value} risk is above the auto-approve level "
            f"({thresholds.auto_approve_max_risk.value})",
        )
    return RouteDecision(
        Route.AUTO,
        risk,
        "low_risk_auto",
        f"{risk.value} risk at or below the auto-approve level "
        f"({thresholds.auto_approve_max_risk.value})",
    )
