"""Risk levels and their ordering.

A ``StrEnum`` keeps the value readable in the database and in Slack while ``rank`` gives the
ordering that "the model can only raise risk" depends on.
"""

from __future__ import annotations

from enum import StrEnum


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)


_ORDER = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH, RiskLevel.CRITICAL]


def highest(*levels: RiskLevel) -> RiskLevel:
    """The most severe of ``levels``; used to combine the rule floor with the model's opinion."""
    return max(levels, key=lambda level: level.rank)
