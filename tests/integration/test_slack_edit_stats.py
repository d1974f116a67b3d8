"""``/signoff stats`` and ``/signoff edits`` report the edit rate and the average edit size of real
edits made through the Edit modal: are the drafts getting better?"""

from __future__ import annotations

import re
from typing import Any

from bot.review.edit_validation import AMOUNT_BLOCK, CURRENCY_BLOCK, REPLY_BLOCK
from bot.slack.card import APPROVE_ACTION, EDIT_ACTION
from bot.slack.edit_modal import EDIT_CALLBACK
from bot.stats.edit_stats import week_of
from tests.support.server_harness import LEAD, REVIEWER, REVIEWER_2, RunningServer
from tests.support.slack_payloads import card_click, input_values, submit_view
from tests.support.slack_review import carded, opened_view
from tests.support.slash_commands import ask
from tests.support.ticket_factory import refund_ticket

# Shares no word with any drafted reply: rewriting a draft with it changes all of it.
REWRITE = "Zebra quantum marmalade trombone"


def _edit(server: RunningServer, item_id: str, *, user: str, count: int, reply: str | None) -> str:
    """Edit through the modal (``reply=None`` keeps the drafted text) and lower the refund."""
    assert server.slack is not None
    card_click(server, EDIT_ACTION, item_id, user=user)
    view: dict[str, Any] = opened_view(server.slack, EDIT_CALLBACK, count=count)
    drafted = next(
        b["element"]["initial_value"] for b in view["blocks"] if b.get("block_id") == REPLY_BLOCK
    )
    values = input_values(
        **{REPLY_BLOCK: reply or drafted, AMOUNT_BLOCK: "60", CURRENCY_BLOCK: "USD"}
    )
    assert submit_view(server, view, user=user, values=values).status_code == 200
    return str(drafted)


def test_stats_report_the_average_size_of_edits_made_in_the_modal(server: RunningServer) -> None:
    rewritten, amount_only, unchanged = (carded(server, refund_ticket("75.00")) for _ in range(3))
    drafted = _edit(server, rewritten, user=REVIEWER, count=1, reply=REWRITE)
    assert not set(REWRITE.lower().split()) & set(re.findall(r"\w+", drafted.lower()))
    _edit(server, amount_only, user=REVIEWER_2, count=2, reply=None)
    card_click(server, APPROVE_ACTION, unchanged, user=LEAD)
    for item_id in (rewritten, amount_only, unchanged):
        server.wait_for_state(item_id, "executed")
    assert server.item(rewritten).approved_reply == REWRITE
    assert server.item(amount_only).approved_reply == drafted
    category = server.item(rewritten).category
    assert category and {server.item(i).category for i in (amount_only, unchanged)} == {category}

    # One reply rewritten in full (100%) and one untouched (0%): two edits of 50% on average,
    # among three human approvals.
    decided_at = server.item(rewritten).decided_at
    assert decided_at is not None
    line = f"• *{category}* — {week_of(decided_at)}: 67% edited (avg size 50%) of 3"
    stats = ask(server, "stats today")
    assert "*Edits per category*" in stats and line in stats.splitlines()
    assert line in ask(server, "edits").splitlines()
