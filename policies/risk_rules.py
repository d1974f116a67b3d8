"""Rules that set the floor of risk from facts, whatever a classifier or model says.

This is the part of the system that must hold even when the model is wrong or manipulated
(OWASP LLM01/LLM06): it looks only at facts that code can check — the action kind, the amount,
the customer's tier and words in the ticket — never at the model's own risk opinion.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from policies.risk_levels import RiskLevel, highest
from policies.thresholds import Thresholds

MONEY_ACTIONS = frozenset({"refund", "credit"})

# Words that mean a lawyer, a regulator or a bank may get involved: always a human, always urgent.
_LEGAL_WORDS = re.compile(
    r"\b(lawyer|attorney|solicitor|legal action|lawsuit|sue|suing|court|small claims|"
    r"chargeback|charge back|dispute[sd]? (?:the|this) (?:charge|payment)|ombudsman|regulator|"
    r"gdpr|data protection|subject access request|cease and desist|fraud)\b",
    re.IGNORECASE,
)
_ANGRY_WORDS = re.compile(
    r"\b(furious|outraged|unacceptable|disgusted|scam|ripped off|worst|terrible|horrible|"
    r"ridiculous|angry|livid|fed up|never again|cancel everything)\b",
    re.IGNORECASE,
)
_ELEVATED_TIERS = frozenset({"enterprise", "vip", "strategic"})


@dataclass(frozen=True)
class TicketFacts:
    """What the rules may look at: facts from the source and the proposed action, nothing else."""

    text: str
    action_kind: str
    amount: Decimal | None = None
    customer_tier: str | None = None
    # The assessment's reading of the customer ("negative", "neutral", "positive"); a negative
    # reading is a floor the model cannot argue its own risk level below.
    sentiment: str | None = None


@dataclass(frozen=True)
class RiskFloor:
    level: RiskLevel
    reasons: tuple[str, ...] = field(default_factory=tuple)


def normalise_text(text: str) -> str:
    """Fold Unicode tricks (full-width letters, zero-width joiners) so keyword rules still match."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


def risk_floor(facts: TicketFacts, thresholds: Thresholds) -> RiskFloor:
    """The minimum risk the facts justify, with one reason per rule that fired."""
    text = normalise_text(facts.text)
    level = RiskLevel.LOW
    reasons: list[str] = []

    if facts.action_kind in MONEY_ACTIONS:
        if facts.amount is None:
            level = highest(level, RiskLevel.HIGH)
            reasons.append(f"{facts.action_kind} without a stated amount")
        elif facts.amount > thresholds.refund_auto_limit:
            level = highest(level, RiskLevel.HIGH)
            reasons.append(
                f"{facts.action_kind} of {facts.amount} is above the auto limit "
                f"of {thresholds.refund_auto_limit}"
            )
        else:
            level = highest(level, RiskLevel.LOW)
    elif facts.action_kind == "update_field":
        level = highest(level, RiskLevel.MEDIUM)
        reasons.append("changes customer data")
    elif facts.action_kind not in {"reply", "escalate"}:
        level = highest(level, RiskLevel.HIGH)
        reasons.append(f"unknown action kind {facts.action_kind!r}")

    if _LEGAL_WORDS.search(text):
        level = highest(level, RiskLevel.CRITICAL)
        reasons.append("mentions legal action, a chargeback or a regulator")
    if _ANGRY_WORDS.search(text):
        level = highest(level, RiskLevel.MEDIUM)
        reasons.append("customer is upset")
    if (facts.sentiment or "").lower() == "negative":
        level = highest(level, RiskLevel.MEDIUM)
        reasons.append("customer sentiment is negative")
    if (facts.customer_tier or "").lower() in _ELEVATED_TIERS:
        level = highest(level, RiskLevel.MEDIUM)
        reasons.append(f"{facts.customer_tier} customer")

    return RiskFloor(level=level, reasons=tuple(reasons))
