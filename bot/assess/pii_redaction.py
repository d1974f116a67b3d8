"""Personal data out before a ticket reaches a model, back in before a human or customer reads it.

Why: OWASP LLM02 (sensitive information disclosure). A model provider never needs a customer's
email, card or phone number to draft a reply, so we replace them with stable placeholders
(``<EMAIL_1>``) and keep the mapping in memory; :func:`restore` puts the originals back into the
model's draft. Slack surfaces mask instead (``bot.assess.pii_masking``: ``m***@example.com``),
because a review channel is a wider audience than the customer's own inbox.

Detection is :mod:`bot.assess.pii_detectors`: candidate patterns confirmed by purpose-made
checks (libphonenumber for phones, python-stdnum for card, IBAN and NHS checksums, a bundled
public-suffix snapshot for email domains), with no network access and no language model. The
customer's own name (known from the ticket, since there is no NER) is matched exactly.
Overlapping findings (a URL inside an email, a phone-shaped order number) are resolved in a fixed
order: higher score, then longer span, then earlier start, then label name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.assess.pii_detectors import Finding, detect, load, resolve

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

_PERSON_SCORE = 0.9

PLACEHOLDER_PATTERN = re.compile(r"<[A-Z]+(?:_[A-Z]+)*_[0-9]+>")

_NAME_PART_MIN = 2


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


def warm_up() -> None:
    """Load the detectors' data (phone metadata, the public-suffix snapshot) now, so the first
    ticket does not pay for it."""
    load()


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
    candidates = [f for f in detect(text) if f.end > f.start]
    candidates.extend(_name_findings(text, names))
    return resolve(candidates)


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
