"""The Reject modal: a reason from the fixed taxonomy (required) plus free text.

The taxonomy is small on purpose (``policies.reject_reasons``) so rejections can be counted and
learned from; "Other" needs the free text, because on its own it says nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.assess.pii_masking import masked, masked_action
from bot.slack.text import safe
from bot.store.models import Item
from policies.reject_reasons import RejectReason, needs_detail

REJECT_CALLBACK = "signoff_reject_submit"
REASON_BLOCK = "reject_reason"
DETAIL_BLOCK = "reject_detail"
INPUT_ACTION = "value"
DETAIL_MAX = 1000


def reject_view(item: Item, *, channel: str | None) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": reason.label}, "value": reason.value}
        for reason in RejectReason
    ]
    return {
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "private_metadata": json.dumps({"item_id": item.id, "channel": channel}),
        "title": {"type": "plain_text", "text": "Reject"},
        "submit": {"type": "plain_text", "text": "Reject"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"Reject `{item.id}` ({safe(masked(item.subject), 2000)} · "
                    f"{safe(masked_action(item), 300)})? "
                    "Nothing will be sent to the customer and no action taken.",
                },
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {
                    "type": "static_select",
                    "action_id": INPUT_ACTION,
                    "placeholder": {"type": "plain_text", "text": "Choose a reason"},
                    "options": options,
                },
            },
            {
                "type": "input",
                "block_id": DETAIL_BLOCK,
                "optional": True,
                "label": {"type": "plain_text", "text": "Details (required for Other)"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": INPUT_ACTION,
                    "multiline": True,
                    "max_length": DETAIL_MAX,
                },
            },
        ],
    }


@dataclass(frozen=True)
class RejectInput:
    reason: RejectReason
    detail: str


def validate_reject(values: dict[str, Any]) -> RejectInput | dict[str, str]:
    """The chosen reason and text, or errors keyed by block id."""
    selected = ((values.get(REASON_BLOCK) or {}).get(INPUT_ACTION) or {}).get("selected_option")
    raw = (selected or {}).get("value") if isinstance(selected, dict) else None
    detail = str(((values.get(DETAIL_BLOCK) or {}).get(INPUT_ACTION) or {}).get("value") or "")
    detail = detail.strip()
    try:
        reason = RejectReason(str(raw))
    except ValueError:
        return {REASON_BLOCK: "Choose why you reject this."}
    if needs_detail(reason) and not detail:
        return {DETAIL_BLOCK: "Say in a few words why (required for Other)."}
    if len(detail) > DETAIL_MAX:
        return {DETAIL_BLOCK: f"Keep it under {DETAIL_MAX} characters."}
    return RejectInput(reason, detail)
