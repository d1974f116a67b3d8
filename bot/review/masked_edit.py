"""Editing masked text: the Edit modal shows the draft and the action's value masked, and what
the reviewer left masked is put back as it was when they save.

Why: a Slack modal is a surface like any other (its contents travel through Slack and stay in
its view state), so it shows personal data masked (``m***@example.com``) like the card. A
reviewer still edits freely: every mask that comes back unchanged is replaced by the original
it stood for, computed again from the item's current draft (never carried in the view). Text
the reviewer typed is kept as typed. When one mask stands for two different originals
(``m***@example.com`` for both ``mia@`` and ``max@``) and the reviewer left it in, the save is
refused for that field: guessing would send the wrong address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.assess.pii_masking import masks_of


@dataclass(frozen=True)
class Unmasked:
    text: str
    ambiguous: tuple[str, ...] = ()


def mask_table(*texts: str | None) -> dict[str, str | None]:
    """Mask → original for every piece of personal data in ``texts``; ``None`` where one mask
    stands for several originals."""
    table: dict[str, str | None] = {}
    for text in texts:
        for mask, original in masks_of(text or ""):
            if mask == original:
                continue
            known = table.get(mask, original)
            table[mask] = original if mask not in table or known == original else None
    return table


def unmask(text: str, table: dict[str, str | None]) -> Unmasked:
    """``text`` with every mask from ``table`` replaced by its original, in one pass (longest
    mask first, so a mask inside a longer one is never replaced on its own)."""
    if not table or not text:
        return Unmasked(text)
    masks: Iterable[str] = sorted(table, key=len, reverse=True)
    pattern = re.compile("|".join(re.escape(mask) for mask in masks))
    ambiguous: list[str] = []

    def original(match: re.Match[str]) -> str:
        found = table[match.group(0)]
        if found is None:
            ambiguous.append(match.group(0))
            return match.group(0)
        return found

    return Unmasked(pattern.sub(original, text), tuple(dict.fromkeys(ambiguous)))
