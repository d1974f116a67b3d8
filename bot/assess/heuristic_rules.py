"""What the embedded classifier recognises in a ticket: its category and the customer's mood.

Categories are checked in order and the first match wins. Legal comes first because a ticket that
threatens a lawyer is a legal ticket even if it also asks for a refund. Plain "sue" is only
matched when it reads as a threat ("sue you"), so a customer called Sue is not treated as a
lawsuit. Every pattern is linear-time: alternations of fixed words and bounded gaps only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.assess.assessment import Sentiment
from bot.assess.heuristic_replies import FALLBACK_CATEGORY

_APOSTROPHE = "['\u2019]?"

_LEGAL = re.compile(
    r"\b(lawyers?|attorneys?|solicitors?|legal action|legal proceedings|lawsuit|"
    r"(?:sue|suing)\s+(?:you|your|the|them|this|for|over)|sued|court|small claims|"
    r"chargebacks?|charge back|disput(?:e|es|ed|ing)|regulators?|ombudsman|"
    r"gdpr|data protection|subject access request|right to (?:be forgotten|erasure)|"
    r"(?:delete|erase) (?:all )?(?:of )?my (?:personal )?data|cease and desist)\b",
    re.IGNORECASE,
)
_REFUND = re.compile(
    r"\b(refund(?:s|ed|ing)?|money back|reimburse(?:d|ment)?|charged (?:me )?twice|"
    r"double[- ]charged|charged (?:me )?two times|duplicate (?:charge|payment)|"
    r"(?:account|service|goodwill) credit)\b",
    re.IGNORECASE,
)
_CANCELLATION = re.compile(
    r"\b(cancel(?:l?ing|l?ed)?\s+(?:my |our |the |this )?"
    r"(?:subscription|account|membership|plan|service|contract)|cancellation|"
    r"(?:close|delete|terminate) (?:my|our) (?:account|subscription|contract)|unsubscribe)\b",
    re.IGNORECASE,
)
_PLAN_CHANGE = re.compile(
    r"\b(upgrad(?:e|es|ed|ing)|downgrad(?:e|es|ed|ing)|"
    r"(?:change|changing|switch|switching|move|moving)\b[^.!?\n]{0,30}\b(?:plan|tier)|"
    r"add(?:ing)?\b[^.!?\n]{0,20}\b(?:seats?|licen[cs]es?|users))\b",
    re.IGNORECASE,
)
_PASSWORD = re.compile(
    r"\b(password|passcode|reset|locked out|locked me out|"
    rf"(?:can{_APOSTROPHE}t|cannot|unable to) (?:log|sign) ?in(?:to)?|"
    r"2fa|two[- ]factor|mfa|authenticator|verification code)\b",
    re.IGNORECASE,
)
TWO_FACTOR = re.compile(r"\b(2fa|two[- ]factor|mfa|authenticator)\b", re.IGNORECASE)
_BILLING = re.compile(
    r"\b(invoices?|receipts?|vat|tax (?:id|number|invoice)|billing (?:address|details|contact)|"
    r"payment method|credit card|card on file|purchase order|po number)\b",
    re.IGNORECASE,
)
_SHIPPING = re.compile(
    r"\b(where is my (?:order|package|parcel)|tracking|track (?:my|the) (?:order|package|parcel)|"
    r"deliver(?:y|ed|ies)|shipment|shipping|shipped|courier|parcel|"
    rf"(?:not yet|never|hasn{_APOSTROPHE}t|has not) arrived)\b",
    re.IGNORECASE,
)
_BUG = re.compile(
    r"\b(errors?|crash(?:es|ed|ing)?|not working|"
    rf"(?:doesn{_APOSTROPHE}t|does not|won{_APOSTROPHE}t) (?:work|load|open|sync)|"
    r"stopped working|broken|bug|glitch)\b",
    re.IGNORECASE,
)
# Feedback: strong words count on their own; a bare "thanks" only when the ticket asks nothing,
# because "Can you help? Thanks!" is a question, not feedback.
_FEEDBACK = re.compile(
    r"\b(love|loving|great|awesome|amazing|fantastic|excellent|suggestions?|suggest|"
    r"feature request|would be nice|kudos)\b",
    re.IGNORECASE,
)
_THANKS = re.compile(r"\b(thanks|thank you|many thanks|appreciate)\b", re.IGNORECASE)

# --- Sentiment ----------------------------------------------------------------------------------

_ANGER = re.compile(
    r"\b(furious|unacceptable|ridiculous|worst|scam|angry|mad|outraged|disgusted|livid|"
    r"terrible|horrible|ripped off|fed up|appalling|disgraceful|unhappy|not happy|"
    r"what the hell|wtf|damn|not fair|unfair|disappointed|disappointing|frustrat\w*|"
    r"annoy(?:ed|ing)|upset|useless|pathetic|hate|sick of|tired of|not satisfied|dissatisfied)\b",
    re.IGNORECASE,
)
_BANGS = re.compile(r"!{3,}")
# Three or more upper-case words in a row; a run needs one word of 4+ letters so that acronyms
# such as "VAT ID PDF" do not read as shouting.
_CAPS_RUN = re.compile(r"\b[A-Z][A-Z']+(?:[\s,.!?:;-]+[A-Z][A-Z']+){2,}\b")
_LONG_CAPS_WORD = re.compile(r"[A-Z]{4,}")
_POSITIVE = re.compile(
    r"\b(thanks|thank you|love|great|awesome|amazing|fantastic|appreciate|happy)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Category:
    name: str
    keyword: str | None  # the words that matched, for the reasons; None for the fallback


def _feedback_match(text: str) -> re.Match[str] | None:
    """Feedback needs a strong word, or a thank-you in a ticket without a question."""
    strong = _FEEDBACK.search(text)
    if strong:
        return strong
    if "?" in text:
        return None
    return _THANKS.search(text)


_CATEGORY_RULES: tuple[tuple[str, Callable[[str], re.Match[str] | None]], ...] = (
    ("legal", _LEGAL.search),
    ("refund", _REFUND.search),
    ("cancellation", _CANCELLATION.search),
    ("plan_change", _PLAN_CHANGE.search),
    ("password_reset", _PASSWORD.search),
    ("billing_question", _BILLING.search),
    ("shipping", _SHIPPING.search),
    ("bug_report", _BUG.search),
    ("feedback", _feedback_match),
)

CATEGORY_REASONS = {
    "legal": "mentions legal action, a chargeback or a data request",
    "refund": "mentions a refund",
    "cancellation": "asks to cancel",
    "plan_change": "asks to change plan",
    "password_reset": "cannot sign in",
    "billing_question": "asks about invoices or billing details",
    "shipping": "asks about an order or delivery",
    "bug_report": "reports something broken",
    "feedback": "shares feedback",
}


def categorise(text: str) -> Category:
    """The first category whose keywords appear, in priority order; else the fallback."""
    for name, match in _CATEGORY_RULES:
        found = match(text)
        if found:
            return Category(name, found.group(0).lower()[:40])
    return Category(FALLBACK_CATEGORY, None)


def sentiment_of(text: str) -> Sentiment:
    """Negative wins over positive: an angry ticket that says "thanks" is still angry."""
    if _ANGER.search(text) or _BANGS.search(text) or _is_shouting(text):
        return "negative"
    if _POSITIVE.search(text):
        return "positive"
    return "neutral"


def _is_shouting(text: str) -> bool:
    return any(_LONG_CAPS_WORD.search(run.group(0)) for run in _CAPS_RUN.finditer(text))


__all__ = ["CATEGORY_REASONS", "TWO_FACTOR", "Category", "categorise", "sentiment_of"]
