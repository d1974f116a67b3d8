"""Amounts the way customers write them: read in full, or reported unclear, never smaller."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.assess.amounts import SCAN_LIMIT, parse_number, read_amounts

FORMATS = [
    ("1.200,50 €", "1200.50", "EUR"),
    ("€1.200,50", "1200.50", "EUR"),
    ("1 200 EUR", "1200.00", "EUR"),
    ("1\u202f200 EUR", "1200.00", "EUR"),  # French narrow no-break space
    ("CHF 1'200.50", "1200.50", "CHF"),
    ("CHF 1\u2019200.50", "1200.50", "CHF"),
    ("CA$19", "19.00", "CAD"),
    ("R$ 49,90", "49.90", "BRL"),
    ("₹1,20,000", "120000.00", "INR"),
    ("$25", "25.00", "USD"),
    ("25 USD", "25.00", "USD"),
    ("1,234.56 USD", "1234.56", "USD"),
    ("US$1,000,000.00", "1000000.00", "USD"),
    ("12,5 €", "12.50", "EUR"),
    ("£7.99", "7.99", "GBP"),
    ("20 dollars", "20.00", "USD"),
    ("JPY 5000", "5000.00", "JPY"),
    ("20 usd", "20.00", "USD"),
]


@pytest.mark.parametrize(("text", "value", "currency"), FORMATS)
def test_real_formats_are_read_in_full(text: str, value: str, currency: str) -> None:
    for sentence in (text, f"It cost {text}, refund?", f"Please refund {text} to my card."):
        reading = read_amounts(sentence)
        assert reading.unclear is None, sentence
        assert reading.amount is not None, sentence
        assert (reading.amount.value, reading.amount.currency) == (Decimal(value), currency)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("¥5000", "more than one currency"),  # yen or yuan
        ("kr 200", "more than one currency"),
        ("€1.200.50", "more than one way"),
        ("€1,2345", "cannot be read exactly"),
        ("I paid $20 and then $30", "several different amounts"),
    ],
)
def test_an_ambiguous_amount_or_currency_is_unclear_and_gives_no_amount(
    text: str, why: str
) -> None:
    reading = read_amounts(text)
    assert reading.amount is None
    assert reading.unclear is not None and why in reading.unclear
    assert reading.describe().startswith("amount unclear: ")


def test_numbers_without_a_currency_are_not_money() -> None:
    assert read_amounts("order 1234, item 2, refund 1.200 please").amounts == ()
    assert read_amounts("Order 88, 15.00 USD as agreed").amount is not None


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1,234.56", "1234.56"),
        ("1.234,56", "1234.56"),
        ("1,200", "1200"),  # the larger reading: never a smaller number than meant
        ("1.200", "1200"),
        ("1 200", "1200"),
        ("1,20,000", "120000"),
        ("1,20,00,000", "12000000"),
        ("10.000,5", "10000.5"),
        ("5000", "5000"),
    ],
)
def test_grouping_and_decimal_marks(raw: str, value: str) -> None:
    assert parse_number(raw) == Decimal(value)


@pytest.mark.parametrize("raw", ["1.2.3", "1,2,3", "1,234,56", "1.234.56", "1'234,567", "12,34,5"])
def test_mixed_or_broken_grouping_is_not_a_number(raw: str) -> None:
    assert parse_number(raw) is None


def test_a_text_longer_than_the_scan_is_unclear() -> None:
    reading = read_amounts("$20 " + "x" * SCAN_LIMIT)
    assert reading.amount is None and reading.unclear is not None


@given(
    st.integers(min_value=1, max_value=99_999_999),
    st.integers(min_value=0, max_value=99),
    st.sampled_from([(".", ","), (",", "."), (" ", ","), ("'", "."), ("", ".")]),
)
def test_a_grouped_amount_is_never_read_smaller_than_written(
    whole: int, cents: int, marks: tuple[str, str]
) -> None:
    group, decimal = marks
    digits = f"{whole:,}".replace(",", group) if group else str(whole)
    text = f"It cost €{digits}{decimal}{cents:02d}, refund?"
    reading = read_amounts(text)
    written = Decimal(whole) + Decimal(cents) / 100
    assert reading.amount is None or reading.amount.value == written, text
    if reading.amount is None:
        assert reading.unclear is not None
