"""The outcome of an item in words, the same everywhere (card, commands, App Home, stats).

Outcomes are distinct on purpose: an expiry is never shown or counted as a human rejection, an
auto-execution always names the policy that allowed it, and an approval of an edited draft is
not the same as an approval of the AI's draft.
"""

from __future__ import annotations

from enum import StrEnum

from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.models import Decision, Item


class Outcome(StrEnum):
    PENDING = "pending"
    STALE = "stale"
    APPROVED = "approved"
    APPROVED_AFTER_EDIT = "approved_after_edit"
    AUTO_EXECUTED = "auto_executed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


def outcome_of(item: Item, decision: Decision | None) -> Outcome:
    state = item.state
    if state == ItemState.PENDING_REVIEW:
        return Outcome.STALE if item.stale_reason else Outcome.PENDING
    if state == ItemState.EXPIRED:
        return Outcome.EXPIRED
    if state == ItemState.REJECTED:
        return Outcome.REJECTED
    if state == ItemState.FAILED:
        return Outcome.FAILED
    if decision is not None and decision.outcome == DecisionOutcome.AUTO_APPROVED:
        return Outcome.AUTO_EXECUTED
    if decision is not None and decision.outcome == DecisionOutcome.APPROVED:
        return Outcome.APPROVED_AFTER_EDIT if item.edited_by else Outcome.APPROVED
    return Outcome.IN_PROGRESS


# A newer event whose text a re-draft of the older item took in: it must not be acted on too.
MERGED_PREFIX = "Merged into "


def is_merged(item: Item) -> bool:
    return (item.stale_reason or "").startswith(MERGED_PREFIX)
