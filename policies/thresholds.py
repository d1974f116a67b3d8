"""Team-lead-controlled thresholds, with validation shared by the database seed and commands.

Values are stored as strings in the settings table so that a lead can change them from Slack;
``Thresholds.from_strings`` is the single place that turns them back into typed values and
explains what is wrong with a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation

from policies.risk_levels import RiskLevel


class InvalidThresholdError(ValueError):
    """A threshold value a lead typed (or the database holds) that cannot be used."""


@dataclass(frozen=True)
class Thresholds:
    # Highest risk level that may be executed without a human.
    auto_approve_max_risk: RiskLevel = RiskLevel.LOW
    # Refunds and credits strictly above this amount always go to a human.
    refund_auto_limit: Decimal = Decimal("50")
    # Kill switch: when true nothing is auto-executed.
    paused: bool = False

    @classmethod
    def from_strings(cls, values: Mapping[str, str]) -> Thresholds:
        """Build from stored strings; unknown keys are ignored, missing keys take defaults."""
        known = {f.name for f in fields(cls)}
        parsed: dict[str, object] = {}
        for key, raw in values.items():
            if key in known:
                parsed[key] = parse_threshold(key, raw)
        return cls(**parsed)  # type: ignore[arg-type]

    def to_strings(self) -> dict[str, str]:
        return {f.name: _format(getattr(self, f.name)) for f in fields(self)}


def parse_threshold(key: str, raw: str) -> RiskLevel | Decimal | bool:
    """Parse one threshold value; ``InvalidThresholdError`` says what a lead should type instead."""
    text = raw.strip()
    if key == "auto_approve_max_risk":
        try:
            return RiskLevel(text.lower())
        except ValueError:
            choices = ", ".join(level.value for level in RiskLevel)
            raise InvalidThresholdError(f"{key} must be one of {choices}, not {raw!r}") from None
    if key == "refund_auto_limit":
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


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
