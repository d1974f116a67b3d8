"""Money amounts in a customer's own words, read exactly or not at all.

Customers write amounts the way their country does: ``1.200,50 €``, ``€1.200,50``, ``1 200 EUR``,
``CHF 1'200.50``, ``CA$19``, ``¥5000``, ``R$ 49,90``, ``₹1,20,000``, ``$25``, ``25 USD``. A reader
that knows only ``1,234.56`` reads ``€1.200,50`` as 1.00 and ``1 200 EUR`` as 200: a smaller
number than the customer meant, which is the one mistake that must never happen. So every
candidate is parsed in full or reported as unclear, and an unclear reading never yields an amount
(the item goes to a human with "amount unclear").

Why our own reader rather than a library: ``price-parser`` is made for one price string scraped
from a shop page; in a sentence it misreads (``"It cost €1.200,50, refund?"`` gives 120050) and
it returns symbols, not currency codes. Babel parses a number only in a locale we would have to
know in advance (a customer's ticket does not say), and rejects ``1 200`` in ``fr_FR``. What this
needs is small: one linear-time pattern over a capped scan, a strict digit-grouping check, and a
table of currency marks, with tests from the real formats above.

Patterns follow the house rule for customer text: linear time (no nested or adjacent unbounded
quantifiers over overlapping classes; every repetition here is bounded) and a capped scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["SCAN_LIMIT", "Amount", "AmountReading", "parse_number", "read_amounts"]

# Longest text read for amounts; past it the reading is unclear (an amount could be further on).
SCAN_LIMIT = 5_000
# Largest amount a ProposedAction can hold (14 digits, 2 of them decimals).
_AMOUNT_LIMIT = Decimal("1000000000000")
_CENT = Decimal("0.01")

# Marks that name exactly one currency. Longer marks first, so "CA$" wins over "$".
_PREFIX_MARKS: dict[str, str | None] = {
    "US$": "USD",
    "CA$": "CAD",
    "C$": "CAD",
    "AU$": "AUD",
    "A$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "MX$": "MXN",
    "R$": "BRL",
    "$": "USD",
    "€": "EUR",
    "£": "GBP",
    "₹": "INR",
    "₩": "KRW",
    "₽": "RUB",
    "₪": "ILS",
    "Fr.": "CHF",
    # Used for more than one currency: read, but the currency is unclear.
    "¥": None,  # yen or yuan
    "kr": None,  # Swedish, Norwegian, Danish or Icelandic krona
}
_CODES = (
    "USD",
    "EUR",
    "GBP",
    "CAD",
    "AUD",
    "NZD",
    "CHF",
    "SEK",
    "NOK",
    "DKK",
    "ISK",
    "JPY",
    "CNY",
    "INR",
    "BRL",
    "MXN",
    "HKD",
    "SGD",
    "ZAR",
    "PLN",
    "CZK",
    "HUF",
    "KRW",
    "RUB",
    "ILS",
)
_WORDS: dict[str, str | None] = {
    "dollar": "USD",
    "dollars": "USD",
    "buck": "USD",
    "bucks": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
    "yen": "JPY",
    "rupee": "INR",
    "rupees": "INR",
    "zł": "PLN",
    "złoty": "PLN",
}


def _alternatives(marks: list[str]) -> str:
    return "|".join(re.escape(mark) for mark in sorted(marks, key=len, reverse=True))


_SYMBOLS = _alternatives([mark for mark in _PREFIX_MARKS if not mark[0].isalpha()])
_LETTER_MARKS = _alternatives([mark for mark in _PREFIX_MARKS if mark[0].isalpha()])
_CODE = "|".join(_CODES)
_WORD = _alternatives(list(_WORDS))
# A currency before the number: a symbol anywhere, letters only at the start of a word.
_BEFORE = rf"(?:{_SYMBOLS}|(?<![A-Za-z])(?:{_LETTER_MARKS}|{_CODE})(?![A-Za-z]))"
_AFTER = rf"(?:{_SYMBOLS}|(?:{_LETTER_MARKS}|{_CODE}|{_WORD})(?![A-Za-z]))"
# A number: plain digits, or groups joined by one separator each; then at most two decimals.
# Every repetition is bounded and the separators are not digits, so matching is linear.
_SEP = "[.,'\u2019\u00a0\u202f ]"
_NUM = (
    rf"(?<![0-9.,'\u2019])(?:[0-9]{{4,13}}|[0-9]{{1,3}}(?:{_SEP}[0-9]{{2,3}}){{0,6}})"
    r"(?:[.,][0-9]{1,2})?(?![0-9])(?![.,'\u2019][0-9])"
)
_GAP = "[ \u00a0\u202f]?"
_AMOUNT = re.compile(
    rf"(?P<before>{_BEFORE}){_GAP}(?P<num1>{_NUM})"
    rf"|(?P<num2>{_NUM}){_GAP}(?P<after>{_AFTER})",
    re.IGNORECASE,
)
# A currency mark touching a digit: money-like text that must have been read as an amount.
_MARK_NEAR_DIGIT = re.compile(rf"(?:{_BEFORE}){_GAP}[0-9]|[0-9]{_GAP}(?:{_SYMBOLS})")
_GROUP = "'\u2019\u00a0\u202f "  # separators that only ever group thousands


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str | None  # ISO 4217 code; None when the mark names several currencies
    text: str  # what the customer wrote


@dataclass(frozen=True)
class AmountReading:
    """Every amount found, and why the reading is unclear if it is."""

    amounts: tuple[Amount, ...] = ()
    unclear: str | None = None

    @property
    def amount(self) -> Amount | None:
        """The one amount the text states, or None (none, several, or unclear)."""
        if self.unclear is not None:
            return None
        distinct = {(a.value, a.currency) for a in self.amounts}
        return self.amounts[0] if len(distinct) == 1 else None

    def describe(self) -> str:
        """The card's line about it, e.g. ``amount 1200.50 EUR`` or ``amount unclear: …``."""
        if self.unclear is not None:
            return f"amount unclear: {self.unclear}"
        single = self.amount
        if single is not None:
            return f"amount {single.value:.2f} {single.currency}"
        return "no amount found in the ticket"


def parse_number(raw: str) -> Decimal | None:
    """``raw`` as a number when its grouping and decimal mark can only mean one thing, else None.

    A last ``.`` or ``,`` followed by one or two digits is the decimal mark; followed by exactly
    three, it groups thousands (``1,200`` and ``1.200`` are both 1200) unless another mark says
    otherwise. The other separators must all be one and the same, grouping by three (or the
    Indian 2-2-3: ``1,20,000``).
    """
    text = raw.replace("\u2019", "'")
    seps = [(i, ch) for i, ch in enumerate(text) if not ch.isdigit()]
    if not seps:
        return _finite(text)
    last_at, last = seps[-1]
    decimals = len(text) - last_at - 1
    decimal_mark: str | None = None
    if last in ".," and decimals != 3:
        decimal_mark = last
    integer = text[:last_at] if decimal_mark else text
    group_marks = {ch for _, ch in seps if decimal_mark is None or _ != last_at}
    if len(group_marks) > 1 or group_marks & {decimal_mark}:
        return None
    if group_marks and not _grouped(integer, group_marks.pop()):
        return None
    digits = "".join(ch for ch in integer if ch.isdigit())
    fraction = text[last_at + 1 :] if decimal_mark else ""
    return _finite(f"{digits}.{fraction}" if fraction else digits)


def _grouped(integer: str, mark: str) -> bool:
    groups = integer.split(mark)
    head, rest = groups[0], groups[1:]
    if not 1 <= len(head) <= 3 or not rest:
        return False
    if all(len(g) == 3 for g in rest):
        return True
    # Lakh and crore: 1,20,000 and 1,20,00,000 (two-digit groups, then the last three).
    return mark == "," and len(rest[-1]) == 3 and all(len(g) == 2 for g in rest[:-1])


def _finite(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value >= _AMOUNT_LIMIT:
        return None
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def _currency(mark: str) -> str | None:
    for table in (_PREFIX_MARKS, _WORDS):
        for key, code in table.items():
            if key.casefold() == mark.casefold():
                return code
    return mark.upper()


def read_amounts(text: str) -> AmountReading:
    """Every amount in ``text`` (NFKC-folded) in reading order, or why the reading is unclear."""
    scanned = text[:SCAN_LIMIT]
    amounts: list[Amount] = []
    spans: list[tuple[int, int]] = []
    problems: list[str] = []
    for match in _AMOUNT.finditer(scanned):
        raw = match.group("num1") or match.group("num2")
        mark = match.group("before") or match.group("after")
        spans.append(match.span())
        value = parse_number(raw)
        shown = " ".join(match.group(0).split())
        if value is None:
            problems.append(f'"{shown}" can be read more than one way')
            continue
        if value == 0:
            continue
        currency = _currency(mark)
        if currency is None:
            problems.append(f'"{mark}" in "{shown}" is used for more than one currency')
        amounts.append(Amount(value, currency, shown))
    for near in _MARK_NEAR_DIGIT.finditer(scanned):
        if not any(start <= near.start() < end for start, end in spans):
            problems.append(f'"{near.group(0)}…" looks like money that cannot be read exactly')
            break
    if len({(a.value, a.currency) for a in amounts}) > 1:
        problems.append("several different amounts are mentioned")
    if len(text) > SCAN_LIMIT:
        problems.append(f"only the first {SCAN_LIMIT:,} characters were read")
    return AmountReading(tuple(amounts), "; ".join(problems[:3]) or None)
