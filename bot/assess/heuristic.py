"""The embedded keyword classifier: the default when no LLM is configured.

It exists so that Signoff works out of the box (the demo, a first install, a lost API key) and so
that what a reviewer sees is honest: every assessment says ``classifier="heuristic"`` and its first
reason says no LLM was involved. It is deterministic and does no I/O, which also makes it a stable
baseline for tests.

Its risk level is only an opinion. The rules in ``policies.risk_rules`` set the floor from facts
and may raise it; nothing here can lower it, so this module deliberately does not import them.
The opinion combines the category and amount rules below with the risk signals of
``bot.assess.risk_signals`` (unauthorised activity, loss, missing or wrong money, contested
fees, ...): each signal that fires adds a named reason to the card and can only raise the level.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from bot.assess.assessment import Assessment, Classifier, ProposedAction, Sentiment
from bot.assess.risk_signals import SignalHit, combined_level, find_signals
from bot.errors import AssessmentUnavailableError
from bot.tickets import RequestedAction, TicketIn, first_name
from policies.risk_levels import RiskLevel
from policies.text import normalise_text

HEURISTIC_LABEL = "heuristic keyword classifier (no LLM configured)"
DEFAULT_CURRENCY = "USD"
FALLBACK_CATEGORY = "general_question"
MONEY_KINDS = frozenset({"refund", "credit"})

KEYWORD_CONFIDENCE = 0.6
FALLBACK_CONFIDENCE = 0.3
RISK_SCORES: dict[RiskLevel, float] = {
    RiskLevel.LOW: 0.15,
    RiskLevel.MEDIUM: 0.45,
    RiskLevel.HIGH: 0.75,
    RiskLevel.CRITICAL: 0.95,
}
# Refund/credit amounts at or below these are low / medium in the classifier's opinion.
LOW_AMOUNT_MAX = Decimal("25")
MEDIUM_AMOUNT_MAX = Decimal("200")

# Largest amount a ProposedAction can hold (14 digits, 2 of them decimals).
_AMOUNT_LIMIT = Decimal("1000000000000")
_CENT = Decimal("0.01")
_MAX_REASONS = 10
# Longest requested field/value we quote in a customer-facing draft; longer ones stay generic.
_MAX_QUOTED = 60

_APOSTROPHE = "['\u2019]?"

# --- Categories ---------------------------------------------------------------------------------
# Checked in order; the first match wins. Legal comes first because a ticket that threatens a
# lawyer is a legal ticket even if it also asks for a refund. Plain "sue" is only matched when it
# reads as a threat ("sue you"), so a customer called Sue is not treated as a lawsuit.

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
_TWO_FACTOR = re.compile(r"\b(2fa|two[- ]factor|mfa|authenticator)\b", re.IGNORECASE)
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

# --- Amounts ------------------------------------------------------------------------------------
# "1,200.50", "1200", "45,50" (a decimal comma) — digits are ASCII only after NFKC folding.

_NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:[.,][0-9]{1,2})?(?![0-9])"
_CODES = r"USD|EUR|GBP|CAD|AUD|NZD|CHF|SEK|NOK|DKK|JPY|INR"
_AMOUNT = re.compile(
    rf"(?P<sym>[$€£])\s?(?P<num1>{_NUM})"
    rf"|\b(?P<code>{_CODES})\s?(?P<num2>{_NUM})"
    rf"|(?<![0-9.,])(?P<num3>{_NUM})\s?"
    rf"(?:(?P<sym_after>[€£])|(?P<code_after>{_CODES})\b|(?P<word>dollars?|bucks|euros?|pounds?)\b)",
    re.IGNORECASE,
)
_THOUSANDS_ONLY = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+")
_SYMBOL_CURRENCY = {"$": "USD", "€": "EUR", "£": "GBP"}
_WORD_CURRENCY = {"dollar": "USD", "buck": "USD", "euro": "EUR", "pound": "GBP"}


@dataclass(frozen=True)
class _Category:
    name: str
    keyword: str | None  # the words that matched, for the reasons; None for the fallback


@dataclass(frozen=True)
class _Money:
    amount: Decimal
    currency: str


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

_CATEGORY_REASONS = {
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


def categorise(text: str) -> _Category:
    """The first category whose keywords appear, in priority order; else the fallback."""
    for name, match in _CATEGORY_RULES:
        found = match(text)
        if found:
            return _Category(name, found.group(0).lower()[:40])
    return _Category(FALLBACK_CATEGORY, None)


def sentiment_of(text: str) -> Sentiment:
    """Negative wins over positive: an angry ticket that says "thanks" is still angry."""
    if _ANGER.search(text) or _BANGS.search(text) or _is_shouting(text):
        return "negative"
    if _POSITIVE.search(text):
        return "positive"
    return "neutral"


def _is_shouting(text: str) -> bool:
    return any(_LONG_CAPS_WORD.search(run.group(0)) for run in _CAPS_RUN.finditer(text))


def _parse_number(raw: str) -> Decimal | None:
    """Turn "1,200.50" or "45,50" into a Decimal; None when it is too large to be an amount.

    A comma groups thousands when a dot follows it or it is followed by exactly three digits;
    otherwise it is a decimal comma, as in "45,50 €".
    """
    if "." in raw or _THOUSANDS_ONLY.fullmatch(raw):
        normalised = raw.replace(",", "")
    else:
        normalised = raw.replace(",", ".")
    try:
        value = Decimal(normalised)
    except InvalidOperation:
        return None
    if not value.is_finite() or value >= _AMOUNT_LIMIT:
        return None
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def find_amounts(text: str) -> list[_Money]:
    """Every money amount in ``text`` in reading order ($120, 120 USD, €45.50, "120 dollars")."""
    found: list[_Money] = []
    for match in _AMOUNT.finditer(text):
        raw = match.group("num1") or match.group("num2") or match.group("num3")
        amount = _parse_number(raw)
        if amount is None or amount == 0:
            continue
        found.append(_Money(amount, _currency_of(match)))
    return found


def _currency_of(match: re.Match[str]) -> str:
    symbol = match.group("sym") or match.group("sym_after")
    if symbol:
        return _SYMBOL_CURRENCY[symbol]
    code = match.group("code") or match.group("code_after")
    if code:
        return code.upper()
    word = match.group("word")
    if word:
        return _WORD_CURRENCY[word.lower().rstrip("s")]
    return DEFAULT_CURRENCY


def _action_from_request(requested: RequestedAction, text_money: _Money | None) -> ProposedAction:
    """Follow what the source asked for; a request that cannot be represented goes to a human."""
    currency = requested.currency
    if currency is None and requested.amount is not None and requested.kind in MONEY_KINDS:
        currency = text_money.currency if text_money else DEFAULT_CURRENCY
    field, value = requested.field, requested.value
    try:
        return ProposedAction(
            kind=requested.kind,
            amount=requested.amount,
            currency=currency.upper() if currency else None,
            field=field if requested.kind == "update_field" else None,
            value=value if requested.kind == "update_field" else None,
        )
    except ValueError as exc:
        raise AssessmentUnavailableError(f"requested action cannot be represented: {exc}") from exc


def _risk_for(
    category: str,
    action: ProposedAction,
    sentiment: Sentiment,
    ambiguous_amount: bool,
    signals: list[SignalHit],
) -> RiskLevel:
    """The classifier's own opinion of risk; the most severe applicable rule wins."""
    levels = [RiskLevel.LOW, combined_level(signals)]
    if category == "legal":
        levels.append(RiskLevel.CRITICAL)
    if action.kind in MONEY_KINDS:
        levels.append(_money_risk(action.amount))
    if category == "cancellation" or action.kind == "update_field":
        levels.append(RiskLevel.MEDIUM)
    if sentiment == "negative" or ambiguous_amount:
        levels.append(RiskLevel.MEDIUM)
    return max(levels, key=lambda level: level.rank)


def _money_risk(amount: Decimal | None) -> RiskLevel:
    """No amount is high (someone must decide one); otherwise the risk grows with the amount."""
    if amount is None:
        return RiskLevel.HIGH
    if amount <= LOW_AMOUNT_MAX:
        return RiskLevel.LOW
    if amount <= MEDIUM_AMOUNT_MAX:
        return RiskLevel.MEDIUM
    return RiskLevel.HIGH


# --- Drafts -------------------------------------------------------------------------------------
# Fixed templates only: nothing from the ticket text is copied into a reply, so a reply can never
# leak or repeat what a customer (or an attacker posing as one) wrote.

_SIGN_OFF = "Best regards,\nThe Support Team"
_APOLOGY = "I'm sorry for the frustration this has caused, and thank you for your patience."

_TEMPLATES = {
    "legal": (
        "Thank you for your message. I've passed it to a specialist on our team, who will "
        "review it carefully and follow up with you directly."
    ),
    "cancellation": (
        "Thank you for letting us know. Our team will process your cancellation request and "
        "confirm by email, including the date your access ends. If you'd like to tell us why "
        "you're leaving, we'd genuinely appreciate the feedback."
    ),
    "plan_change": (
        "Thanks for reaching out about changing your plan. You can switch plans at any time from "
        "Settings > Billing, and any difference is prorated on your next invoice. If you'd like "
        "us to make the change for you, just reply to confirm the plan and number of seats."
    ),
    "password_reset": (
        "For your security we can't change passwords over email. Please use the \"Forgot "
        "password?\" link on the sign-in page; we'll email you a reset link that is valid for a "
        "short time. If it doesn't arrive within a few minutes, please check your spam folder."
    ),
    "two_factor": (
        "If you've lost access to your two-factor authentication device, you can sign in with "
        "one of the backup codes you saved when you set it up. If you don't have those, reply "
        "to this email and we'll verify your identity before resetting two-factor on your account."
    ),
    "billing_question": (
        "Thanks for your billing question. You can download invoices and receipts, add a VAT "
        "number and update your billing address or payment method under Settings > Billing. If "
        "you need a corrected invoice, reply with the details and we'll reissue it."
    ),
    "shipping": (
        "Thanks for checking in about your order. I'm looking into its status with our shipping "
        "team and will send you the latest tracking information as soon as I have it."
    ),
    "bug_report": (
        "Thank you for reporting this. I've passed the details to our engineering team. If you "
        "can share the steps that lead to the problem, a screenshot, and your browser or app "
        "version, it will help us fix it faster."
    ),
    "feedback": (
        "Thank you so much for taking the time to share this with us. I've passed your message "
        "on to the team; feedback like yours genuinely shapes what we build next."
    ),
    "refund": (
        "Thank you for reaching out about a refund. I'm reviewing your account now and will "
        "confirm the amount and next steps shortly."
    ),
    FALLBACK_CATEGORY: (
        "Thanks for getting in touch. I'm looking into your question and will get back to you "
        "shortly with an answer."
    ),
    # A question without a category but with a high-risk signal (an unrecognised payment, a
    # stolen card, missing money): promise a person, not an answer, and admit nothing.
    "flagged": (
        "Thank you for letting us know. I've passed this to a specialist on our team as a "
        "priority; they will look into what you describe and get back to you directly."
    ),
}


def _money_paragraph(action: ProposedAction) -> str:
    noun = "a refund" if action.kind == "refund" else "an account credit"
    if action.amount is None:
        return _TEMPLATES["refund"]
    where = "to your original payment method" if action.kind == "refund" else "to your account"
    timing = (
        " It usually appears within 5-10 business days, depending on your bank."
        if action.kind == "refund"
        else " It will be applied automatically to your next invoice."
    )
    return (
        f"Thank you for reaching out. We've issued {noun} of {action.amount:,.2f} "
        f"{action.currency or DEFAULT_CURRENCY} {where}.{timing}"
    )


def _update_paragraph(action: ProposedAction) -> str:
    field, value = action.field, action.value
    if field and value and len(field) <= _MAX_QUOTED and len(value) <= _MAX_QUOTED:
        return f"Thanks for your request. We've updated your {field} to {value}."
    return "Thanks for your request. We've made the change you asked for on your account."


def draft_reply(
    name: str,
    category: str,
    action: ProposedAction,
    sentiment: Sentiment,
    two_factor: bool,
    *,
    flagged: bool = False,
) -> str:
    """A polite reply from fixed templates, chosen by category and the proposed action;
    ``flagged`` (a high-risk signal) replaces the generic "looking into your question"."""
    if category == "legal":
        paragraphs = [_TEMPLATES["legal"]]  # no apology: it could read as an admission
    else:
        paragraphs = [_APOLOGY] if sentiment == "negative" else []
        if action.kind in MONEY_KINDS:
            paragraphs.append(_money_paragraph(action))
        elif action.kind == "update_field":
            paragraphs.append(_update_paragraph(action))
        elif category == "password_reset" and two_factor:
            paragraphs.append(_TEMPLATES["two_factor"])
        elif category == FALLBACK_CATEGORY and flagged:
            paragraphs.append(_TEMPLATES["flagged"])
        else:
            paragraphs.append(_TEMPLATES.get(category, _TEMPLATES[FALLBACK_CATEGORY]))
    body = "\n\n".join(paragraphs)
    return f"Hi {first_name(name)},\n\n{body}\n\n{_SIGN_OFF}"


class HeuristicClassifier(Classifier):
    """Keyword and regex rules; deterministic, no I/O, always labelled ``heuristic``."""

    name = "heuristic"

    async def assess(self, ticket: TicketIn) -> Assessment:
        """Assess ``ticket`` from its subject and body; see the module docstring for the limits."""
        text = normalise_text(f"{ticket.subject}\n{ticket.body}")
        category = categorise(text)
        sentiment = sentiment_of(text)
        signals = find_signals(text)
        reasons = [HEURISTIC_LABEL]
        if category.keyword is not None:
            reasons.append(f'{_CATEGORY_REASONS[category.name]} ("{category.keyword}")')
        else:
            reasons.append("no category keywords matched")
        reasons.extend(hit.describe() for hit in signals)

        amounts = find_amounts(text) if category.name == "refund" else []
        money = amounts[0] if amounts else None
        ambiguous_amount = len({(m.amount, m.currency) for m in amounts}) > 1

        category_name = category.name
        if ticket.requested_action is not None:
            action = _action_from_request(ticket.requested_action, money)
            reasons.append(f"the source requested: {action.describe()}")
            if category_name == FALLBACK_CATEGORY and action.kind in MONEY_KINDS:
                category_name = "refund"
        else:
            action = _default_action(category.name, money)
            if category.name == "refund":
                reasons.append(
                    "no amount found in the ticket"
                    if money is None
                    else f"amount {money.amount:.2f} {money.currency}"
                )
        if ambiguous_amount:
            reasons.append("several different amounts mentioned; using the first")
        if sentiment == "negative":
            reasons.append("customer sounds upset")

        risk = _risk_for(category_name, action, sentiment, ambiguous_amount, signals)
        return Assessment(
            classifier=self.name,
            category=category_name,
            sentiment=sentiment,
            risk_level=risk,
            risk_score=RISK_SCORES[risk],
            confidence=FALLBACK_CONFIDENCE if category.keyword is None else KEYWORD_CONFIDENCE,
            reasons=reasons[:_MAX_REASONS],
            draft_reply=draft_reply(
                ticket.customer.name,
                category_name,
                action,
                sentiment,
                two_factor=bool(_TWO_FACTOR.search(text)),
                flagged=combined_level(signals).rank >= RiskLevel.HIGH.rank,
            ),
            action=action,
        )


def _default_action(category: str, money: _Money | None) -> ProposedAction:
    """Without a request from the source: refund what was asked, escalate legal, else reply."""
    if category == "refund":
        if money is None:
            return ProposedAction(kind="refund")
        return ProposedAction(kind="refund", amount=money.amount, currency=money.currency)
    if category == "legal":
        return ProposedAction(kind="escalate")
    return ProposedAction(kind="reply")


__all__ = ["HEURISTIC_LABEL", "HeuristicClassifier"]
