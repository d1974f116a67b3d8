"""Hypothesis generators of personal data in the layouts people type, mixed into noise: shared by
the redaction properties and the Presidio parity test."""

from __future__ import annotations

from hypothesis import strategies as st


def _luhn_complete(prefix: str, length: int, body: list[int]) -> str:
    digits = [int(d) for d in prefix] + body[: length - len(prefix) - 1]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    """Luhn-valid Visa, Mastercard, Amex and Discover numbers in the layouts people type."""
    prefix, length = draw(
        st.sampled_from([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15)])
    )
    body = draw(st.lists(st.integers(0, 9), min_size=16, max_size=16))
    number = _luhn_complete(prefix, length, body)
    separator = draw(st.sampled_from(["", " ", "-"]))
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    return separator.join(groups)


_LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(_LOCAL)
    if draw(st.booleans()):
        local += draw(st.sampled_from([".", "_", "+", "-"])) + draw(_LOCAL)
    domain = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=12))
    tld = draw(st.sampled_from(["com", "org", "net", "io", "de", "co.uk", "fr", "example"]))
    return f"{local}@{domain}.{tld}".replace("example", "com")


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """North American numbers in common layouts, and UK/German/French numbers with +."""
    kind = draw(st.sampled_from(["na", "intl"]))
    if kind == "na":
        area = draw(st.sampled_from(["212", "415", "646", "312", "617", "202", "305", "503"]))
        exchange = draw(st.integers(200, 999))
        line = draw(st.integers(0, 9999))
        layout = draw(
            st.sampled_from(
                [
                    "({a}) {e}-{l:04d}",
                    "{a}-{e}-{l:04d}",
                    "{a}.{e}.{l:04d}",
                    "+1 {a} {e} {l:04d}",
                    "+1-{a}-{e}-{l:04d}",
                    "1 ({a}) {e}-{l:04d}",
                ]
            )
        )
        return layout.format(a=area, e=exchange, l=line)
    template = draw(st.sampled_from(["+44 7{:03d} {:06d}", "+49 30 {:04d}{:04d}", "+33 6 {:02d}"]))
    if template.startswith("+33"):
        groups = draw(st.lists(st.integers(0, 99), min_size=4, max_size=4))
        return "+33 6 " + " ".join(f"{g:02d}" for g in groups)
    first = draw(st.integers(0, 999 if "7{" in template else 9999))
    second = draw(st.integers(0, 999_999 if "7{" in template else 9999))
    return template.format(first, second)


@st.composite
def ibans(draw: st.DrawFn) -> str:
    """Checksum-valid German and British IBANs, grouped in fours or not."""
    country = draw(st.sampled_from(["DE", "GB"]))
    if country == "DE":
        bban = "".join(str(draw(st.integers(0, 9))) for _ in range(18))
    else:
        bank = draw(st.sampled_from(["NWBK", "BARC", "LOYD", "HBUK"]))
        bban = bank + "".join(str(draw(st.integers(0, 9))) for _ in range(14))
    rearranged = bban + country + "00"
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    check = 98 - int(numeric) % 97
    iban = f"{country}{check:02d}{bban}"
    if draw(st.booleans()):
        return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
    return iban


_WORDS = st.sampled_from(
    [
        "hello",
        "please",
        "refund",
        "my",
        "order",
        "was",
        "late",
        "thanks",
        "the",
        "card",
        "charged",
        "twice",
        "call",
        "me",
        "at",
        "or",
        "email",
        "Dear",
        "team,",
        "\n",
        "!",
        "?",
        "",
    ]
)
# Filler may contain anything at all, including text that looks like a placeholder.
_NOISE = st.one_of(
    _WORDS,
    st.text(max_size=12),
    st.sampled_from(["<EMAIL_1>", "<CARD_2>", "<PHONE_1", "EMAIL_1>", "<<>>", "€12,50", "#"]),
)


def _join(parts: list[str]) -> str:
    return " ".join(parts)


@st.composite
def texts_with_pii(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """A message with emails, cards, phones and IBANs mixed into noise; returns the planted
    values with their kind."""
    planted: list[tuple[str, str]] = []
    parts: list[str] = []
    for _ in range(draw(st.integers(1, 6))):
        parts.append(draw(_NOISE))
        kind = draw(st.sampled_from(["email", "card", "phone", "iban", "none"]))
        if kind == "none":
            continue
        value = draw(
            {"email": emails(), "card": card_numbers(), "phone": phone_numbers(), "iban": ibans()}[
                kind
            ]
        )
        planted.append((kind, value))
        parts.append(value)
    parts.append(draw(_NOISE))
    return _join(parts), planted
