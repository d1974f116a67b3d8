"""The states an item moves through, and which moves are allowed.

received → assessed → pending_review | approved → executing → executed | failed;
pending_review → rejected | expired; any state not yet sending → erased (the customer's data
was erased before a decision was carried out: it never executes). The database row is the
queue: each move is one conditional UPDATE (see ``item_store.transition``), so a second click
or process cannot repeat it.
"""

from __future__ import annotations

from enum import StrEnum


class ItemState(StrEnum):
    RECEIVED = "received"
    ASSESSED = "assessed"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    EXECUTING = "executing"
    EXECUTED = "executed"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ERASED = "erased"


TERMINAL_STATES = frozenset(
    {
        ItemState.EXECUTED,
        ItemState.FAILED,
        ItemState.REJECTED,
        ItemState.EXPIRED,
        ItemState.ERASED,
    }
)

# States a worker picks up on its own; pending_review waits for a human.
WORKER_STATES = frozenset(
    {ItemState.RECEIVED, ItemState.ASSESSED, ItemState.APPROVED, ItemState.EXECUTING}
)


class DecisionOutcome(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    AUTO_APPROVED = "auto_approved"


EXECUTABLE_OUTCOMES = frozenset({DecisionOutcome.APPROVED, DecisionOutcome.AUTO_APPROVED})
