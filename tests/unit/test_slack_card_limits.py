"""Block Kit limits hold for any text: cards in every state, the Edit and Reject modals and the
App Home view. Checked with slack_sdk's own models (which raise on a broken limit) and by hand
for the limits they do not check."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.lead_settings.registry import LeadSettings
from bot.review.roster import Roles
from bot.slack.app_home_view import home_view, settings_view
from bot.slack.card import SHOW_MORE_ACTION, render_card
from bot.slack.edit_modal import edit_view
from bot.slack.reject_modal import reject_view
from bot.stats.review_stats import ReviewStats
from bot.store.item_states import ItemState
from bot.store.models import Item, utcnow
from policies.thresholds import Thresholds

NASTY = st.sampled_from(
    ["<!channel>", "<@U123>", "<https://evil.example|click>", "&amp;", "\u200b"]
)
TEXT = st.lists(st.one_of(st.text(max_size=400), NASTY), max_size=60).map("".join)
LONG = st.one_of(TEXT, st.integers(0, 4_000).map(lambda n: "word " * n))


def _item(subject: str, body: str, draft: str, name: str, state: str, amount: int) -> Item:
    now = utcnow()
    return Item(
        id="itm_0123456789abcdef0123",
        source="generic",
        external_id=("T-" + subject)[:200],
        kind="ticket",
        subject=subject,
        body=body,
        customer_name=name[:200] or "x",
        customer_email="maria@example.com",
        customer_tier="enterprise",
        state=state,
        risk_level="high",
        risk_score=0.8,
        category="refund",
        classifier="heuristic",
        reasons=[body[:300], subject[:300]],
        route_why=subject,
        assessment_error=subject or None,
        draft_reply=draft,
        proposed_action={"kind": "refund", "amount": f"{amount}.00", "currency": "USD"},
        approvals=["U1", "U2"] if state == ItemState.PENDING_REVIEW else [],
        approvals_required=2,
        edited_by="U1",
        edited_at=now,
        edit_summary=body[:600],
        stale_reason=subject or None,
        last_error=body,
        decided_at=now,
        executed_at=now,
        created_at=now,
        updated_at=now,
    )


def _check_texts(node: Any) -> None:
    """Every text object within limits; no Slack control sequence from untrusted text."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn":
            assert len(node["text"]) <= 3000
            assert "<!channel>" not in node["text"] and "<https://evil" not in node["text"]
        if node.get("type") == "plain_text":
            assert len(node["text"]) <= 3000
        if node.get("type") == "button":
            assert len(node["value"]) <= 2000 and len(node["text"]["text"]) <= 75
        if node.get("type") == "header":
            assert len(node["text"]["text"]) <= 150
        for value in node.values():
            _check_texts(value)
    elif isinstance(node, list):
        for value in node:
            _check_texts(value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    subject=TEXT,
    body=LONG,
    draft=LONG,
    name=TEXT,
    state=st.sampled_from(list(ItemState)),
    amount=st.integers(0, 10**9),
)
def test_cards_stay_within_block_kit_limits(
    subject: str, body: str, draft: str, name: str, state: str, amount: int
) -> None:
    item = _item(subject, body, draft, name, state, amount)
    blocks = render_card(item, decided_by="U0REVIEWER", reason=body[:5000])
    Block.parse_all(blocks)
    assert 1 <= len(blocks) <= 50
    _check_texts(blocks)
    assert "maria@example.com" not in json.dumps(blocks)
    if state == ItemState.PENDING_REVIEW and len(body) > 2000:
        assert SHOW_MORE_ACTION in json.dumps(blocks)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=TEXT, draft=LONG, name=TEXT)
def test_modals_and_home_stay_within_limits(subject: str, draft: str, name: str) -> None:
    item = _item(subject, draft, draft, name, ItemState.PENDING_REVIEW, 50)
    for view in (edit_view(item, channel="C1"), reject_view(item, channel=None)):
        Block.parse_all(view["blocks"])
        _check_texts(view["blocks"])
        assert len(view["title"]["text"]) <= 24 and len(view["private_metadata"]) <= 3000
        for block in view["blocks"]:
            initial = block.get("element", {}).get("initial_value")
            assert initial is None or len(initial) <= block["element"]["max_length"] <= 3000
    lead = LeadSettings(Thresholds(), Decimal("500"), timedelta(hours=2), timedelta(days=1))
    stats = ReviewStats("today", 1, 0, 0, 0, 0, 0, 0, 1, None)
    roles = Roles("U1", frozenset({"U1"}), frozenset({"U1"}))
    home = home_view(
        roles=roles,
        queue=[item] * 40,
        queue_total=40,
        by_risk={"high": 40},
        today=stats,
        lead_settings=lead,
    )
    assert len(home["blocks"]) <= 100
    Block.parse_all(home["blocks"])
    _check_texts(home["blocks"])
    Block.parse_all(settings_view(lead)["blocks"])
