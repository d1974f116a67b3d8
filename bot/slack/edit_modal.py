"""The Edit modal: the drafted reply (multi-line) and the action's parameters, as typed inputs.

Submitting is "Save and approve": the edited version is saved, checked again in code (schema and
policy) and approved by the editor. ``private_metadata`` carries the item and the draft version
the editor started from, so an edit on top of someone else's newer edit is refused, not merged.
"""

from __future__ import annotations

import json
from typing import Any

from bot.assess.pii_masking import masked, masked_action
from bot.review.edit_validation import (
    AMOUNT_BLOCK,
    CURRENCY_BLOCK,
    INPUT_ACTION,
    REPLY_BLOCK,
    REPLY_MAX,
    VALUE_BLOCK,
)
from bot.slack.text import safe, truncate
from bot.store.models import Item

EDIT_CALLBACK = "signoff_edit_submit"


def _input(
    block_id: str, label: str, initial: str, *, multiline: bool = False, max_length: int = 3000
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": INPUT_ACTION,
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = initial[:max_length]
    return {
        "type": "input",
        "block_id": block_id,
        "label": {"type": "plain_text", "text": truncate(label, 150)},
        "element": element,
    }


def edit_metadata(item: Item, *, channel: str | None, user_ts: str | None) -> str:
    return json.dumps(
        {"item_id": item.id, "version": item.draft_version, "channel": channel, "ts": user_ts}
    )


def edit_view(item: Item, *, channel: str | None, instruction: str | None = None) -> dict[str, Any]:
    """The form; ``instruction`` (Request changes without a model) is shown above the draft."""
    action = item.proposed_action or {"kind": "reply"}
    kind = action.get("kind", "reply")
    requested: list[dict[str, Any]] = []
    if instruction:
        requested.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f":memo: *Your instruction:* {safe(masked(instruction), 2000)}",
                },
            }
        )
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"`{item.id}` · {safe(masked(item.subject), 2000)} · "
                    f"{safe(masked_action(item), 300)}",
                }
            ],
        },
        *requested,
        _input(
            REPLY_BLOCK,
            "Reply to the customer",
            masked(item.draft_reply),
            multiline=True,
            max_length=REPLY_MAX,
        ),
    ]
    if len(item.draft_reply or "") > REPLY_MAX:
        blocks.append(
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": ":warning: The draft is longer than a Slack form holds "
                        f"({REPLY_MAX} characters) and was cut: check its end before saving.",
                    }
                ],
            }
        )
    if kind in {"refund", "credit"}:
        amount = action.get("amount")
        blocks.append(
            _input(AMOUNT_BLOCK, f"{kind.capitalize()} amount", str(amount or ""), max_length=20)
        )
        blocks.append(
            _input(CURRENCY_BLOCK, "Currency", str(action.get("currency") or "USD"), max_length=3)
        )
    elif kind == "update_field":
        blocks.append(
            _input(
                VALUE_BLOCK,
                f"New value for {action.get('field') or 'the field'}",
                masked(str(action.get("value") or "")),
                max_length=1000,
            )
        )
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "*Save and approve* saves your version and approves it as you. "
                    "Policy is checked again: a larger amount may need a second approver or a "
                    "lead. The original AI draft stays in the audit log.",
                }
            ],
        }
    )
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": edit_metadata(item, channel=channel, user_ts=item.slack_ts),
        "title": {"type": "plain_text", "text": "Edit draft"},
        "submit": {"type": "plain_text", "text": "Save and approve"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": blocks,
    }
