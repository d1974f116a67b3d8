"""Folding text before a rule reads it, so look-alike characters cannot hide a keyword."""

from __future__ import annotations

import unicodedata


def normalise_text(text: str) -> str:
    """NFKC and no invisible format characters: full-width letters and digits become plain
    ones, and zero-width joiners or direction marks disappear."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if unicodedata.category(ch) != "Cf")


# The most characters of one text that a rule (injection check, risk words, risk signals, the
# heuristic's categories) reads. Every pattern is linear, but linear in 100,000 characters is
# still a cost paid per ticket; past this the rules read the start only, say so, and a human
# decides (``policies.risk_rules``). Personal-data detection is the exception: it reads the whole
# text, because a cut could leave personal data unredacted (the ticket model caps a body at
# 100,000 characters).
SCAN_LIMIT = 20_000


def scanned(text: str) -> str:
    """The part of ``text`` the rules read: its first :data:`SCAN_LIMIT` characters."""
    return text[:SCAN_LIMIT]
