"""Folding text before a rule reads it, so look-alike characters cannot hide a keyword."""

from __future__ import annotations

import unicodedata


def normalise_text(text: str) -> str:
    """NFKC and no invisible format characters: full-width letters and digits become plain
    ones, and zero-width joiners or direction marks disappear."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")
