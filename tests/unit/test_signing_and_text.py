"""Signoff's HMAC scheme signs and verifies as documented (refusing with a reason); Slack text
escaping leaves no control sequence in any text, and a card pings no one and confirms money.
The card's Block Kit limits are specified in ``test_slack_card_limits``."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import signing
from bot.errors import SignatureError
from bot.slack.card import card_text, render_card
from bot.slack.text import escape, quote, safe
from bot.vendors import hubspot, intercom, stripe, zendesk
from tests.support.signatures import generic_signature
from tests.support.stored_items import stored_item

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


def test_card_escapes_mentions_and_links_from_the_ticket_and_the_draft() -> None:
    item = stored_item(
        assessed=True,
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


def test_money_approval_asks_for_confirmation_with_the_amount() -> None:
    approve = render_card(stored_item(assessed=True))[-1]["elements"][0]
    assert "refund 80.00 USD" in approve["confirm"]["text"]["text"]
    reply = render_card(stored_item(assessed=True, proposed_action={"kind": "reply"}))[-1][
        "elements"
    ][0]
    assert "confirm" not in reply


def _empty_key_signatures(body: bytes, now: int) -> dict[str, Any]:
    """Each scheme's verify, called with what a forger would send if the key were empty."""
    stamp = str(now)
    iso = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stripe_mac = hmac.new(b"", f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "signoff": lambda key: signing.verify(
            key,
            timestamp=stamp,
            signature=generic_signature("", stamp, body),
            body=body,
            now=now,
        ),
        "zendesk": lambda key: zendesk.verify(
            key, signature=zendesk.sign("", iso, body), timestamp=iso, body=body, now=now
        ),
        "intercom": lambda key: intercom.verify(key, signature=intercom.sign("", body), body=body),
        "hubspot": lambda key: hubspot.verify(
            key,
            signature=hubspot.sign(
                "", method="POST", uri="https://x.test/h", body=body, timestamp=stamp + "000"
            ),
            timestamp=stamp + "000",
            method="POST",
            uri="https://x.test/h",
            body=body,
            now=now,
        ),
        "stripe": lambda key: stripe.verify(key, signature=f"t={stamp},v1={stripe_mac}", body=body),
    }


@pytest.mark.parametrize("scheme", ["signoff", "zendesk", "intercom", "hubspot", "stripe"])
@pytest.mark.parametrize("key", ["", "   "])
def test_no_verify_function_accepts_an_empty_key(scheme: str, key: str) -> None:
    """Settings treat a blank secret as unset; the verify functions refuse one anyway."""
    verify = _empty_key_signatures(b'{"id":"1"}', int(time.time()))[scheme]
    with pytest.raises(SignatureError, match="no signing secret is configured"):
        verify(key)


def test_signing_with_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="empty key"):
        signing.sign("", 1700000000, b"{}")
