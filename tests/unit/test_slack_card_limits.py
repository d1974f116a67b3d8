"""Block Kit limits hold for any text: cards in every state (with and without a decision), the
Edit and Reject modals and the App Home view. Checked with slack_sdk's own models (whose
``to_dict`` raises on a broken limit) and by hand for the limits they do not check, and no text
from a ticket or draft carries a mention or link Slack would act on."""

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
from bot.store.column_types import utcnow
from bot.store.item_states import ItemState
from bot.store.models import Item
from policies.thresholds import Thresholds
from tests.support.stored_items import stored_item

NASTY = st.sampled_from(
    ["<!channel>", "<@U123>", "<https://evil.example|click>", "&amp;", "\u200b"]
)
TEXT = st.lists(st.one_of(st.text(max_size=400), NASTY), max_size=60).map("".join)
LONG = st.one_of(TEXT, st.integers(0, 4_000).map(lambda n: "word " * n))


def _rendered_item(subject: str, body: str, draft: str, name: str, state: str, amount: int) -> Item:
    """An item with every field a card shows filled from the generated texts."""
    now = utcnow()
    return stored_item(
        "itm_0123456789abcdef0123",
        state,
        assessed=True,
        external_id=("T-" + subject)[:200],
        subject=subject,
        body=body,
        customer_name=name[:200] or "x",
        customer_email="maria@example.com",
        customer_tier="enterprise",
        risk_score=0.8,
        reasons=[body[:300], subject[:300], *[draft[:300]] * 8],
        route_why=subject,
        assessment_error=body[:1000] or None,
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
    )


def _valid_blocks(blocks: list[dict[str, Any]]) -> None:
    """slack_sdk's own models accept the blocks: ``to_dict`` validates each limit it knows."""
    for parsed in Block.parse_all(blocks):
        assert parsed is not None
        parsed.to_dict()


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
        if node.get("type") == "section":
            assert len(node.get("fields", [])) <= 10
            assert all(len(field["text"]) <= 2000 for field in node.get("fields", []))
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
    item = _rendered_item(subject, body, draft, name, state, amount)
    decided = render_card(item, decided_by="U0REVIEWER", reason=body[:5000])
    for blocks in (render_card(item), decided):
        _valid_blocks(blocks)
        assert 1 <= len(blocks) <= 50
        _check_texts(blocks)
        assert "maria@example.com" not in json.dumps(blocks)
        if state == ItemState.PENDING_REVIEW and len(body) > 2000:
            assert SHOW_MORE_ACTION in json.dumps(blocks)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=TEXT, draft=LONG, name=TEXT)
def test_modals_and_home_stay_within_limits(subject: str, draft: str, name: str) -> None:
    item = _rendered_item(subject, draft, draft, name, ItemState.PENDING_REVIEW, 50)
    for view in (edit_view(item, channel="C1"), reject_view(item, channel=None)):
        _valid_blocks(view["blocks"])
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
    _valid_blocks(home["blocks"])
    _check_texts(home["blocks"])
    _valid_blocks(settings_view(lead)["blocks"])
