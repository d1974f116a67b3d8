"""The embedded classifier's replies: fixed templates chosen by category and proposed action.

Nothing from the ticket text is copied into a reply, so a reply can never leak or repeat what a
customer (or an attacker posing as one) wrote; only the greeting's first name and the amounts and
fields of the proposed action (which code checked) appear in it.
"""

from __future__ import annotations

from bot.assess.assessment import ProposedAction, Sentiment
from bot.tickets import first_name

DEFAULT_CURRENCY = "USD"
FALLBACK_CATEGORY = "general_question"
MONEY_KINDS = frozenset({"refund", "credit"})
# Longest requested field/value we quote in a customer-facing draft; longer ones stay generic.
_MAX_QUOTED = 60

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


__all__ = ["DEFAULT_CURRENCY", "FALLBACK_CATEGORY", "MONEY_KINDS", "draft_reply"]
