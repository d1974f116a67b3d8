"""Signoff's HMAC scheme, Slack text escaping and the card's Block Kit limits."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot import signing
from bot.errors import SignatureError
from bot.slack.card import card_text, render_card
from bot.slack.text import escape, quote, safe
from bot.store.item_states import ItemState
from bot.store.models import Item
from tests.support.signatures import generic_signature

SECRET = "s3cret-value"


def test_sign_matches_the_documented_scheme() -> None:
    body = b'{"id":"1"}'
    assert signing.sign(SECRET, 1700000000, body) == generic_signature(SECRET, "1700000000", body)


@pytest.mark.parametrize(
    ("timestamp", "signature", "now", "message"),
    [
        (None, "v1=00", 1700000000, "missing"),
        ("1700000000", None, 1700000000, "missing"),
        ("yesterday", "v1=00", 1700000000, "not a unix timestamp"),
        ("1700000000", "v1=00", 1700000301, "more than 5 minutes"),
        ("1700000000", "v1=00", 1699999699, "more than 5 minutes"),
        ("1700000000", "v1=00", 1700000000, "does not match"),
    ],
)
def test_verify_refuses_with_a_reason(
    timestamp: str | None, signature: str | None, now: float, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        signing.verify(SECRET, timestamp=timestamp, signature=signature, body=b"{}", now=now)


def test_verify_accepts_within_the_window() -> None:
    headers = signing.signed_headers(SECRET, b"{}", now=1700000000)
    signing.verify(
        SECRET,
        timestamp=headers["X-Signoff-Timestamp"],
        signature=headers["X-Signoff-Signature"],
        body=b"{}",
        now=1700000299,
    )


@given(st.text())
def test_escaped_text_has_no_slack_control_sequences(text: str) -> None:
    escaped = escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert escaped.replace("&amp;", "").replace("&lt;", "").replace("&gt;", "").count("&") == 0


@given(st.text(), st.integers(min_value=10, max_value=500))
def test_safe_text_respects_limits_and_never_splits_an_escape(text: str, limit: int) -> None:
    out = safe(text, limit)
    assert len(out) <= limit
    tail = out[out.rfind("&") :] if "&" in out else ""
    assert not tail or ";" in tail
    quoted = quote(text, limit)
    assert len(quoted) <= limit
    assert all(line.startswith("> ") or line == ">" for line in quoted.split("\n"))


def _item(**fields: object) -> Item:
    now = datetime(2026, 11, 25, tzinfo=UTC)
    base: dict[str, Any] = dict(
        id="itm_test",
        source="generic",
        external_id="T-1",
        kind="ticket",
        subject="Refund",
        body="Please refund me",
        customer_name="Ann",
        customer_email="ann@example.com",
        state=ItemState.PENDING_REVIEW,
        classifier="heuristic",
        category="refund",
        risk_level="high",
        risk_score=0.75,
        reasons=["big refund"],
        draft_reply="Hi Ann",
        proposed_action={"kind": "refund", "amount": "80.00", "currency": "USD"},
        created_at=now,
        updated_at=now,
    )
    base.update(fields)
    return Item(**base)


def test_card_escapes_mentions_and_links_from_the_ticket_and_the_draft() -> None:
    item = _item(
        subject="<!channel> urgent",
        body="Hi <!here> and <@U999>, click <https://evil.example|your invoice>",
        draft_reply="Dear customer <!channel> see <https://evil.example|here>",
        customer_name="<@U123>",
    )
    # Slack parses mentions and links in mrkdwn texts and in the notification text; plain_text
    # (header, button labels, confirm dialogs) is shown literally and cannot ping anyone.
    parsed = [card_text(item), *_mrkdwn_texts(render_card(item))]
    for dangerous in ("<!channel>", "<!here>", "<@U999>", "<@U123>", "<https://evil"):
        assert all(dangerous not in text for text in parsed)
    assert any("&lt;!channel&gt;" in text for text in parsed)


def _mrkdwn_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn":
            return [value["text"]]
        return [t for v in value.values() for t in _mrkdwn_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in _mrkdwn_texts(v)]
    return []


@given(st.text(min_size=0, max_size=20_000), st.text(max_size=5000), st.text(max_size=400))
def test_card_respects_block_kit_limits_for_any_text(body: str, draft: str, subject: str) -> None:
    item = _item(
        body=body,
        draft_reply=draft,
        subject=subject,
        customer_name=subject[:200] or "x",
        reasons=[draft[:300]] * 10,
        assessment_error=body[:1000] or None,
    )
    blocks = render_card(item)
    Block.parse_all(blocks)  # slack_sdk validates limits on parse/to_dict
    for parsed in Block.parse_all(blocks):
        assert parsed is not None
        parsed.to_dict()
    assert len(blocks) <= 50
    for block in blocks:
        text = block.get("text", {})
        if isinstance(text, dict) and text.get("type") == "mrkdwn":
            assert len(text["text"]) <= 3000
        for field in block.get("fields", []):
            assert len(field["text"]) <= 2000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150


def test_money_approval_asks_for_confirmation_with_the_amount() -> None:
    approve = render_card(_item())[-1]["elements"][0]
    assert "refund 80.00 USD" in approve["confirm"]["text"]["text"]
    reply = render_card(_item(proposed_action={"kind": "reply"}))[-1]["elements"][0]
    assert "confirm" not in reply
