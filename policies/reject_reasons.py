"""The fixed taxonomy of reject reasons: a short list so rejections can be counted and learned
from, plus free text for the particulars."""

from __future__ import annotations

from enum import StrEnum


class RejectReason(StrEnum):
    WRONG_FACTS = "wrong_facts"
    WRONG_TONE = "wrong_tone"
    POLICY_VIOLATION = "policy_violation"
    SHOULD_NOT_ACT = "should_not_act"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    RejectReason.WRONG_FACTS: "Wrong facts",
    RejectReason.WRONG_TONE: "Wrong tone",
    RejectReason.POLICY_VIOLATION: "Policy violation",
    RejectReason.SHOULD_NOT_ACT: "Should not act",
    RejectReason.OTHER: "Other",
}


def needs_detail(reason: RejectReason) -> bool:
    """ "Other" says nothing on its own, so it needs the free text."""
    return reason == RejectReason.OTHER
