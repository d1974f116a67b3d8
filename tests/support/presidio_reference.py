"""Presidio's analyzer exactly as ``bot/assess/pii_redaction.py`` used it before it was replaced:
the oracle of the parity test (``tests/unit/test_pii_parity.py``). Presidio is a dev dependency
only; nothing under ``bot/`` imports it.

Same recognisers, same ``no_op`` NLP engine, same 0.4 score threshold and the same overlap
resolution, so "what Presidio found" means what Signoff redacted until now.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from bot.assess.pii_detectors import Finding, resolve

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine

_LABELS = {
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
}
_SCORE_THRESHOLD = 0.4
_CUSTOM_SCORE = 0.7

# The patterns Signoff gave Presidio (variable-width lookbehinds: Presidio compiles with `regex`).
_ID_VALUE = r"(?=[A-Z0-9-]*[0-9])[A-Z0-9][A-Z0-9-]{3,29}\b"
_ID_LEAD = r"\s{0,3}(?:number|no\.?|num\.?|nr\.?|#|id)?\s{0,3}[:#]?\s{0,3}"
_ORDER_REGEX = rf"(?<=\b(?:order|purchase|invoice){_ID_LEAD}){_ID_VALUE}"
_ID_KEYWORD = r"\s{0,3}(?:number|no\.?|num\.?|nr\.?|#|id)\s{0,3}[:#]?\s{0,3}"
_ACCOUNT_REGEX = (
    rf"(?<=\b(?:(?:account|acct|a/c){_ID_LEAD}"
    rf"|(?:customer|member(?:ship)?|policy|contract|client){_ID_KEYWORD})){_ID_VALUE}"
)
_STREET_SUFFIX = (
    r"Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|"
    r"Terrace|Square|Sq|Parkway|Pkwy|Highway|Hwy|Close|Crescent|Alley|Row|Strasse|Straße"
)
_STREET_REGEX = (
    r"(?-i:\b[0-9]{1,6}[A-Z]?\s+(?:[A-Z][a-z]+\.?\s+){1,4}"
    rf"(?:{_STREET_SUFFIX})\b\.?(?:\s+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?\s+(?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor)\.?\s*#?\s*[A-Za-z0-9-]{1,6}\b)?)"
)
_MASTERCARD_2_REGEX = (
    r"\b(?:222[1-9]|22[3-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720)[- ]?"
    r"[0-9]{4}[- ]?[0-9]{4}[- ]?[0-9]{4}\b"
)
_PHONE_REGEX = (
    r"(?<![\w+])(?:\+?1[\s.-]?)?\(?[2-9][0-9]{2}\)?[\s.-]?[2-9][0-9]{2}[\s.-]?[0-9]{4}(?!\w)"
    r"|(?<![\w+])\+[1-9](?:[\s.-]?[0-9]){7,14}(?!\w)"
)


@functools.cache
def _analyzer() -> AnalyzerEngine:
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

    offline_domains = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
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


def presidio_findings(text: str) -> list[Finding]:
    """What Signoff's Presidio set-up found in ``text``, non-overlapping, in reading order."""
    results = _analyzer().analyze(
        text=text, language="en", entities=list(_LABELS), score_threshold=_SCORE_THRESHOLD
    )
    candidates = [
        Finding(r.start, r.end, _LABELS[r.entity_type], float(r.score))
        for r in results
        if r.entity_type in _LABELS and r.end > r.start
    ]
    return resolve(candidates)
