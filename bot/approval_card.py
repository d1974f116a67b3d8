"""The review card: Block Kit for an item, rendered from its current state.

One function renders every version of the card (pending, approved, rejected, executed, failed),
so ``chat.update`` after any change shows the truth. All customer and model text is escaped and
truncated to Block Kit's limits here, the one place text reaches Slack from an item.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bot.assessment import ProposedAction
from bot.item_states import ItemState
from bot.models import Item
from bot.slack_text import quote, safe, truncate

APPROVE_ACTION = "signoff_approve"
EDIT_ACTION = "signoff_edit"
REJECT_ACTION = "signoff_reject"

_RISK_EMOJI = {
    "low": ":large_green_circle:",
    "medium": ":large_yellow_circle:",
    "high": ":large_orange_circle:",
    "critical": ":red_circle:",
}
_EXCERPT_LIMIT = 700
_DRAFT_LIMIT = 2500
_HEADER_LIMIT = 150


def describe_action(item: Item) -> str:
    if not item.proposed_action:
        return "none"
    return ProposedAction.model_validate(item.proposed_action).describe()


def _slack_date(moment: datetime | None) -> str:
    """A Slack date token: every reader sees the time in their own time zone."""
    if moment is None:
        return "an unknown time"
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment.isoformat(timespec='minutes')}>"


def card_text(item: Item) -> str:
    """Notification fallback text (shown in push notifications and to screen readers)."""
    risk = (item.risk_level or "unknown").upper()
    return safe(f"[{risk}] Review needed: {item.subject} — {describe_action(item)}", 300)


def render_card(
    item: Item, *, decided_by: str | None = None, reason: str | None = None
) -> list[dict[str, Any]]:
    risk = item.risk_level or "unknown"
    emoji = _RISK_EMOJI.get(risk, ":white_circle:")
    tier = f" · {safe(item.customer_tier, 50)}" if item.customer_tier else ""
    score = f" ({item.risk_score:.2f})" if item.risk_score is not None else ""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": truncate(f"Review: {item.subject or '(no subject)'}", _HEADER_LIMIT),
                "emoji": False,
            },
        },
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*Customer*\n{safe(item.customer_name, 200)} · "
                    f"{safe(item.customer_email, 320)}{tier}",
                },
                {"type": "mrkdwn", "text": f"*Risk*\n{emoji} {risk.upper()}{score}"},
                {"type": "mrkdwn", "text": f"*Category*\n{safe(item.category or 'unknown', 64)}"},
                {
                    "type": "mrkdwn",
                    "text": f"*Proposed action*\n{safe(describe_action(item), 300)}",
                },
            ],
        },
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": "*Ticket*\n" + quote(item.body, _EXCERPT_LIMIT)},
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "*Drafted reply*\n" + quote(item.draft_reply or "(no draft)", _DRAFT_LIMIT),
            },
        },
        {
            "type": "context",
            "elements": [
                {"type": "mrkdwn", "text": safe(_why(item), 2000)},
                {
                    "type": "mrkdwn",
                    "text": f"Assessed by *{safe(item.classifier or 'nobody', 100)}* · "
                    f"`{item.id}` · ticket `{safe(item.external_id, 200)}` "
                    f"({safe(item.source, 32)})",
                },
            ],
        },
    ]
    if item.assessment_error:
        blocks.insert(
            2,
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":warning: *AI assessment unavailable:* "
                    + safe(item.assessment_error, 500),
                },
            },
        )
    if item.state == ItemState.PENDING_REVIEW:
        blocks.append(_buttons(item))
    else:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": _outcome(item, decided_by, reason)}],
            }
        )
    return blocks


def _why(item: Item) -> str:
    reasons = "; ".join(item.reasons) if item.reasons else "no reasons given"
    route = f" — {item.route_why}" if item.route_why else ""
    return f"Why: {reasons}{route}"


def _buttons(item: Item) -> dict[str, Any]:
    amount = _money(item)
    approve: dict[str, Any] = {
        "type": "button",
        "action_id": APPROVE_ACTION,
        "style": "primary",
        "text": {"type": "plain_text", "text": "Approve"},
        "value": item.id,
    }
    if amount is not None:
        approve["confirm"] = {
            "title": {"type": "plain_text", "text": "Approve this payment?"},
            "text": {
                "type": "plain_text",
                "text": truncate(
                    f"This will {describe_action(item)} for {item.customer_name}.", 300
                ),
            },
            "confirm": {"type": "plain_text", "text": "Approve"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return {
        "type": "actions",
        "block_id": f"review:{item.id}",
        "elements": [
            approve,
            {
                "type": "button",
                "action_id": EDIT_ACTION,
                "text": {"type": "plain_text", "text": "Edit"},
                "value": item.id,
            },
            {
                "type": "button",
                "action_id": REJECT_ACTION,
                "style": "danger",
                "text": {"type": "plain_text", "text": "Reject"},
                "value": item.id,
                "confirm": {
                    "title": {"type": "plain_text", "text": "Reject this item?"},
                    "text": {
                        "type": "plain_text",
                        "text": "Nothing will be sent to the customer and no action taken.",
                    },
                    "confirm": {"type": "plain_text", "text": "Reject"},
                    "deny": {"type": "plain_text", "text": "Cancel"},
                    "style": "danger",
                },
            },
        ],
    }


def _money(item: Item) -> Decimal | None:
    action = item.proposed_action or {}
    if action.get("kind") in {"refund", "credit"} and action.get("amount") is not None:
        return Decimal(str(action["amount"]))
    return None


def _outcome(item: Item, decided_by: str | None, reason: str | None) -> str:
    who = f"<@{decided_by}>" if decided_by and decided_by != "auto" else "policy"
    when = _slack_date(item.decided_at)
    state = item.state
    if state == ItemState.REJECTED:
        why = f" — {safe(reason, 500)}" if reason else ""
        return f":no_entry: *Rejected* by {who} at {when}{why}"
    if state in {ItemState.APPROVED, ItemState.EXECUTING}:
        return f":white_check_mark: *Approved* by {who} at {when} · executing…"
    if state == ItemState.EXECUTED:
        executed = _slack_date(item.executed_at)
        return f":white_check_mark: *Approved* by {who} at {when} · executed {executed}"
    if state == ItemState.FAILED:
        error = safe(item.last_error or "unknown error", 500)
        return f":x: *Approved* by {who} at {when} · *execution failed:* {error}"
    if state == ItemState.EXPIRED:
        return f":hourglass: *Expired* at {when} without a decision"
    return f"State: {safe(state, 32)}"


def auto_line(item: Item) -> str:
    """The short channel line for an auto-executed item when ``SIGNOFF_POST_AUTO`` is on."""
    return (
        f":robot_face: Auto-executed `{item.id}`: {safe(describe_action(item), 300)} for "
        f"{safe(item.customer_name, 200)} — {safe(item.category or 'unknown', 64)}, "
        f"{safe(item.risk_level or 'unknown', 16)} risk "
        f"(policy `{safe(item.route_policy or '?', 64)}`)"
    )
