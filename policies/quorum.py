"""How many people must approve an item, and whether one of them must be a lead.

A pure function of the action and its risk, so an edit that raises a refund re-runs exactly the
same rule as the first assessment did, and an edit can never lower what the facts require.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from policies.risk_levels import RiskLevel
from policies.risk_rules import MONEY_ACTIONS


@dataclass(frozen=True)
class ApprovalRequirement:
    approvals: int
    lead_required: bool
    why: str

    def describe(self) -> str:
        people = "1 approval" if self.approvals == 1 else f"{self.approvals} distinct approvals"
        lead = ", one of them by a lead" if self.lead_required else ""
        return f"needs {people}{lead}"


def approval_requirement(
    *,
    action_kind: str,
    amount: Decimal | None,
    risk: RiskLevel,
    quorum_amount: Decimal,
    currency: str | None = None,
    home_currency: str = "USD",
    quorum_approvers: int = 2,
) -> ApprovalRequirement:
    """Refunds and credits above ``quorum_amount`` (or without an amount, or in a currency other
    than the one the amount is set in) need ``quorum_approvers`` distinct approvers; critical
    risk (legal words, a regulator, a chargeback) needs a lead among the approvers."""
    reasons: list[str] = []
    approvals = 1
    if action_kind in MONEY_ACTIONS:
        foreign = currency is not None and currency.upper() != home_currency
        if amount is None:
            reasons.append(f"{action_kind}: no stated amount (quorum amount)")
        elif foreign:
            reasons.append(
                f"{action_kind} in {currency}: the quorum amount is set in {home_currency}"
            )
        elif amount > quorum_amount:
            reasons.append(f"{action_kind}: {amount} is above {quorum_amount} (quorum amount)")
        if reasons:
            approvals = max(2, quorum_approvers)
    lead_required = risk == RiskLevel.CRITICAL
    if lead_required:
        reasons.append("critical risk needs a lead")
    return ApprovalRequirement(approvals, lead_required, "; ".join(reasons) or "standard review")


def quorum_met(
    approvers: Collection[str], requirement: ApprovalRequirement, *, leads: Collection[str]
) -> bool:
    distinct = set(approvers)
    if len(distinct) < requirement.approvals:
        return False
    return not requirement.lead_required or any(user in leads for user in distinct)


def missing_approvals(
    approvers: Collection[str], requirement: ApprovalRequirement, *, leads: Collection[str]
) -> str:
    """What is still missing, in words for the card and the ephemeral answer."""
    distinct = set(approvers)
    parts: list[str] = []
    still = requirement.approvals - len(distinct)
    if still > 0:
        parts.append(f"{still} more approval" + ("s" if still > 1 else ""))
    if requirement.lead_required and not any(user in leads for user in distinct):
        parts.append("a lead's approval")
    return " and ".join(parts) or "nothing"
