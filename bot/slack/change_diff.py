"""What a card says about a re-draft made at a reviewer's request: who asked, what, and the diff.

The diff is line by line (a drafted reply is a few short paragraphs), between the draft the
reviewer saw and the new one, both masked like every card text and escaped; removed lines are
struck through and added lines bold, each line in its own mrkdwn span so no customer or model
text can open or close formatting across lines. ``difflib``'s line matcher (standard library,
no intraline pass) is quick for drafts capped at 10,000 characters.
"""

from __future__ import annotations

import difflib

from bot.assess.pii_masking import masked
from bot.slack.text import safe, truncate
from bot.store.models import Item

# The card shows the first part of the diff; the thread message carries it whole.
CARD_DIFF_LIMIT = 1200
THREAD_DIFF_LIMIT = 3500
_LINE_LIMIT = 400


def requested_line(item: Item) -> str:
    """``Re-drafted at @reviewer's request: "…"`` (the instruction masked and escaped)."""
    return (
        f":memo: *Re-drafted at <@{item.change_requested_by}>'s request:* "
        f"“{safe(masked(item.change_request or ''), 500)}”"
    )


def _span(prefix: str, line: str, mark: str) -> str:
    text = safe(line.strip(), _LINE_LIMIT).replace(mark, "")
    return f"{prefix} {mark}{text}{mark}" if text else prefix


def draft_diff(before: str | None, after: str | None, limit: int) -> str:
    """Removed lines as ``- ~line~``, added lines as ``+ *line*``; unchanged lines are left out."""
    old = masked(before or "").splitlines()
    new = masked(after or "").splitlines()
    lines: list[str] = []
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lines.extend(_span("-", line, "~") for line in old[i1:i2] if line.strip())
        lines.extend(_span("+", line, "*") for line in new[j1:j2] if line.strip())
    if not lines:
        return "_(the wording did not change)_"
    return truncate("\n".join(lines), limit)


def redraft_details(item: Item) -> str:
    """The thread message after a re-draft at a reviewer's request."""
    return (
        f"{requested_line(item)}\n*Changes to the draft:*\n"
        f"{draft_diff(item.change_prior_draft, item.draft_reply, THREAD_DIFF_LIMIT)}\n"
        "The new draft waits for approval again."
    )
