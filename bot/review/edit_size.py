"""How much of the AI's reply a reviewer changed, fixed on the item when an edited draft is
approved: 1 - the word similarity between the AI's draft and the approved text (0 = untouched,
1 = rewritten). ``bot.stats.edit_stats`` sums it per category and week.
"""

from __future__ import annotations

from policies.autonomy import reply_similarity


def edit_size(original: str | None, edited: str | None) -> float:
    return 1.0 - reply_similarity(original, edited)
