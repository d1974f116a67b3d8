"""What a review command answers: a status the edge can branch on, a message for the person who
clicked, and the item as it is now (so the card can be re-rendered from the truth).

Refusals are values here, not exceptions: a refused click changes nothing but the audit log, and
the edge shows the message as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.store.models import Item


class ReviewStatus(StrEnum):
    RECORDED = "recorded"  # the item moved (approved, rejected, re-drafted, retried)
    WAITING = "waiting"  # an approval counted, but the quorum is not met yet
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    STALE = "stale"
    CHANGED = "changed"  # the draft was edited since the clicker saw it
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class ReviewResult:
    status: ReviewStatus
    message: str
    item: Item | None = None
    # Other items whose cards changed too (events merged into a re-draft).
    also_changed: tuple[str, ...] = ()

    @property
    def changed_card(self) -> bool:
        """Whether the card should be re-rendered (the item or its approvals changed)."""
        return self.item is not None and self.status in {
            ReviewStatus.RECORDED,
            ReviewStatus.WAITING,
            ReviewStatus.STALE,
        }
