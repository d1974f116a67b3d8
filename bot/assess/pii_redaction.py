"""Personal data out before a ticket reaches a model, back in before a human or customer reads it.

Why: OWASP LLM02 (sensitive information disclosure). A model provider never needs a customer's
email, card or phone number to draft a reply, so we replace them with stable placeholders
(``<EMAIL_1>``) and keep the mapping in memory; :func:`restore` puts the originals back into the
model's draft. Slack surfaces mask instead (``bot.assess.pii_masking``: ``m***@example.com``),
because a review channel is a wider audience than the customer's own inbox.

Detection is Presidio's analyzer with its ``no_op`` NLP engine: only pattern and checksum
recognizers (email, phone numbers through libphonenumber, payment cards with a Luhn check, IBANs
with their checksum, US SSN/ITIN, UK NINO/NHS, IP addresses). No spaCy model is loaded or
downloaded. Presidio has no recognizer for order numbers, account numbers or street addresses,
so those are added here as pattern recognizers, and the customer's own name (known from the
ticket, since there is no NER without a model) is matched exactly.

Two details keep it offline and deterministic:

* Presidio's email recognizer validates domains with ``tldextract``, whose default extractor
  fetches the public-suffix list from the internet on first use. We swap in an extractor that
  uses only the snapshot bundled with ``tldextract``.
* Overlapping findings (a URL inside an email, a phone-shaped order number) are resolved in a
  fixed order: higher score, then longer span, then earlier start, then label name.

Presidio and its dependencies take about two seconds to import, so they are imported on first
use, not when this module is imported; :func:`warm_up` does it ahead of time.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

__all__ = [
    "NEVER_RESTORED",
    "PLACEHOLDER_PATTERN",
    "Finding",
    "Redaction",
    "find_personal_data",
    "mask_value",
    "redact",
    "redact_many",
    "restore",
    "warm_up",
]

# Presidio entity → the label used in placeholders and masks. National identifiers share one
# label: the model needs to know "an ID number was here", not which country issued it.
_LABELS: dict[str, str] = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "CREDIT_CARD": "CARD",
    "IBAN_CODE": "IBAN",
    "US_SSN": "NATIONAL_ID",
    "US_ITIN": "NATIONAL_ID",
    "UK_NINO": "NATIONAL_ID",
    "UK_NHS": "NATIONAL_ID",
    "IP_ADDRESS": "IP",
    "ORDER_NUMBER": "ORDER",
    "ACCOUNT_NUMBER": "ACCOUNT",
    "STREET_ADDRESS": "ADDRESS",
    "PERSON": "PERSON",
}
_ENTITIES = [name for name in _LABELS if name != "PERSON"]

# Presidio's weakest patterns (e.g. any 9 digits as an SSN, score 0.05) would redact amounts and
# dates; 0.4 keeps libphonenumber's matches (0.4) and every checksum-validated finding.
_SCORE_THRESHOLD = 0.4
_PERSON_SCORE = 0.9
_CUSTOM_SCORE = 0.7

PLACEHOLDER_PATTERN = re.compile(r"<[A-Z]+(?:_[A-Z]+)*_[0-9]+>")

# Lookbehinds need the `regex` module (variable width), which Presidio compiles patterns with.
# The label word stays in the text ("order <ORDER_1>") so the model still knows what it was.
_ID_VALUE = r"(?=[A-Z0-9-]*[0-9])[A-Z0-9][A-Z0-9-]{3,29}\b"
_ID_LEAD = r"\s{0,3}(?:number|no\.?|num\.?|nr\.?|#|id)?\s{0,3}[:#]?\s{0,3}"
_ORDER_REGEX = rf"(?<=\b(?:order|purchase|invoice){_ID_LEAD}){_ID_VALUE}"
_ID_KEYWORD = r"\s{0,3}(?:number|no\.?|num\.?|nr\.?|#|id)\s{0,3}[:#]?\s{0,3}"
# "account 12345678" is an account number; "customer 2019" is not, so those words need "number",
# "no.", "#" or "id" after them.
_ACCOUNT_REGEX = (
    rf"(?<=\b(?:(?:account|acct|a/c){_ID_LEAD}"
    rf"|(?:customer|member(?:ship)?|policy|contract|client){_ID_KEYWORD})){_ID_VALUE}"
)
_STREET_SUFFIX = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Square|Sq|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Alley|Row|Strasse|Straße"
)
# "221B Baker Street", "1600 Pennsylvania Ave NW, Apt 4". Words must be capitalised (the `(?-i:)`
# group survives Presidio's IGNORECASE flag) so "I have 3 more things to drive" is not an address.
_STREET_REGEX = (
    r"(?-i:\b[0-9]{1,6}[A-Z]?\s+(?:[A-Z][a-z]+\.?\s+){1,4}"
    rf"(?:{_STREET_SUFFIX})\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor)\.?\s*#?\s*[A-Za-z0-9-]{1,6}\b)?)"
)
# Presidio's card pattern predates Mastercard's 2-series (2221-2720); same Luhn check applies.
_MASTERCARD_2_REGEX = (
    r"\b(?:222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[- ]?"
    r"[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}\b"
)
# A backstop for phone formats libphonenumber rejects as invalid for its regions (new area codes,
# fictional 555 numbers): North American layouts and "+" international numbers.
_PHONE_REGEX = (
    r"(?<![\w+])(?:\+?1[\s.-]?)?\(?[2-9][0-9]{2}\)?[\s.-]?[2-9][0-9]{2}[\s.-]?[0-9]{4}(?!\w)"
    r"|(?<![\w+])\+[1-9](?:[\s.-]?[0-9]){7,14}(?!\w)"
)

_NAME_PART_MIN = 2


@dataclass(frozen=True)
class Finding:
    """One piece of personal data: where it is, what it is, and how sure the detector was."""

    start: int
    end: int
    label: str
    score: float


@dataclass
class Redaction:
    """Redacted texts plus the placeholder → original mapping that :func:`restore` needs.

    The mapping holds personal data: keep it in memory for the duration of one assessment and
    never log, store or send it anywhere.
    """

    texts: list[str]
    mapping: dict[str, str] = field(default_factory=dict)
    # How many distinct values of each label were replaced: safe to log and audit.
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The single redacted text, for :func:`redact` callers."""
        return self.texts[0]


_analyze_lock = threading.Lock()


@functools.cache
def _analyzer() -> AnalyzerEngine:
    """Build Presidio's analyzer once per process with the no_op engine and our recognizers."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        NhsRecognizer,
        PhoneRecognizer,
        UkNinoRecognizer,
        UsItinRecognizer,
        UsSsnRecognizer,
    )

    # No suffix-list URLs and no cache directory: only the snapshot shipped in the wheel.
    offline_domains = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        """Presidio's email patterns, validated without a network fetch."""

        def validate_result(self, pattern_text: str) -> bool:
            return bool(offline_domains(pattern_text).fqdn)

    def custom(entity: str, name: str, regex: str) -> Any:
        return PatternRecognizer(
            supported_entity=entity,
            name=f"signoff_{name}",
            patterns=[Pattern(name, regex, _CUSTOM_SCORE)],
        )

    recognizers = [
        OfflineEmailRecognizer(),
        PhoneRecognizer(),
        CreditCardRecognizer(),
        CreditCardRecognizer(
            name="signoff_mastercard_2_series",
            patterns=[Pattern("mastercard 2-series", _MASTERCARD_2_REGEX, 0.3)],
        ),
        IbanRecognizer(),
        UsSsnRecognizer(),
        UsItinRecognizer(),
        UkNinoRecognizer(),
        NhsRecognizer(),
        IpRecognizer(),
        custom("ORDER_NUMBER", "order_number", _ORDER_REGEX),
        custom("ACCOUNT_NUMBER", "account_number", _ACCOUNT_REGEX),
        custom("STREET_ADDRESS", "street_address", _STREET_REGEX),
        custom("PHONE_NUMBER", "phone_backstop", _PHONE_REGEX),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    engine = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    return AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"])


def warm_up() -> None:
    """Import Presidio and build the analyzer now, so the first ticket does not pay for it."""
    find_personal_data("warm-up")


def _name_findings(text: str, names: Iterable[str]) -> list[Finding]:
    """Exact, case-sensitive matches of the customer's name: without NER this is our only way to
    recognise it, and case-sensitivity keeps a customer called "Will" from redacting "will"."""
    parts: set[str] = set()
    for name in names:
        cleaned = " ".join(name.split())
        if len(cleaned) >= _NAME_PART_MIN:
            parts.add(cleaned)
        for word in cleaned.split(" "):
            word = word.strip(".,;:!?\"'()[]{}<>")
            if len(word) >= _NAME_PART_MIN and any(ch.isalpha() for ch in word):
                parts.add(word)
    findings = []
    for part in sorted(parts, key=lambda p: (-len(p), p)):
        for match in re.finditer(rf"(?<!\w){re.escape(part)}(?!\w)", text):
            findings.append(Finding(match.start(), match.end(), "PERSON", _PERSON_SCORE))
    return findings


def find_personal_data(text: str, *, names: Iterable[str] = ()) -> list[Finding]:
    """Every piece of personal data in ``text``, non-overlapping and in reading order.

    Deterministic: the same text always gives the same findings, which is what lets an identical
    ticket hit the assessment cache and keeps placeholder numbers stable.
    """
    if not text:
        return []
    analyzer = _analyzer()
    with _analyze_lock:  # Presidio's engine is not documented as thread-safe
        results = analyzer.analyze(
            text=text,
            language="en",
            entities=_ENTITIES,
            score_threshold=_SCORE_THRESHOLD,
        )
    candidates = [
        Finding(r.start, r.end, _LABELS[r.entity_type], float(r.score))
        for r in results
        if r.entity_type in _LABELS and r.end > r.start
    ]
    candidates.extend(_name_findings(text, names))
    candidates.sort(key=lambda f: (-f.score, -(f.end - f.start), f.start, f.label))
    chosen: list[Finding] = []
    for candidate in candidates:
        if all(candidate.end <= kept.start or candidate.start >= kept.end for kept in chosen):
            chosen.append(candidate)
    return sorted(chosen, key=lambda f: f.start)


def redact_many(
    texts: Sequence[str], *, names: Iterable[str] = (), mapping: Mapping[str, str] | None = None
) -> Redaction:
    """Redact several texts (a ticket's subject, body, name…) with one shared mapping, so the
    same email in the subject and the body becomes the same placeholder.

    A placeholder that already occurs literally in any of the texts is never handed out, so
    :func:`restore` cannot turn a customer's literal "<EMAIL_1>" into someone's address.
    """
    names = list(names)
    result_mapping = dict(mapping or {})
    by_value = {(_label_of(key), value): key for key, value in result_mapping.items()}
    reserved = {m.group(0) for text in texts for m in PLACEHOLDER_PATTERN.finditer(text)}
    next_index: dict[str, int] = {}
    for key in result_mapping:
        label = _label_of(key)
        next_index[label] = max(next_index.get(label, 1), _index_of(key) + 1)
    counts: dict[str, int] = {}
    redacted: list[str] = []
    for text in texts:
        pieces: list[str] = []
        cursor = 0
        for finding in find_personal_data(text, names=names):
            original = text[finding.start : finding.end]
            known = by_value.get((finding.label, original))
            if known is not None:
                key = known
            else:
                index = next_index.get(finding.label, 1)
                while f"<{finding.label}_{index}>" in reserved:
                    index += 1
                key = f"<{finding.label}_{index}>"
                next_index[finding.label] = index + 1
                result_mapping[key] = original
                by_value[(finding.label, original)] = key
                counts[finding.label] = counts.get(finding.label, 0) + 1
            pieces.append(text[cursor : finding.start])
            pieces.append(key)
            cursor = finding.end
        pieces.append(text[cursor:])
        redacted.append("".join(pieces))
    return Redaction(texts=redacted, mapping=result_mapping, counts=counts)


def redact(
    text: str, *, names: Iterable[str] = (), mapping: Mapping[str, str] | None = None
) -> Redaction:
    """Redact one text; ``Redaction.text`` is the result and ``Redaction.mapping`` undoes it."""
    return redact_many([text], names=names, mapping=mapping)


# Data a reply to a customer must never carry in full, even when the customer wrote it first: a
# reply travels by email and into ticket histories. These come back masked ("**** 4242").
NEVER_RESTORED = frozenset({"CARD", "IBAN", "NATIONAL_ID", "IP"})


def restore(text: str, mapping: Mapping[str, str]) -> str:
    """Put the originals back in one pass, so a restored value that itself looks like a
    placeholder is never expanded again. Card numbers, IBANs, national IDs and IP addresses come
    back masked (:data:`NEVER_RESTORED`). Unknown placeholders (a model inventing
    ``<EMAIL_9>``) are left as they are for the reviewer to see."""

    def original(match: re.Match[str]) -> str:
        placeholder = match.group(0)
        value = mapping.get(placeholder)
        if value is None:
            return placeholder
        label = _label_of(placeholder)
        return mask_value(label, value) if label in NEVER_RESTORED else value

    return PLACEHOLDER_PATTERN.sub(original, text)


def _label_of(placeholder: str) -> str:
    return placeholder[1:-1].rsplit("_", 1)[0]


def _index_of(placeholder: str) -> int:
    return int(placeholder[1:-1].rsplit("_", 1)[1])


# --- Masks of single values: for data never restored into a draft, and for display ---


def _keep_last(value: str, keep: int) -> str:
    """Star every letter and digit except the last ``keep`` of them, keeping the layout."""
    alnum_total = sum(ch.isalnum() for ch in value)
    seen = 0
    out = []
    for ch in value:
        if ch.isalnum():
            seen += 1
            out.append(ch if seen > alnum_total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_card(value: str) -> str:
    digits = [ch for ch in value if ch.isdigit()]
    return "**** **** **** " + "".join(digits[-4:])


def _mask_iban(value: str) -> str:
    compact = value.replace(" ", "")
    return f"{compact[:2]}** **** {compact[-4:]}"


def mask_value(label: str, value: str) -> str:
    """One finding masked for people: the shape kept, most of the value hidden."""
    if label == "EMAIL":
        return _mask_email(value)
    if label == "CARD":
        return _mask_card(value)
    if label == "IBAN":
        return _mask_iban(value)
    if label in {"PHONE", "ACCOUNT", "ORDER"}:
        return _keep_last(value, 4 if label != "PHONE" else 2)
    if label == "NATIONAL_ID":
        return _keep_last(value, 0)
    if label == "ADDRESS":
        return "[street address]"
    if label == "IP":
        return "[IP address]"
    return "[redacted]"
