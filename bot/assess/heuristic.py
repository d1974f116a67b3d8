"""The embedded keyword classifier: the default when no LLM is configured. It fails closed.

It exists so that Signoff works out of the box (the demo, a first install, a lost API key) and so
that what a reviewer sees is honest: every assessment says ``classifier="heuristic"`` and its first
reason says no LLM was involved. It is deterministic and does no network I/O, which also makes it
a stable baseline for tests.

Its posture is an allow-list. A keyword classifier cannot know everything that is dangerous, so:

* it reads English only: a ticket in another language, or one whose language is unclear
  (``bot.assess.language``), is not assessed at all (``AssessmentUnavailableError``: a human);
* without a structured request from the source, it proposes to act without a human only on what
  it positively recognises as a request for information with no risk signal
  (``bot.assess.informational``); everything else gets at least medium risk, with its best guess
  (category, draft, action) kept for the reviewer;
* amounts are read exactly or not at all (``bot.assess.amounts``); a refund or credit read from
  the text is only a proposal, which ``policies.risk_rules`` always sends to a human.

Its risk level is only an opinion. The rules in ``policies.risk_rules`` set the floor from facts
and may raise it; nothing here can lower it, so this module deliberately does not import them.
Risk signals (``bot.assess.risk_signals``: unauthorised activity, loss, missing or wrong money,
contested fees, ...) each add a named reason to the card and can only raise the level.
"""

from __future__ import annotations

from decimal import Decimal

from bot.assess.amounts import AmountReading, read_amounts
from bot.assess.assessment import Assessment, Classifier, ProposedAction, Sentiment
from bot.assess.heuristic_replies import (
    DEFAULT_CURRENCY,
    FALLBACK_CATEGORY,
    MONEY_KINDS,
    draft_reply,
)
from bot.assess.heuristic_rules import CATEGORY_REASONS, TWO_FACTOR, categorise, sentiment_of
from bot.assess.informational import Recognition, recognise
from bot.assess.language import detect_language
from bot.assess.offload import off_loop
from bot.assess.risk_signals import SignalHit, combined_level, find_signals
from bot.errors import AssessmentUnavailableError
from bot.tickets import RequestedAction, TicketIn
from policies.risk_levels import RiskLevel, highest
from policies.text import normalise_text, scanned

HEURISTIC_LABEL = "heuristic keyword classifier (no LLM configured)"

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

_MAX_REASONS = 10


def _action_from_request(requested: RequestedAction, reading: AmountReading) -> ProposedAction:
    """Follow what the source asked for; a request that cannot be represented goes to a human.

    A requested refund with an amount but no currency takes the currency the text states; when
    the text's amount is unclear, no currency is guessed: a human decides.
    """
    currency = requested.currency
    if currency is None and requested.amount is not None and requested.kind in MONEY_KINDS:
        if reading.unclear is not None:
            raise AssessmentUnavailableError(
                f"the requested {requested.kind} has no currency and the ticket's "
                f"{reading.describe()}"
            )
        stated = reading.amount
        currency = stated.currency if stated is not None else DEFAULT_CURRENCY
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
    unclear_amount: bool,
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
    if sentiment == "negative" or unclear_amount:
        levels.append(RiskLevel.MEDIUM)
    return highest(*levels)


def _money_risk(amount: Decimal | None) -> RiskLevel:
    """No amount is high (someone must decide one); otherwise the risk grows with the amount."""
    if amount is None:
        return RiskLevel.HIGH
    if amount <= LOW_AMOUNT_MAX:
        return RiskLevel.LOW
    if amount <= MEDIUM_AMOUNT_MAX:
        return RiskLevel.MEDIUM
    return RiskLevel.HIGH


def _default_action(category: str, reading: AmountReading) -> ProposedAction:
    """Without a request from the source: the refund the text states (a proposal a human
    decides), an escalation for legal matters, else a reply."""
    if category == "refund":
        stated = reading.amount
        if stated is None or stated.currency is None:
            return ProposedAction(kind="refund")
        return ProposedAction(kind="refund", amount=stated.value, currency=stated.currency)
    if category == "legal":
        return ProposedAction(kind="escalate")
    return ProposedAction(kind="reply")


class HeuristicClassifier(Classifier):
    """Keyword and regex rules; deterministic, no network, always labelled ``heuristic``."""

    name = "heuristic"

    async def assess(self, ticket: TicketIn) -> Assessment:
        """Assess ``ticket`` off the event loop: CPU work on hostile text (``offload``)."""
        return await off_loop(self.assess_now, ticket)

    def assess_now(self, ticket: TicketIn) -> Assessment:
        """Assess ``ticket`` from its subject and body; see the module docstring for the limits."""
        full = normalise_text(f"{ticket.subject}\n{ticket.body}")
        text = scanned(full)  # find_signals reads the full length, to say when it was cut
        language = detect_language(text)
        if not language.readable:
            raise AssessmentUnavailableError(
                "the embedded classifier reads English only and this ticket reads as "
                f"{language.describe()}: a human decides"
            )
        category = categorise(text)
        sentiment = sentiment_of(text)
        signals = find_signals(full)
        reading = read_amounts(text)
        reasons = [HEURISTIC_LABEL]
        if category.keyword is not None:
            reasons.append(f'{CATEGORY_REASONS[category.name]} ("{category.keyword}")')
        else:
            reasons.append("no category keywords matched")
        reasons.extend(hit.describe() for hit in signals)

        category_name = category.name
        recognition: Recognition | None = None
        if ticket.requested_action is not None:
            action = _action_from_request(ticket.requested_action, reading)
            reasons.append(f"the source requested: {action.describe()}")
            if category_name == FALLBACK_CATEGORY and action.kind in MONEY_KINDS:
                category_name = "refund"
        else:
            action = _default_action(category.name, reading)
            if category.name == "refund":
                reasons.append(reading.describe())
            recognition = recognise(text, category, signals, reading)
        unclear = reading.unclear is not None and action.kind in MONEY_KINDS
        if unclear and category.name != "refund":
            reasons.append(reading.describe())
        if sentiment == "negative":
            reasons.append("customer sounds upset")

        risk = _risk_for(category_name, action, sentiment, unclear, signals)
        if recognition is not None:
            if recognition.informational:
                reasons.append(f"recognised as informational: {recognition.why}")
            else:
                risk = highest(risk, RiskLevel.MEDIUM)
                reasons.append(
                    f"not recognised as informational ({recognition.why}): a human decides"
                )
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
                two_factor=bool(TWO_FACTOR.search(text)),
                flagged=combined_level(signals).rank >= RiskLevel.HIGH.rank,
            ),
            action=action,
        )


__all__ = ["HEURISTIC_LABEL", "RISK_SCORES", "HeuristicClassifier"]
