"""Checking a reviewer's edit in code: the same action schema the classifier's output must meet.

The modal's own limits (lengths, required fields) are a convenience; this is the check that
counts. Errors are keyed by the modal's block ids so Slack shows each under its field
(``response_action: errors``). Policy (risk, quorum) is applied after this, in
``bot.review.edit.save_edit``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from bot.assess.assessment import ProposedAction
from bot.review.masked_edit import mask_table, unmask

REPLY_BLOCK = "edit_reply"
AMOUNT_BLOCK = "edit_amount"
CURRENCY_BLOCK = "edit_currency"
VALUE_BLOCK = "edit_value"
INPUT_ACTION = "value"
REPLY_MAX = 3000  # Slack's plain_text_input maximum
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_FIELD_BLOCKS = {"amount": AMOUNT_BLOCK, "currency": CURRENCY_BLOCK, "value": VALUE_BLOCK}


@dataclass(frozen=True)
class EditedDraft:
    reply: str
    action: dict[str, Any]


@dataclass(frozen=True)
class EditErrors:
    errors: dict[str, str]


def submitted_text(values: dict[str, Any], block_id: str) -> str | None:
    """The text a user typed into one input block of a view submission (None when absent)."""
    block = values.get(block_id) or {}
    element = block.get(INPUT_ACTION) or {}
    value = element.get("value")
    return value if isinstance(value, str) else None


def _unmasked(
    values: dict[str, Any], block_id: str, table: dict[str, str | None], errors: dict[str, str]
) -> str:
    """The typed text with the masks the reviewer left alone put back (``masked_edit``)."""
    result = unmask((submitted_text(values, block_id) or "").strip(), table)
    if result.ambiguous:
        errors[block_id] = (
            f"{result.ambiguous[0]} stands for more than one value here: type it in full "
            "(Reveal shows it)."
        )
    return result.text


def validate_edit(
    original_action: dict[str, Any],
    values: dict[str, Any],
    *,
    original_reply: str | None = None,
) -> EditedDraft | EditErrors:
    """Turn a view submission's ``state.values`` into a validated draft, or per-field errors.
    The modal showed ``original_reply`` and the action masked; masks left in are restored."""
    errors: dict[str, str] = {}
    table = mask_table(original_reply, str(original_action.get("value") or ""))
    reply = _unmasked(values, REPLY_BLOCK, table, errors)
    if not reply:
        errors[REPLY_BLOCK] = "The reply can't be empty (Reject instead if nothing should be sent)."
    elif len(reply) > REPLY_MAX:
        errors.setdefault(REPLY_BLOCK, f"Keep the reply under {REPLY_MAX} characters.")
    action = dict(original_action)
    kind = action.get("kind", "reply")
    if kind in {"refund", "credit"}:
        amount_text = (submitted_text(values, AMOUNT_BLOCK) or "").strip().replace(",", "")
        try:
            amount = Decimal(amount_text)
        except InvalidOperation:
            errors[AMOUNT_BLOCK] = f"Type an amount such as 49.99, not {amount_text[:20]!r}."
        else:
            if not amount.is_finite() or amount <= 0:
                errors[AMOUNT_BLOCK] = "The amount must be more than zero."
            elif amount.as_tuple().exponent < -2:  # type: ignore[operator]
                errors[AMOUNT_BLOCK] = "At most two decimal places."
            else:
                action["amount"] = str(amount.quantize(Decimal("0.01")))
        currency = (submitted_text(values, CURRENCY_BLOCK) or "").strip().upper()
        if not _CURRENCY.match(currency):
            errors[CURRENCY_BLOCK] = "A three-letter currency code such as USD or EUR."
        else:
            action["currency"] = currency
    elif kind == "update_field":
        value = _unmasked(values, VALUE_BLOCK, table, errors)
        if not value:
            errors[VALUE_BLOCK] = "The new value can't be empty."
        elif VALUE_BLOCK not in errors:
            action["value"] = value
    if errors:
        return EditErrors(errors)
    try:
        checked = ProposedAction.model_validate(action)
    except ValidationError as exc:
        for problem in exc.errors():
            field = str(problem["loc"][0]) if problem["loc"] else "amount"
            errors[_FIELD_BLOCKS.get(field, AMOUNT_BLOCK)] = problem["msg"]
        return EditErrors(errors)
    return EditedDraft(reply=reply, action=checked.model_dump(mode="json", exclude_none=True))


def edit_summary(
    old_reply: str | None, new_reply: str, old_action: dict[str, Any], new_action: dict[str, Any]
) -> str:
    """One line for the card: what the edit changed."""
    parts: list[str] = []
    if _describe(old_action) != _describe(new_action):
        parts.append(f"{_describe(old_action)} → {_describe(new_action)}")
    if (old_reply or "").strip() != new_reply.strip():
        before, after = len(old_reply or ""), len(new_reply)
        parts.append(f"reply rewritten ({before} → {after} characters)")
    return "; ".join(parts) or "no changes"


def _describe(action: dict[str, Any]) -> str:
    try:
        return ProposedAction.model_validate(action or {"kind": "reply"}).describe()
    except ValidationError:
        return str(action.get("kind", "?"))
