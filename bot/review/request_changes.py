"""Request changes: a reviewer's instruction sends a pending item back for a new draft.

The path is Re-draft's (``bot.review.redraft.back_to_classifier``): the item returns to
*received*, the worker assesses it again (the LLM gets the instruction, redacted and escaped like
the ticket, as reviewer input, never as policy) and routes it again through the same policy
floor. What differs: the card stays where it is (``slack_ts`` is kept, so the route step updates
it in place with the diff instead of posting a fresh one), the route step always sends the new
draft to review (a human asked for it, a human approves it), and the instruction, its author and
the draft it replaced stay on the item, so an approved re-draft becomes a drafting example.

Only the LLM classifier re-drafts (``Classifier.takes_change_requests``); with the heuristic the
card opens Edit with the instruction shown instead, and nothing is recorded here.
"""

from __future__ import annotations

from bot.review.decision_steps import lock_pending, not_pending, with_item
from bot.review.outcomes import is_merged
from bot.review.redraft import back_to_classifier
from bot.review.result import ReviewResult, ReviewStatus
from bot.review.roster import Roles
from bot.store import audit
from bot.store.database import SessionFactory, transaction

# Long enough for a paragraph of guidance, short enough to stay a small part of the prompt.
INSTRUCTION_MAX = 1000


async def request_changes(
    sessions: SessionFactory,
    *,
    item_id: str,
    roles: Roles,
    version: int | None,
    instruction: str,
) -> ReviewResult:
    """Send ``item_id`` back for a re-draft following ``instruction`` (refusals change nothing)."""
    instruction = instruction.strip()[:INSTRUCTION_MAX]
    async with transaction(sessions) as session:
        item = await lock_pending(session, item_id, roles, "request changes to")
        if isinstance(item, ReviewResult):
            return item
        if item.stale_reason or is_merged(item):
            return ReviewResult(
                ReviewStatus.STALE,
                "The draft is stale (a newer event arrived): press *Re-draft* first, then ask "
                "for changes to the new draft. Nothing was changed.",
                item,
            )
        if version is not None and version != item.draft_version:
            return ReviewResult(
                ReviewStatus.CHANGED,
                "The draft changed after you opened the form; look at the updated card and ask "
                "again. Nothing was changed.",
            )
        if not instruction:
            return ReviewResult(
                ReviewStatus.CHANGED, "Say what should change. Nothing was changed."
            )
        moved = await back_to_classifier(
            session,
            item,
            change_request=instruction,
            change_requested_by=roles.user_id,
            change_prior_draft=item.draft_reply or "",
        )
        if not moved:
            return await not_pending(session, item)
        await audit.record(
            session,
            "changes_requested",
            item_id=item.id,
            actor=roles.user_id,
            instruction=instruction,
            version=item.draft_version,
        )
        result = ReviewResult(
            ReviewStatus.RECORDED,
            "Re-drafting with your instruction; the card updates when the new draft is ready.",
            item,
        )
    return await with_item(result, sessions, item_id)
