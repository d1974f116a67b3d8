"""Where personal data is in a text: candidate patterns, each confirmed by a purpose-made check.

Why these libraries rather than Presidio: Presidio's analyzer pulled in spaCy, thinc, blis and
numpy (about half the install and 70 MiB of a server's memory) although Signoff used only its
pattern and checksum recognisers. Each of those is a small thing a dedicated library does as well:

* phone numbers: ``phonenumbers`` (Google's libphonenumber), the same matcher Presidio wrapped,
  over the same regions and at the same leniency;
* payment cards: a candidate pattern confirmed by the Luhn check of ``python-stdnum``;
* IBANs: ``python-stdnum``'s IBAN check (ISO 7064 mod 97 and each country's length and layout);
* UK NHS numbers: ``python-stdnum``'s mod-11 check;
* emails: a bounded pattern whose domain must end in a public suffix, known from the snapshot
  bundled with ``tldextract`` (no network);
* US SSN and ITIN, UK NINO, IP addresses (checked by :mod:`ipaddress`), order and account
  numbers, street addresses and a phone backstop: the patterns Signoff already used.

Every pattern is linear-time on hostile text: quantifiers are bounded or separated by classes
that cannot overlap, and no two unbounded quantifiers compete for the same characters.
``tests/unit/test_pii_parity.py`` runs Presidio over a corpus of real-format data and requires
every span it finds to be found here too.

Scores keep the order Presidio gave them, because overlapping findings are resolved by score:
a checksum-confirmed finding (1.0) beats the person's name (0.9), which beats Signoff's own
patterns (0.7), an IP address (0.6), a pattern-only national ID (0.5) and a libphonenumber
match (0.4).
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import phonenumbers
from stdnum import iban, luhn
from stdnum.exceptions import ValidationError
from stdnum.gb import nhs

__all__ = ["Finding", "detect", "load", "resolve"]

_CONFIRMED = 1.0
_CUSTOM = 0.7
_IP = 0.6
_PATTERN_ONLY = 0.5
_PHONE = 0.4

# The regions Presidio's PhoneRecognizer searched, at its leniency (VALID).
_PHONE_REGIONS = ("US", "GB", "DE", "FR", "IL", "IN", "CA", "BR")
_PHONE_LENIENCY = phonenumbers.Leniency.VALID


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: where it is, what it is, and how sure the detector was."""

    start: int
    end: int
    label: str
    score: float


# --- Patterns ---------------------------------------------------------------------------------

_EMAIL_LOCAL = r"[\w!#$%&'*+/=?^`{|}~.-]"
# RFC 5321 caps a local part at 64 characters and a domain label at 63: the bounds are also what
# keeps this linear (each "@" is reached from at most 64 starting points).
_EMAIL = re.compile(rf"{_EMAIL_LOCAL}{{1,64}}@[\w-]{{1,63}}(?:\.[\w-]{{1,63}}){{1,126}}")

_CARD = re.compile(
    r"\b(?!1\d{12}(?!\d))(?:4\d{3}|5[0-5]\d{2}|6\d{3}|1\d{3}|3\d{3})"
    r"[- ]?\d{3,4}[- ]?\d{3,4}[- ]?\d{3,5}\b"
)
# Mastercard's 2-series (2221-2720), which Presidio's card pattern predates; same Luhn check.
_MASTERCARD_2 = re.compile(
    r"\b(?:222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b"
)
# Country code, check digits, then up to 30 letters or digits, each optionally after one space or
# dash: a separator can never be taken for a character, so the repetition cannot backtrack.
_IBAN = re.compile(r"(?<![A-Z0-9])[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]){8,30}(?![A-Z0-9])")
_SSN = re.compile(r"\b\d{3}[- .]\d{2}[- .]\d{4}\b")
_ITIN = re.compile(r"\b9\d{2}[- ](?:5\d|6[0-5]|7\d|8[0-8]|9[0-2]|9[4-9])[- ]\d{4}\b")
_NINO = re.compile(
    r"\b(?!bg|gb|nk|kn|nt|tn|zz)[a-ceghj-pr-tw-z][a-ceghj-npr-tw-z] ?\d{2} ?\d{2} ?\d{2} ?[a-d]\b",
    re.IGNORECASE,
)
_NHS = re.compile(r"\b\d{3}[- ]?\d{3}[- ]?\d{4}\b")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IPV4 = re.compile(rf"\b{_OCTET}(?:\.{_OCTET}){{3}}(?:/(?:[0-2]?\d|3[0-2]))?\b")
_H = r"[0-9A-Fa-f]{1,4}"
_V6_PREFIX = r"(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?\b"
# IPv4 inside IPv6: mapped (::ffff:192.0.2.1) and embedded (64:ff9b::192.0.2.1).
_IPV4_IN_V6 = re.compile(
    rf"(?<![\w:])(?:::(?:ffff(?::0{{1,4}})?:)?|(?:{_H}:){{1,5}}:(?:{_H}:){{0,4}}|(?:{_H}:){{6}})"
    rf"{_OCTET}(?:\.{_OCTET}){{3}}{_V6_PREFIX}",
    re.IGNORECASE,
)
_IPV6 = re.compile(
    rf"(?<![\w:])(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|:(?::{_H}){{1,7}}"
    rf"|(?:{_H}:){{1,6}}:{_H}|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}|{_H}:(?::{_H}){{1,6}})"
    r"(?:%[0-9a-zA-Z]{1,16})?(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?(?![\w:]|\.\d)"
)

# The label word stays in the text ("order <ORDER_1>") so the model still knows what it was; the
# value is the ``value`` group. A value must hold a digit within its 30 characters.
_ID_VALUE = r"(?P<value>(?=[A-Z0-9-]{0,29}[0-9])[A-Z0-9][A-Z0-9-]{3,29}\b)"
_ID_LEAD = r"\s{0,3}(?:number|no\.?|num\.?|nr\.?|#|id)?\s{0,3}[:#]?\s{0,3}"
_ID_KEYWORD = r"\s{0,3}(?:number|no\.?|num\.?|nr\.?|#|id)\s{0,3}[:#]?\s{0,3}"
_ORDER = re.compile(rf"\b(?:order|purchase|invoice){_ID_LEAD}{_ID_VALUE}", re.IGNORECASE)
# "account 12345678" is an account number; "customer 2019" is not, so those words need "number",
# "no.", "#" or "id" after them.
_ACCOUNT = re.compile(
    rf"\b(?:(?:account|acct|a/c){_ID_LEAD}"
    rf"|(?:customer|member(?:ship)?|policy|contract|client){_ID_KEYWORD}){_ID_VALUE}",
    re.IGNORECASE,
)
_STREET_SUFFIX = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Square|Sq|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Alley|Row|Strasse|Straße"
)
# "221B Baker Street", "1600 Pennsylvania Ave NW, Apt 4". Words must be capitalised, so
# "I have 3 more things to drive" is not an address: the whole pattern is case-sensitive.
_STREET = re.compile(
    r"\b[0-9]{1,6}[A-Z]?\s+(?:[A-Z][a-z]+\.?\s+){1,4}"
    rf"(?:{_STREET_SUFFIX})\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor)\.?\s*#?\s*[A-Za-z0-9-]{1,6}\b)?"
)
# A backstop for phone formats libphonenumber rejects as invalid for its regions (new area codes,
# fictional 555 numbers): North American layouts and "+" international numbers.
_PHONE_BACKSTOP = re.compile(
    r"(?<![\w+])(?:\+?1[\s.-]?)?\(?[2-9][0-9]{2}\)?[\s.-]?[2-9][0-9]{2}[\s.-]?[0-9]{4}(?!\w)"
    r"|(?<![\w+])\+[1-9](?:[\s.-]?[0-9]){7,14}(?!\w)"
)


# --- Checks -----------------------------------------------------------------------------------


def _digits(value: str) -> str:
    """ASCII digits of ``value`` (any script's decimal digits count, as ``\\d`` matched them)."""
    return "".join(str(unicodedata.digit(ch)) for ch in value if ch.isdigit())


def _luhn_ok(value: str) -> bool:
    return luhn.is_valid(_digits(value))


def _nhs_ok(value: str) -> bool:
    return nhs.is_valid(_digits(value))


_SAMPLE_SSNS = frozenset({"123456789", "987654320", "078051120"})


def _ssn_ok(value: str) -> bool:
    """Presidio's rules: one kind of separator, not all one digit, no zero group, no 000 or 666
    area, not the advertised sample numbers."""
    if len({ch for ch in value if ch in ".- "}) > 1:
        return False
    digits = _digits(value)
    if len(set(digits)) == 1 or digits[3:5] == "00" or digits[5:] == "0000":
        return False
    return digits[:3] not in {"000", "666"} and digits not in _SAMPLE_SSNS


def _iban_ok(value: str) -> bool:
    """Mod-97 check digits and the country's length and layout (not national bank checksums,
    which Presidio did not require either)."""
    try:
        iban.validate(value, check_country=False)
    except ValidationError:
        return False
    return True


def _ip_ok(value: str) -> bool:
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return False
    return True


@functools.cache
def _public_suffixes() -> Callable[[str], str]:
    """The fully qualified domain of a string, from tldextract's bundled suffix snapshot only:
    its default extractor would fetch the public-suffix list from the internet on first use."""
    import tldextract

    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    return lambda text: str(extract(text).fqdn)


def load() -> None:
    """Load the suffix snapshot and phone metadata now, so the first ticket does not wait."""
    _public_suffixes()
    list(phonenumbers.PhoneNumberMatcher("+1 212 555 0100", "US"))


# --- Detectors --------------------------------------------------------------------------------


def _emails(text: str) -> Iterator[Finding]:
    domain_of = _public_suffixes()
    for match in _EMAIL.finditer(text):
        start, end = match.span()
        local = match.group(0).partition("@")[0]
        # Dots cannot start or end a local part; a domain's last label cannot end with a dash.
        start += len(local) - len(local.lstrip("."))
        if not local.strip(".") or local.endswith("."):
            continue
        while end > start and text[end - 1] == "-":
            end -= 1
        candidate = text[start:end]
        if domain_of(candidate):
            yield Finding(start, end, "EMAIL", _CONFIRMED)


def _phones(text: str) -> Iterator[Finding]:
    for region in _PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=_PHONE_LENIENCY):
            yield Finding(match.start, match.end, "PHONE", _PHONE)


def _ibans(text: str) -> Iterator[Finding]:
    """The longest prefix of each candidate, cut at a separator or at its end, that is a valid
    IBAN: "DE89 3704 0044 0532 0130 00 12" is an IBAN followed by a number. The search goes on
    right after what was found (or one character after a candidate that held none), so an IBAN
    that starts inside the previous candidate's tail is still found."""
    position = 0
    while (match := _IBAN.search(text, position)) is not None:
        value, start = match.group(0), match.start()
        position = start + 1
        cuts = [len(value)] + [i for i in range(len(value) - 1, 0, -1) if value[i] in " -"]
        for cut in cuts:
            if _iban_ok(value[:cut]):
                yield Finding(start, start + cut, "IBAN", _CONFIRMED)
                position = start + cut
                break


_Check = Callable[[str], bool]
_PATTERNS: tuple[tuple[re.Pattern[str], str, float, _Check | None], ...] = (
    (_CARD, "CARD", _CONFIRMED, _luhn_ok),
    (_MASTERCARD_2, "CARD", _CONFIRMED, _luhn_ok),
    (_NHS, "NATIONAL_ID", _CONFIRMED, _nhs_ok),
    (_SSN, "NATIONAL_ID", _PATTERN_ONLY, _ssn_ok),
    (_ITIN, "NATIONAL_ID", _PATTERN_ONLY, None),
    (_NINO, "NATIONAL_ID", _PATTERN_ONLY, None),
    (_IPV4, "IP", _IP, _ip_ok),
    (_IPV6, "IP", _IP, _ip_ok),
    (_IPV4_IN_V6, "IP", _IP, _ip_ok),
    (_STREET, "ADDRESS", _CUSTOM, None),
    (_PHONE_BACKSTOP, "PHONE", _CUSTOM, None),
)
_VALUE_PATTERNS = ((_ORDER, "ORDER"), (_ACCOUNT, "ACCOUNT"))


def resolve(candidates: list[Finding]) -> list[Finding]:
    """Non-overlapping findings in reading order, chosen in a fixed order (higher score, longer
    span, earlier start, label name), so the same text always gives the same findings."""
    ranked = sorted(candidates, key=lambda f: (-f.score, -(f.end - f.start), f.start, f.label))
    chosen: list[Finding] = []
    for candidate in ranked:
        if all(candidate.end <= kept.start or candidate.start >= kept.end for kept in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda f: f.start)


def detect(text: str) -> list[Finding]:
    """Every candidate finding in ``text``, overlapping ones included (the caller chooses)."""
    found = [*_emails(text), *_phones(text), *_ibans(text)]
    for pattern, label, score, check in _PATTERNS:
        for match in pattern.finditer(text):
            if check is None or check(match.group(0)):
                found.append(Finding(match.start(), match.end(), label, score))
    for pattern, label in _VALUE_PATTERNS:
        for match in pattern.finditer(text):
            found.append(Finding(match.start("value"), match.end("value"), label, _CUSTOM))
    return found
