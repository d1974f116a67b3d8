"""Rules that set the floor of risk from facts, whatever a classifier or model says.

This is the part of the system that must hold even when the model is wrong or manipulated
(OWASP LLM01/LLM06): it looks only at facts that code can check — the action kind, the amount
and its currency (proposed and requested), the customer's tier and words in the ticket — never
at the model's own risk opinion.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from policies.injection import looks_like_injection
from policies.risk_levels import RiskLevel, highest
from policies.text import SCAN_LIMIT, normalise_text, scanned
from policies.thresholds import Thresholds

MONEY_ACTIONS = frozenset({"refund", "credit"})
KNOWN_ACTIONS = MONEY_ACTIONS | {"reply", "update_field", "escalate"}

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
    currency: str | None = None
    category: str | None = None
    # What the source itself asked for (a webhook's ``requested_action``): its money counts
    # against the limits even when the classifier proposes something else (an escalation, say).
    requested_kind: str | None = None
    requested_amount: Decimal | None = None
    requested_currency: str | None = None

    @classmethod
    def of(
        cls,
        *,
        text: str,
        action: Mapping[str, Any] | None,
        requested: Mapping[str, Any] | None = None,
        customer_tier: str | None = None,
        sentiment: str | None = None,
        category: str | None = None,
    ) -> TicketFacts:
        """Facts from plain action dicts (``{"kind", "amount", "currency", ...}``), the way the
        pipeline, edits, replays and the evaluation all hold them."""
        proposed = action or {"kind": "reply"}
        return cls(
            text=text,
            action_kind=str(proposed.get("kind") or "reply"),
            amount=_decimal(proposed.get("amount")),
            currency=_text(proposed.get("currency")),
            customer_tier=customer_tier,
            sentiment=sentiment,
            category=category,
            requested_kind=_text(requested.get("kind")) if requested else None,
            requested_amount=_decimal(requested.get("amount")) if requested else None,
            requested_currency=_text(requested.get("currency")) if requested else None,
        )

    def money(self) -> list[tuple[str, Decimal | None, str | None]]:
        """Every money action in play: the proposed one and the requested one."""
        found = []
        if self.action_kind in MONEY_ACTIONS:
            found.append((self.action_kind, self.amount, self.currency))
        if self.requested_kind in MONEY_ACTIONS:
            found.append((self.requested_kind, self.requested_amount, self.requested_currency))
        return found


def _decimal(value: object) -> Decimal | None:
    """An amount, or None when there is none; an unreadable one counts as none (so: human)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        return None
    return amount if amount.is_finite() else None


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


@dataclass(frozen=True)
class RiskFloor:
    level: RiskLevel
    reasons: tuple[str, ...] = field(default_factory=tuple)
    # Rules no threshold, earned autonomy or pin may override: a human always decides.
    human_only: tuple[str, ...] = field(default_factory=tuple)


def money_over_limit(facts: TicketFacts, thresholds: Thresholds) -> str | None:
    """Why the money in play must go to a human (no amount, another currency, above the limit),
    or None. The one place routing, the risk floor and replays ask."""
    limit = thresholds.refund_auto_limit
    for kind, amount, currency in facts.money():
        if amount is None:
            return f"{kind} without a stated amount"
        if currency is not None and currency.upper() != thresholds.currency:
            return (
                f"{kind} in {currency.upper()}: the limits are set in {thresholds.currency}, "
                "so a human decides"
            )
        if amount > limit:
            return f"{kind} of {amount} is above the auto limit of {limit}"
    return None


def unrequested_money(facts: TicketFacts) -> str | None:
    """Why a proposed refund or credit is not the source's own structured request, or None.

    Money that only a reading of the text found (the heuristic's, a model's, a misread amount)
    always needs a human, whatever thresholds, pins or earned autonomy say: the reading stays on
    the card as information. Only a ``requested_action`` of the same kind, amount and currency
    (which the source's own system sent) may run without one.
    """
    kind = facts.action_kind
    if kind not in MONEY_ACTIONS:
        return None
    proposed = f"{kind} {_shown(facts.amount)} {facts.currency or ''}".strip()
    if facts.requested_kind is None:
        return (
            f"{proposed} was read from the ticket's text; the source did not request it as a "
            "structured action, so a human decides"
        )
    same_currency = (
        facts.currency is None
        or facts.requested_currency is None
        or facts.currency.upper() == facts.requested_currency.upper()
    )
    if facts.requested_kind != kind or facts.amount != facts.requested_amount or not same_currency:
        requested = (
            f"{facts.requested_kind} {_shown(facts.requested_amount)} "
            f"{facts.requested_currency or ''}"
        ).strip()
        return f"{proposed} differs from what the source requested ({requested}): a human decides"
    return None


def _shown(amount: Decimal | None) -> str:
    return "(no amount)" if amount is None else f"{amount:.2f}"


def risk_floor(facts: TicketFacts, thresholds: Thresholds) -> RiskFloor:
    """The minimum risk the facts justify, with one reason per rule that fired."""
    text = normalise_text(scanned(facts.text))
    level = RiskLevel.LOW
    reasons: list[str] = []
    human_only: list[str] = []

    if len(facts.text) > SCAN_LIMIT:
        # The rules below read the start only: what hides after it is for a person to read.
        reason = (
            f"too long to check in full (first {SCAN_LIMIT:,} characters read): a human decides"
        )
        level = highest(level, RiskLevel.HIGH)
        reasons.append(reason)
        human_only.append(reason)

    money = money_over_limit(facts, thresholds)
    if money is not None:
        level = highest(level, RiskLevel.HIGH)
        reasons.append(money)
    unrequested = unrequested_money(facts)
    if unrequested is not None:
        level = highest(level, RiskLevel.HIGH)
        reasons.append(unrequested)
        human_only.append(unrequested)
    if facts.action_kind == "update_field" or facts.requested_kind == "update_field":
        level = highest(level, RiskLevel.MEDIUM)
        reasons.append("changes customer data")
    if facts.action_kind not in KNOWN_ACTIONS:
        level = highest(level, RiskLevel.HIGH)
        reasons.append(f"unknown action kind {facts.action_kind!r}")

    if looks_like_injection(facts.text):
        level = highest(level, RiskLevel.HIGH)
        reason = "ticket contains instructions addressed to the AI: a human decides"
        reasons.append(reason)
        human_only.append(reason)
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

    return RiskFloor(level=level, reasons=tuple(reasons), human_only=tuple(human_only))
