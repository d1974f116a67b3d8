"""The review card: Block Kit for an item, rendered from its current state.

One function renders every version of the card (pending, partly approved, stale, approved,
rejected, executed, failed, expired), so ``chat.update`` after any change shows the truth. All
customer and model text is masked (email, phone, card numbers: ``bot.assess.pii_masking``),
escaped and cut to Block Kit's limits here, the one place text reaches Slack from an item: at
most 50 blocks, 3000 characters per text, 150 per header, 2000 per button value. When the ticket
or the draft is cut, a *Show full text* button posts the whole (masked) text in the card's thread.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.assess.assessment import describe_action
from bot.assess.pii_masking import masked, masked_action
from bot.review.outcomes import is_merged
from bot.slack.change_diff import CARD_DIFF_LIMIT, draft_diff, requested_line
from bot.slack.text import quote, safe, truncate
from bot.store.item_states import ItemState
from bot.store.models import Item

APPROVE_ACTION = "signoff_approve"
EDIT_ACTION = "signoff_edit"
CHANGES_ACTION = "signoff_request_changes"
REJECT_ACTION = "signoff_reject"
REDRAFT_ACTION = "signoff_redraft"
REVEAL_ACTION = "signoff_reveal"
SHOW_MORE_ACTION = "signoff_show_more"
RETRY_ACTION = "signoff_retry"

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER = 150
MAX_BUTTON_VALUE = 2000

_RISK_EMOJI = {
    "low": ":large_green_circle:",
    "medium": ":large_yellow_circle:",
    "high": ":large_orange_circle:",
    "critical": ":red_circle:",
}
EXCERPT_LIMIT = 700
DRAFT_LIMIT = 2500


def button_value(item: Item) -> str:
    """``item_id:version``: a click on a card older than the latest edit is recognised."""
    return f"{item.id}:{item.draft_version}"[:MAX_BUTTON_VALUE]


def parse_button_value(value: str) -> tuple[str, int | None]:
    item_id, _, version = value.partition(":")
    return item_id, int(version) if version.isdigit() else None


def slack_date(moment: datetime | None) -> str:
    """A Slack date token: every reader sees the time in their own time zone."""
    if moment is None:
        return "an unknown time"
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment.isoformat(timespec='minutes')}>"


def card_text(item: Item) -> str:
    """Notification fallback text (shown in push notifications and to screen readers)."""
    risk = (item.risk_level or "unknown").upper()
    return safe(masked(f"[{risk}] Review needed: {item.subject} — {describe_action(item)}"), 300)


def is_truncated(item: Item) -> bool:
    """Whether the card cuts the ticket or the draft (then Show full text is offered)."""
    return (
        len(quote(masked(item.body), EXCERPT_LIMIT + 10_000)) > EXCERPT_LIMIT
        or len(quote(masked(item.draft_reply or ""), DRAFT_LIMIT + 10_000)) > DRAFT_LIMIT
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_TEXT)}}


def _context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(t, MAX_TEXT)} for t in texts[:10]],
    }


def render_card(
    item: Item,
    *,
    decided_by: str | None = None,
    reason: str | None = None,
    away: str | None = None,
) -> list[dict[str, Any]]:
    """``away`` is the line naming who would decide this card but is away (``CardPeople``)."""
    risk = item.risk_level or "unknown"
    emoji = _RISK_EMOJI.get(risk, ":white_circle:")
    tier = f" · {safe(item.customer_tier, 50)}" if item.customer_tier else ""
    score = f" ({item.risk_score:.2f})" if item.risk_score is not None else ""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(masked(f"Review: {item.subject or '(no subject)'}"), MAX_HEADER),
                "emoji": False,
            },
        }
    ]
    if item.assessment_error:
        blocks.append(
            _section(
                ":warning: *AI assessment unavailable:* "
                + safe(item.assessment_error, 500)
                + "\nThe risk and draft below were not assessed by the AI: decide from the ticket."
            )
        )
    if item.state == ItemState.PENDING_REVIEW and item.stale_reason:
        blocks.append(
            _section(
                ":arrows_counterclockwise: *Stale draft:* "
                + safe(item.stale_reason, 500)
                + " Approve is refused until it is re-drafted."
            )
        )
    blocks.extend(
        [
            {
                "type": "section",
                "fields": [
                    {
                        "type": "mrkdwn",
                        "text": f"*Customer*\n{safe(item.customer_name, 200)} · "
                        f"{safe(masked(item.customer_email), 320)}{tier}",
                    },
                    {"type": "mrkdwn", "text": f"*Risk*\n{emoji} {risk.upper()}{score}"},
                    {
                        "type": "mrkdwn",
                        "text": f"*Category*\n{safe(item.category or 'unknown', 64)}",
                    },
                    {
                        "type": "mrkdwn",
                        "text": f"*Proposed action*\n{safe(masked_action(item), 300)}",
                    },
                ],
            },
            _section("*Ticket*\n" + quote(masked(item.body), EXCERPT_LIMIT)),
            _section(
                ("*Drafted reply (edited)*\n" if item.edited_by else "*Drafted reply*\n")
                + quote(masked(item.draft_reply) or "(no draft)", DRAFT_LIMIT)
            ),
            _context(
                safe(masked(_why(item)), 2000),
                f"Assessed by *{safe(item.classifier or 'nobody', 100)}* · `{item.id}` · "
                f"ticket `{safe(item.external_id, 200)}` ({safe(item.source, 32)})",
            ),
        ]
    )
    if item.edited_by:
        blocks.append(
            _context(
                f":pencil2: Edited by <@{item.edited_by}> at {slack_date(item.edited_at)}: "
                + safe(masked(item.edit_summary or "changed"), 500)
            )
        )
    if item.change_request and item.change_requested_by:
        blocks.append(_changes(item))
    if item.autonomy_note:
        blocks.append(_context(":crystal_ball: " + safe(item.autonomy_note, 500)))
    if item.state == ItemState.PENDING_REVIEW:
        if item.approvals:
            blocks.append(_context(_quorum_line(item)))
        if away:
            blocks.append(_context(away))
        blocks.append(_buttons(item))
    else:
        blocks.append(_context(_outcome(item, decided_by, reason)))
        if item.state == ItemState.FAILED:
            blocks.append(_retry_button(item))
    return blocks[:MAX_BLOCKS]


def _changes(item: Item) -> dict[str, Any]:
    """Who asked for this draft and what changed (or that the re-draft is on its way)."""
    if item.state in {ItemState.RECEIVED, ItemState.ASSESSED}:
        return _context(requested_line(item).replace("Re-drafted", "Re-drafting", 1))
    return _section(
        f"{requested_line(item)}\n"
        f"{draft_diff(item.change_prior_draft, item.draft_reply, CARD_DIFF_LIMIT)}"
    )


def _quorum_line(item: Item) -> str:
    who = ", ".join(f"<@{user}>" for user in item.approvals)
    lead = " (a lead must approve)" if item.lead_required else ""
    count = len(item.approvals)
    tally = (
        f"{count} of {item.approvals_required} approvals"
        if count < item.approvals_required
        else f"{count} approval{'s' if count > 1 else ''}"
    )
    return f":ballot_box_with_check: {tally}{lead}: {who}"


def _why(item: Item) -> str:
    reasons = "; ".join(item.reasons) if item.reasons else "no reasons given"
    route = f" — {item.route_why}" if item.route_why else ""
    return f"Why: {reasons}{route}"


def button(action_id: str, text: str, item: Item, **extra: Any) -> dict[str, Any]:
    """A button acting on ``item`` (its id and draft version in the value); the card's and App
    Home's are the same buttons, so the same handlers answer both."""
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": button_value(item),
        **extra,
    }


def approve_button(item: Item, *, to_whom: bool) -> dict[str, Any]:
    """Approve, asking "Approve this payment?" first when the action moves money; ``to_whom``
    adds the customer and the amount to the question (the card has room, App Home's list not)."""
    approve = button(APPROVE_ACTION, "Approve", item, style="primary")
    amount = money(item)
    if amount is None:
        return approve
    question = f"This will {masked_action(item)}."
    if to_whom:
        currency = (item.proposed_action or {}).get("currency", "")
        question = (
            f"This will {masked_action(item)} to {item.customer_name}. "
            f"Amount: {amount:.2f} {currency}"
        )
    approve["confirm"] = {
        "title": {"type": "plain_text", "text": "Approve this payment?"},
        "text": {"type": "plain_text", "text": truncate(question, 300)},
        "confirm": {"type": "plain_text", "text": "Approve"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    return approve


def _buttons(item: Item) -> dict[str, Any]:
    elements: list[dict[str, Any]] = []
    if is_merged(item):
        pass  # folded into another item's re-draft: only Reject is left
    elif item.stale_reason:
        elements.append(button(REDRAFT_ACTION, "Re-draft", item, style="primary"))
    else:
        elements.append(approve_button(item, to_whom=True))
        elements.append(button(EDIT_ACTION, "Edit", item))
        elements.append(button(CHANGES_ACTION, "Request changes", item))
    elements.append(button(REJECT_ACTION, "Reject", item, style="danger"))
    elements.append(button(REVEAL_ACTION, "Reveal contact", item))
    if is_truncated(item):
        elements.append(button(SHOW_MORE_ACTION, "Show full text", item))
    return {"type": "actions", "block_id": f"review:{item.id}", "elements": elements}


def _retry_button(item: Item) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"failed:{item.id}",
        "elements": [
            button(
                RETRY_ACTION,
                "Retry (leads)",
                item,
                style="primary",
                confirm={
                    "title": {"type": "plain_text", "text": "Retry this action?"},
                    "text": {
                        "type": "plain_text",
                        "text": truncate(
                            f"Runs {masked_action(item)} again with the same idempotency key.",
                            300,
                        ),
                    },
                    "confirm": {"type": "plain_text", "text": "Retry"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                },
            )
        ],
    }


def money(item: Item) -> Decimal | None:
    action = item.proposed_action or {}
    if action.get("kind") in {"refund", "credit"} and action.get("amount") is not None:
        return Decimal(str(action["amount"]))
    return None


def _approvers(item: Item, decided_by: str | None) -> str:
    people = list(item.approvals) or ([decided_by] if decided_by else [])
    if not people:
        return "someone"
    if len(people) == 1:
        return f"<@{people[0]}>"
    return ", ".join(f"<@{user}>" for user in people[:-1]) + f" and <@{people[-1]}>"


def _outcome(item: Item, decided_by: str | None, reason: str | None) -> str:
    when = slack_date(item.decided_at)
    state = item.state
    auto = decided_by == "auto"
    verb = "*Approved after edit*" if item.edited_by else "*Approved*"
    if auto:
        approved = f":robot_face: *Auto-approved* by policy `{safe(item.route_policy or '?', 64)}`"
    else:
        approved = f":white_check_mark: {verb} by {_approvers(item, decided_by)} at {when}"
    if state == ItemState.REJECTED:
        why = f" — {safe(masked(reason), 500)}" if reason else ""
        return f":no_entry: *Rejected* by <@{decided_by}> at {when}{why}"
    if state in {ItemState.APPROVED, ItemState.EXECUTING}:
        return f"{approved} · executing…"
    if state == ItemState.EXECUTED:
        return f"{approved} · executed {slack_date(item.executed_at)}"
    if state == ItemState.FAILED:
        error = safe(masked(item.last_error or "unknown error"), 500)
        return f":x: {approved.removeprefix(':white_check_mark: ')} · *execution failed:* {error}"
    if state == ItemState.EXPIRED:
        return f":hourglass: *Expired* at {when} without a decision (not a rejection)"
    if state in {ItemState.RECEIVED, ItemState.ASSESSED} and item.change_request:
        return ":arrows_counterclockwise: *Re-drafting* — this card updates with the new draft"
    if state in {ItemState.RECEIVED, ItemState.ASSESSED}:
        return ":arrows_counterclockwise: *Re-drafting* — a fresh card will follow"
    return f"State: {safe(state, 32)}"


def auto_line(item: Item) -> str:
    """The short channel line for an auto-executed item when ``SIGNOFF_POST_AUTO`` is on."""
    return (
        f":robot_face: Auto-executed `{item.id}`: {safe(masked_action(item), 300)} for "
        f"{safe(item.customer_name, 200)} — {safe(item.category or 'unknown', 64)}, "
        f"{safe(item.risk_level or 'unknown', 16)} risk "
        f"(policy `{safe(item.route_policy or '?', 64)}`)"
    )
