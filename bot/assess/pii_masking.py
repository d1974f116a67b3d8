"""Personal data partly hidden for people: every Slack surface but Reveal shows text this way.

Enough for a reviewer to recognise it (``m***@example.com``, ``**** **** **** 4242``), not
enough to misuse it. Detection is the same as for the model (``bot.assess.pii_redaction``); only
what replaces a finding differs: a mask a person can read instead of a placeholder.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from bot.assess.assessment import describe_action
from bot.assess.pii_redaction import find_personal_data, mask_value
from bot.store.models import Item


def masked(text: str | None) -> str:
    """Personal data partly hidden; the only form in which ticket text reaches a card."""
    return mask_for_display(text or "")


def masked_action(item: Item) -> str:
    """The proposed action as every surface but Reveal shows it: masked like the texts (a CRM
    update's new email is personal data too)."""
    return masked(describe_action(item))


# Masks of short texts (subjects, card lines) kept per process: ``/signoff pending``, App Home
# and card renders mask the same few subjects over and over, at about a millisecond each.
_MASK_CACHE_SIZE = 4096
_MASK_CACHE_MAX_LENGTH = 1000


def mask_for_display(text: str, *, names: Iterable[str] = ()) -> str:
    """The text with personal data partly hidden, for Slack cards: enough for a reviewer to
    recognise it (``m***@example.com``, ``**** **** **** 4242``), not enough to misuse it.

    ``names`` is empty by default because reviewers need to see who the customer is.
    Deterministic, so short texts are masked once per process and then answered from a cache.
    """
    names = tuple(names)
    if not names and len(text) <= _MASK_CACHE_MAX_LENGTH:
        return _cached_mask(text)
    return _mask_text(text, names)


@functools.lru_cache(maxsize=_MASK_CACHE_SIZE)
def _cached_mask(text: str) -> str:
    return _mask_text(text, ())


def forget_masks() -> None:
    """Erasure: the mask cache is keyed by the original texts."""
    _cached_mask.cache_clear()


def _mask_text(text: str, names: Iterable[str]) -> str:
    pieces: list[str] = []
    cursor = 0
    for finding in find_personal_data(text, names=names):
        pieces.append(text[cursor : finding.start])
        pieces.append(mask_value(finding.label, text[finding.start : finding.end]))
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def masks_of(text: str) -> list[tuple[str, str]]:
    """``(mask, original)`` for each piece of personal data :func:`mask_for_display` hides in
    ``text``: what lets a form show masked text and still keep the originals a reviewer left
    untouched (``bot/review/masked_edit.py``)."""
    return [
        (mask_value(f.label, text[f.start : f.end]), text[f.start : f.end])
        for f in find_personal_data(text)
    ]
