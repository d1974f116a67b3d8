"""Redaction before the model, restoration after it, masks for Slack.

The properties are the contract the LLM step relies on: whatever the text, restoring a redaction
gives the original back exactly, and no generated email, card or phone number is left in what a
model provider would see.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.assess import pii_detectors
from bot.assess.pii_masking import mask_for_display
from bot.assess.pii_redaction import (
    NEVER_RESTORED,
    PLACEHOLDER_PATTERN,
    Redaction,
    find_personal_data,
    redact,
    redact_many,
    restore,
)
from tests.support.pii_samples import texts_with_pii

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

# --- Properties ----------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(texts_with_pii())
def test_restore_undoes_redaction_exactly(sample: tuple[str, list[tuple[str, str]]]) -> None:
    text, _ = sample
    _assert_undone(text, redact(text))


@PROPERTY_SETTINGS
@given(st.text(max_size=200))
def test_restore_undoes_redaction_of_any_text(text: str) -> None:
    _assert_undone(text, redact(text))


def _never_restored(redaction: Redaction) -> list[str]:
    labels = {p: p[1:-1].rsplit("_", 1)[0] for p in redaction.mapping}
    return [v for p, v in redaction.mapping.items() if labels[p] in NEVER_RESTORED]


def _assert_undone(text: str, redaction: Redaction) -> None:
    """Exactly the original, unless it held data a reply must never carry in full: then none of
    that data is back (it comes back masked)."""
    restored = restore(redaction.text, redaction.mapping)
    sensitive = _never_restored(redaction)
    if not sensitive:
        assert restored == text
    for value in sensitive:
        assert value not in restored


def test_card_numbers_ibans_and_national_ids_come_back_masked_in_a_reply() -> None:
    text = (
        "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 536-22-8726, "
        "mail maria.lopez@example.com"
    )
    redaction = redact(text)
    restored = restore(redaction.text, redaction.mapping)
    assert restored == (
        "Card **** **** **** 1111, IBAN DE** **** 3000, SSN ***-**-****, "
        "mail maria.lopez@example.com"
    )


@PROPERTY_SETTINGS
@given(texts_with_pii())
def test_no_generated_email_card_phone_or_iban_survives(
    sample: tuple[str, list[tuple[str, str]]],
) -> None:
    text, planted = sample
    redacted = redact(text).text
    compact = "".join(redacted.split())
    for kind, value in planted:
        assert value not in redacted, f"{kind} {value!r} survived: {redacted!r}"
        if kind in {"card", "iban"}:
            assert "".join(value.split()) not in compact, f"{kind} {value!r} survived"


@PROPERTY_SETTINGS
@given(texts_with_pii())
def test_redaction_is_deterministic_and_placeholders_are_stable(
    sample: tuple[str, list[tuple[str, str]]],
) -> None:
    text, _ = sample
    first, second = redact(text), redact(text)
    assert first.text == second.text and first.mapping == second.mapping
    # One placeholder per distinct value: the same email twice is the same placeholder.
    assert len(set(first.mapping.values())) == len(first.mapping)
    doubled = redact(f"{text} and again {text}")
    assert len(doubled.mapping) == len(first.mapping)


@PROPERTY_SETTINGS
@given(st.lists(texts_with_pii(), min_size=1, max_size=3))
def test_redact_many_shares_one_mapping_and_round_trips_every_text(
    samples: list[tuple[str, list[tuple[str, str]]]],
) -> None:
    texts = [text for text, _ in samples]
    redaction = redact_many(texts)
    for original, redacted in zip(texts, redaction.texts, strict=True):
        _assert_undone(original, Redaction(texts=[redacted], mapping=redaction.mapping, counts={}))


# --- Examples of each kind -------------------------------------------------------------------

ENTITY_EXAMPLES = [
    ("Write to maria.lopez@example.com today", "maria.lopez@example.com", "EMAIL"),
    ("Call me on +1 (415) 555-0132 please", "+1 (415) 555-0132", "PHONE"),
    ("Call me on 020 7946 0958 or later", "020 7946 0958", "PHONE"),
    ("Ring +44 20 7946 0958 after six", "+44 20 7946 0958", "PHONE"),
    ("Card 4111 1111 1111 1111 was charged", "4111 1111 1111 1111", "CARD"),
    ("Amex 3782 822463 10005 please", "3782 822463 10005", "CARD"),
    ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "DE89 3704 0044 0532 0130 00", "IBAN"),
    ("my SSN is 536-22-8726", "536-22-8726", "NATIONAL_ID"),
    ("NI number AB 12 34 56 C", "AB 12 34 56 C", "NATIONAL_ID"),
    ("order #A1234567 never came", "A1234567", "ORDER"),
    ("Order number: 100-2034-88 is late", "100-2034-88", "ORDER"),
    ("account no. 99887766 is locked", "99887766", "ACCOUNT"),
    ("customer ID CU-77812 here", "CU-77812", "ACCOUNT"),
    ("ship it to 221B Baker Street, Apt 4 instead", "221B Baker Street, Apt 4", "ADDRESS"),
    ("I live at 1600 Pennsylvania Ave NW now", "1600 Pennsylvania Ave NW", "ADDRESS"),
    ("logged in from 203.0.113.54 yesterday", "203.0.113.54", "IP"),
]


@pytest.mark.parametrize(("text", "value", "label"), ENTITY_EXAMPLES)
def test_each_kind_of_personal_data_is_found(text: str, value: str, label: str) -> None:
    redaction = redact(text)
    assert value not in redaction.text
    assert redaction.mapping.get(f"<{label}_1>") == value, redaction.mapping
    _assert_undone(text, redaction)


@pytest.mark.parametrize(
    "text",
    [
        "I have 3 more things to drive home.",  # a number and a street word, not an address
        "I've been a customer 2019 through 2024.",  # "customer" without "number"/"id"
        "It cost $45.50 on 12/03/2024.",
        "Card 4111 1111 1111 1112 is not a real card (Luhn fails).",
        "My order was late and the account is fine.",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    found = find_personal_data(text)
    labels = {f.label for f in found}
    assert "CARD" not in labels and "ADDRESS" not in labels and "ACCOUNT" not in labels, found


def test_the_customers_name_is_redacted_case_sensitively() -> None:
    text = "Hi, Will Turner here. I will call you. Turner family account."
    redaction = redact(text, names=["Will Turner"])
    assert redaction.text == "Hi, <PERSON_1> here. I will call you. <PERSON_2> family account."
    assert restore(redaction.text, redaction.mapping) == text


def test_a_literal_placeholder_in_the_text_is_never_reused() -> None:
    text = "Reply to <EMAIL_1> is broken; my address is sam@example.org"
    redaction = redact(text)
    assert redaction.mapping == {"<EMAIL_2>": "sam@example.org"}
    assert restore(redaction.text, redaction.mapping) == text


def test_restore_leaves_unknown_placeholders_and_does_not_expand_twice() -> None:
    mapping = {"<EMAIL_1>": "odd<EMAIL_2>@example.com", "<EMAIL_2>": "x@example.com"}
    assert restore("to <EMAIL_1> and <PHONE_9>", mapping) == (
        "to odd<EMAIL_2>@example.com and <PHONE_9>"
    )


def test_counts_name_labels_not_values() -> None:
    redaction = redact("a@example.com, b@example.com, a@example.com, 4111 1111 1111 1111")
    assert redaction.counts == {"EMAIL": 2, "CARD": 1}
    assert all(PLACEHOLDER_PATTERN.fullmatch(key) for key in redaction.mapping)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("mail maria@example.com", "mail m***@example.com"),
        ("card 4242 4242 4242 4242 ok", "card **** **** **** 4242 ok"),
        ("card 4242-4242-4242-4242", "card **** **** **** 4242"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "IBAN GB** **** 5432"),
        ("phone (415) 555-0132", "phone (***) ***-**32"),
        ("SSN 536-22-8726", "SSN ***-**-****"),
        ("order #A1234567", "order #****4567"),
        ("at 221B Baker Street today", "at [street address] today"),
        ("nothing personal here", "nothing personal here"),
    ],
)
def test_masks_for_display(text: str, masked: str) -> None:
    assert mask_for_display(text) == masked


@PROPERTY_SETTINGS
@given(texts_with_pii())
def test_masks_never_show_a_whole_generated_value(
    sample: tuple[str, list[tuple[str, str]]],
) -> None:
    text, planted = sample
    masked = mask_for_display(text)
    for kind, value in planted:
        assert value not in masked, f"{kind} {value!r} shown in {masked!r}"


# --- Offline --------------------------------------------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to open a connection fails the test (nothing may fetch a suffix list)."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    pii_detectors._public_suffixes.cache_clear()
    yield
    pii_detectors._public_suffixes.cache_clear()


@pytest.mark.usefixtures("no_network")
def test_detection_works_offline_from_the_bundled_suffix_snapshot() -> None:
    redaction = redact("write to someone@example.co.uk or brand.new@company.io")
    assert set(redaction.mapping.values()) == {"someone@example.co.uk", "brand.new@company.io"}
