"""The Request changes modal: one instruction for the re-draft ("offer store credit instead").

``private_metadata`` carries the item and the draft version the reviewer read, so an instruction
about a draft that changed meanwhile is refused rather than applied to a text nobody read. With
the LLM the instruction re-drafts the item (``bot.review.request_changes``); with the heuristic
the submission answers with the Edit modal, the instruction shown above the draft.
"""

from __future__ import annotations

import json
from typing import Any

from bot.assess.pii_masking import masked, masked_action
from bot.review.request_changes import INSTRUCTION_MAX
from bot.slack.text import safe
from bot.store.models import Item

CHANGES_CALLBACK = "signoff_changes_submit"
INSTRUCTION_BLOCK = "changes_instruction"
INPUT_ACTION = "value"


def changes_view(item: Item, *, channel: str | None, redrafts: bool) -> dict[str, Any]:
    """The form; ``redrafts`` says whether the model re-drafts (else Edit opens next)."""
    after = (
        "The AI re-drafts the reply with your instruction; policy checks the new draft again "
        "and it waits for approval again on this card."
        if redrafts
        else "No AI model is configured: the next form is Edit, with your instruction shown "
        "above the draft for you to apply."
    )
    return {
        "type": "modal",
        "callback_id": CHANGES_CALLBACK,
        "private_metadata": json.dumps(
            {"item_id": item.id, "version": item.draft_version, "channel": channel}
        ),
        "title": {"type": "plain_text", "text": "Request changes"},
        "submit": {"type": "plain_text", "text": "Re-draft" if redrafts else "Next"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"`{item.id}` · {safe(masked(item.subject), 2000)} · "
                    f"{safe(masked_action(item), 300)}\n{after}",
                },
            },
            {
                "type": "input",
                "block_id": INSTRUCTION_BLOCK,
                "label": {"type": "plain_text", "text": "What should change?"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": INPUT_ACTION,
                    "multiline": True,
                    "max_length": INSTRUCTION_MAX,
                    "placeholder": {
                        "type": "plain_text",
                        "text": "e.g. offer store credit instead; mention the 14-day window",
                    },
                },
            },
        ],
    }


def validate_instruction(values: dict[str, Any]) -> str | dict[str, str]:
    """The instruction, or errors keyed by block id."""
    raw = ((values.get(INSTRUCTION_BLOCK) or {}).get(INPUT_ACTION) or {}).get("value")
    text = str(raw or "").strip()
    if not text:
        return {INSTRUCTION_BLOCK: "Say what should change."}
    if len(text) > INSTRUCTION_MAX:
        return {INSTRUCTION_BLOCK: f"Keep it under {INSTRUCTION_MAX} characters."}
    return text
