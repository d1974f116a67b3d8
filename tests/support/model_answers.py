"""What the fake model answers: a valid structured assessment with overrides, the ticket JSON the
classifier sent it (to answer in kind), and an answer that agrees with whatever the ticket asks."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the fake imports this module for its default answer
    from tests.support.fakes.openai_api import ChatRequest


def model_answer(**overrides: Any) -> dict[str, Any]:
    """A valid structured answer; ``action`` overrides merge into a reply action."""
    action = {"kind": "reply", "amount": None, "currency": None, "field": None, "value": None}
    action.update(overrides.pop("action", {}))
    answer: dict[str, Any] = {
        "category": "general_question",
        "sentiment": "neutral",
        "risk_level": "low",
        "risk_score": 0.1,
        "confidence": 0.9,
        "reasons": ["routine question"],
        "draft_reply": "Hi there,\n\nHere is the answer.\n\nThe Support Team",
        "action": action,
    }
    answer.update(overrides)
    return answer


def ticket_block(request: ChatRequest) -> dict[str, Any]:
    """The JSON the classifier put between <ticket> and </ticket>."""
    user = request.message_text("user")
    match = re.search(r"<ticket>\n(.*)\n</ticket>", user, re.DOTALL)
    assert match is not None, user
    block = json.loads(match.group(1))
    assert isinstance(block, dict)
    return block


def answer_from_request(request: ChatRequest) -> dict[str, Any]:
    """Agree with the source's request (or reply), low risk, greeting by placeholder."""
    block = ticket_block(request)
    requested = block["requested_action"] or {"kind": "reply"}
    return model_answer(
        draft_reply=f"Hi {block['customer']['first_name']},\n\nAll sorted.\n\nThe Support Team",
        action={k: requested.get(k) for k in ("kind", "amount", "currency", "field", "value")},
    )
