"""Editing masked text: masks a reviewer leaves in are restored to the originals, typed text is
kept, and a mask that stands for two different values is refused rather than guessed."""

from __future__ import annotations

from typing import Any

import pytest

from bot.assess.pii_masking import mask_for_display
from bot.errors import ConfigurationError
from bot.review.edit_validation import REPLY_BLOCK, EditedDraft, EditErrors, validate_edit
from bot.review.masked_edit import mask_table, unmask
from bot.settings import load_settings


def _reply(text: str) -> dict[str, Any]:
    """A view submission's ``state.values`` with only the reply typed."""
    return {REPLY_BLOCK: {"value": {"type": "plain_text_input", "value": text}}}


DRAFT = "Hi, we changed mike@example.com; your card 4111 1111 1111 1111 was not charged."


def test_masks_left_in_come_back_and_typed_text_stays() -> None:
    shown = mask_for_display(DRAFT)
    assert "mike@example.com" not in shown and "4111 1111 1111 1111" not in shown
    edited = shown.replace("Hi,", "Hello Mike,") + " Sorry! Write to help@example.org."
    result = unmask(edited, mask_table(DRAFT))
    assert result.ambiguous == ()
    assert result.text == DRAFT.replace("Hi,", "Hello Mike,") + " Sorry! Write to help@example.org."


def test_one_mask_for_two_values_is_refused_not_guessed() -> None:
    draft = "Old: mike@example.com, new: mary@example.com."
    shown = mask_for_display(draft)
    assert shown.count("m***@example.com") == 2
    checked = validate_edit({"kind": "reply"}, _reply(shown), original_reply=draft)
    assert isinstance(checked, EditErrors) and "m***@example.com" in checked.errors[REPLY_BLOCK]
    retyped = validate_edit({"kind": "reply"}, _reply(draft), original_reply=draft)
    assert isinstance(retyped, EditedDraft) and retyped.reply == draft


def test_audit_key_settings_refuse_short_keys_and_are_scrubbed() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(_env_file=None, SIGNOFF_AUDIT_KEY="too-short")
    assert "SIGNOFF_AUDIT_KEY" in str(refused.value) and "32 bytes" in str(refused.value)
    assert load_settings(_env_file=None, SIGNOFF_AUDIT_KEY="   ").audit_key is None
    key, old = "k" * 40, "o" * 40
    settings = load_settings(
        _env_file=None, SIGNOFF_AUDIT_KEY=key, SIGNOFF_AUDIT_PREVIOUS_KEYS=f"{old}, "
    )
    assert {key, old} <= set(settings.secret_values())
