"""Team-lead-controlled thresholds, with validation shared by the database seed and commands.

Values are stored as strings in the settings table so that a lead can change them from Slack;
``Thresholds.from_strings`` is the single place that turns them back into typed values and
explains what is wrong with a bad one. The currency the amounts are in is the deploy's
(``SIGNOFF_CURRENCY``), not a lead's setting: it says what the numbers mean.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

from policies.errors import PolicyInputError
from policies.risk_levels import RiskLevel

MAX_RISK = "auto_approve_max_risk"
# ``auto_approve_max_risk.<category>``: the same threshold for one category only.
CATEGORY_PREFIX = MAX_RISK + "."
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,41}$")
# Critical risk (legal threats, chargebacks, regulators) always needs a human; a lead cannot set
# a threshold that would auto-execute it.
SETTABLE_RISKS = (RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH)
# Budgets for money executed without a human (see ``Thresholds``).
AUTO_MONEY_PER_CUSTOMER = "auto_money_per_customer"
AUTO_MONEY_PER_DAY = "auto_money_per_day"
# Thresholds that are amounts in the deploy's currency.
AMOUNT_KEYS = frozenset({"refund_auto_limit", AUTO_MONEY_PER_CUSTOMER, AUTO_MONEY_PER_DAY})


class InvalidThresholdError(PolicyInputError):
    """A threshold value a lead typed (or the database holds) that cannot be used."""


@dataclass(frozen=True)
class Thresholds:
    # Highest risk level that may be executed without a human.
    auto_approve_max_risk: RiskLevel = RiskLevel.LOW
    # Refunds and credits strictly above this amount always go to a human.
    refund_auto_limit: Decimal = Decimal("50")
    # Kill switch: when true nothing is auto-executed.
    paused: bool = False
    # Per-category overrides of ``auto_approve_max_risk`` (e.g. password resets up to medium).
    category_max_risk: Mapping[str, RiskLevel] = field(default_factory=dict)
    # The currency of ``refund_auto_limit`` (and the quorum amount): money in any other currency
    # is treated as above every limit, since the numbers cannot be compared.
    currency: str = "USD"
    # Money executed without a human (in ``currency``): at most this much per customer over a
    # rolling 30 days, and at most this much for everyone together per UTC day. A money action
    # that would pass either goes to a human (``policies.money_budget``).
    auto_money_per_customer: Decimal = Decimal("50")
    auto_money_per_day: Decimal = Decimal("500")

    def max_risk_for(self, category: str | None) -> RiskLevel:
        if category is not None and category in self.category_max_risk:
            return self.category_max_risk[category]
        return self.auto_approve_max_risk

    @classmethod
    def from_strings(cls, values: Mapping[str, str], *, currency: str = "USD") -> Thresholds:
        """Build from stored strings; unknown keys are ignored, missing keys take defaults."""
        known = {MAX_RISK, "paused", *AMOUNT_KEYS}
        parsed: dict[str, object] = {}
        categories: dict[str, RiskLevel] = {}
        for key, raw in values.items():
            if key == MAX_RISK:
                parsed[key] = _risk(key, raw, stored=True)
            elif key in known:
                parsed[key] = parse_threshold(key, raw)
            elif key.startswith(CATEGORY_PREFIX):
                categories[key.removeprefix(CATEGORY_PREFIX)] = _risk(key, raw, stored=True)
        return cls(**parsed, category_max_risk=categories, currency=currency)  # type: ignore[arg-type]

    def to_strings(self) -> dict[str, str]:
        """What the settings table holds (the currency is the deploy's, so it is not stored)."""
        values = {
            MAX_RISK: self.auto_approve_max_risk.value,
            "refund_auto_limit": str(self.refund_auto_limit),
            "paused": "true" if self.paused else "false",
            AUTO_MONEY_PER_CUSTOMER: str(self.auto_money_per_customer),
            AUTO_MONEY_PER_DAY: str(self.auto_money_per_day),
        }
        for category, level in sorted(self.category_max_risk.items()):
            values[CATEGORY_PREFIX + category] = level.value
        return values

    def with_value(self, key: str, stored: str) -> Thresholds:
        """These thresholds with one stored value changed (a dry run's "what if")."""
        values = self.to_strings()
        values[key] = stored
        return Thresholds.from_strings(values, currency=self.currency)

    def in_currency(self, currency: str) -> Thresholds:
        return replace(self, currency=currency)


def is_threshold_key(key: str) -> bool:
    return key in {MAX_RISK, "paused", *AMOUNT_KEYS} or (
        key.startswith(CATEGORY_PREFIX) and bool(_CATEGORY.match(key.removeprefix(CATEGORY_PREFIX)))
    )


def parse_threshold(key: str, raw: str) -> RiskLevel | Decimal | bool:
    """Parse one threshold value; ``InvalidThresholdError`` says what a lead should type instead."""
    text = raw.strip()
    if key == MAX_RISK or key.startswith(CATEGORY_PREFIX):
        if key != MAX_RISK and not _CATEGORY.match(key.removeprefix(CATEGORY_PREFIX)):
            raise InvalidThresholdError(
                f"{key!r}: a category is lower-case letters, digits, '_' or '-'"
            )
        return _risk(key, raw)
    if key in AMOUNT_KEYS:
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidThresholdError(f"{key} must be a number, not {raw!r}") from None
        if not amount.is_finite() or amount < 0:
            raise InvalidThresholdError(f"{key} must be zero or more, not {raw!r}")
        return amount
    if key == "paused":
        if text.lower() in {"true", "1", "yes", "on"}:
            return True
        if text.lower() in {"false", "0", "no", "off"}:
            return False
        raise InvalidThresholdError(f"{key} must be true or false, not {raw!r}")
    raise InvalidThresholdError(f"unknown setting {key!r}")


def _risk(key: str, raw: str, *, stored: bool = False) -> RiskLevel:
    """A risk threshold. A stored ``critical`` (set before it was refused) still loads: routing
    never auto-executes critical risk whatever the threshold says."""
    text = raw.strip().lower()
    choices = ", ".join(level.value for level in SETTABLE_RISKS)
    if text == RiskLevel.CRITICAL.value and not stored:
        raise InvalidThresholdError(
            f"{key} cannot be critical: critical risk always needs a human (use {choices})"
        )
    try:
        return RiskLevel(text)
    except ValueError:
        raise InvalidThresholdError(f"{key} must be one of {choices}, not {raw!r}") from None
