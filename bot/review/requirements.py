"""How many approvals, and whose, an item needs: the pipeline asks when it routes, every click
asks again when it counts (quorum rules live in ``policies.quorum``; this reads the item)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.lead_settings.registry import LeadSettings
from bot.store.models import Item
from policies.quorum import ApprovalRequirement, approval_requirement
from policies.risk_levels import RiskLevel


def _amount(action: dict[str, Any] | None) -> Decimal | None:
    value = (action or {}).get("amount")
    return Decimal(str(value)) if value is not None else None


def risk_of(item: Item) -> RiskLevel:
    """The item's stored risk; missing or unknown reads as high (fail closed)."""
    try:
        return RiskLevel(item.risk_level or "high")
    except ValueError:
        return RiskLevel.HIGH


def requirement_for(item: Item, policy: LeadSettings) -> ApprovalRequirement:
    action = item.proposed_action or {"kind": "reply"}
    currency = action.get("currency")
    return approval_requirement(
        action_kind=str(action.get("kind", "reply")),
        amount=_amount(action),
        risk=risk_of(item),
        quorum_amount=policy.quorum_amount,
        currency=str(currency) if currency else None,
        home_currency=policy.thresholds.currency,
        quorum_approvers=policy.quorum_approvers,
    )


def approval_count(count: int, requirement: ApprovalRequirement) -> str:
    """``1 of 2``; past the count but still short of a lead: ``2 approvals``."""
    if count < requirement.approvals:
        return f"{count} of {requirement.approvals}"
    return f"{count} approval" + ("s" if count > 1 else "")
