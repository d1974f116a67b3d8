"""The model's answer checked in code against the ticket, then turned into an ``Assessment``.

Why: **the model is advice, never authority** (OWASP LLM01/LLM06). The answer was already parsed
into the strict wire schema (:class:`~bot.assess.llm.prompt.TicketAssessment`); here everything
that schema cannot express is checked: an action kind or parameter that does not belong, an
amount that does not parse, a draft that is empty or too long — each raises
``AssessmentUnavailableError`` and the item goes to a human. A proposal that differs from what
the source requested is refused; a money action the source did not request is never the model's
to approve, so it is raised to high risk here, and ``policies`` still sets the floor from facts
afterwards. Personal data is put back (:func:`restored_assessment`) only after the checks, only
into the draft and the action's value, and only from this ticket's own redaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pydantic

from bot.assess.assessment import Assessment, ProposedAction
from bot.assess.llm.model_input import ModelInput
from bot.assess.llm.prompt import ActionOut, TicketAssessment
from bot.assess.llm.usage import LlmAssessmentUnavailableError
from bot.assess.pii_redaction import restore
from bot.errors import AssessmentUnavailableError
from bot.tickets import TicketIn
from policies.injection import looks_like_injection
from policies.risk_levels import RiskLevel, highest

__all__ = ["CheckedAnswer", "restored_assessment", "validate_answer", "validation_reason"]

_MAX_REASONS = 10
_MAX_REASON_CHARS = 300
MAX_DRAFT_CHARS = 10_000
_LOW_CONFIDENCE = 0.5
_MIN_SCORE: dict[RiskLevel, float] = {
    RiskLevel.LOW: 0.0,
    RiskLevel.MEDIUM: 0.4,
    RiskLevel.HIGH: 0.7,
    RiskLevel.CRITICAL: 0.9,
}

_LINK = re.compile(r"\bhttps?://|\bwww\.|\b[a-z0-9-]{1,63}\.(?:com|net|org|io|co|ly|me|xyz)/", re.I)
_AMOUNT = re.compile(r"^[0-9]{1,12}(?:\.[0-9]{1,2})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
_MONEY = frozenset({"refund", "credit"})


@dataclass(frozen=True)
class CheckedAnswer:
    """A validated answer, still in redacted form (what the cache keeps)."""

    assessment: TicketAssessment
    action: ProposedAction  # with redacted value
    risk: RiskLevel
    score: float
    reasons: tuple[str, ...]
    draft: str


def _nullish(value: str | None) -> str | None:
    return None if value is None or not value.strip() else value.strip()


def _check_action(out: ActionOut) -> ProposedAction:
    """Typed parameters per kind; anything that does not belong is refused, not dropped."""
    amount, currency = _nullish(out.amount), _nullish(out.currency)
    field_name, value = _nullish(out.field), _nullish(out.value)
    if out.kind in _MONEY:
        if field_name is not None or value is not None:
            raise AssessmentUnavailableError(
                f"the model's {out.kind} carries field/value parameters"
            )
        if amount is not None and not _AMOUNT.match(amount):
            raise AssessmentUnavailableError(f"the model's {out.kind} amount is not a plain number")
        if currency is not None:
            currency = currency.upper()
            if not _CURRENCY.match(currency):
                raise AssessmentUnavailableError("the model's currency is not a three-letter code")
        if amount is not None and currency is None:
            raise AssessmentUnavailableError(
                f"the model's {out.kind} has an amount but no currency"
            )
        try:
            return ProposedAction(
                kind=out.kind,
                amount=Decimal(amount) if amount is not None else None,
                currency=currency,
            )
        except (pydantic.ValidationError, InvalidOperation) as exc:
            raise AssessmentUnavailableError(
                f"the model's {out.kind} amount is out of range"
            ) from exc
    if amount is not None or currency is not None:
        raise AssessmentUnavailableError(f"the model's {out.kind} action carries an amount")
    if out.kind == "update_field":
        if field_name is None or value is None:
            raise AssessmentUnavailableError("the model's update_field lacks a field or a value")
        if not _FIELD_NAME.match(field_name) or len(value) > 1000:
            raise AssessmentUnavailableError("the model's update_field parameters are not allowed")
        return ProposedAction(kind="update_field", field=field_name, value=value)
    if field_name is not None or value is not None:
        raise AssessmentUnavailableError(f"the model's {out.kind} action carries field/value")
    return ProposedAction(kind=out.kind)


def _requested_action(ticket: TicketIn, model_input: ModelInput) -> ProposedAction | None:
    """The source's request in the same (redacted) terms the model saw."""
    requested = ticket.requested_action
    if requested is None:
        return None
    currency = requested.currency.upper() if requested.currency else None
    update = requested.kind == "update_field"
    try:
        return ProposedAction(
            kind=requested.kind,
            amount=requested.amount,
            currency=currency,
            field=model_input.requested_field if update else None,
            value=model_input.requested_value if update else None,
        )
    except pydantic.ValidationError as exc:
        raise AssessmentUnavailableError("the requested action cannot be represented") from exc


def _same_action(a: ProposedAction, b: ProposedAction) -> bool:
    if a.kind != b.kind:
        return False
    if a.kind in _MONEY:
        same_currency = a.currency is None or b.currency is None or a.currency == b.currency
        return a.amount == b.amount and same_currency
    if a.kind == "update_field":
        return a.field == b.field and a.value == b.value
    return True


def validate_answer(
    out: TicketAssessment, ticket: TicketIn, model_input: ModelInput
) -> CheckedAnswer:
    """Everything the schema cannot express, checked in code; raises AssessmentUnavailableError."""
    if not 0 <= out.risk_score <= 1:
        raise AssessmentUnavailableError("the model's risk_score is outside 0-1")
    if not 0 <= out.confidence <= 1:
        raise AssessmentUnavailableError("the model's confidence is outside 0-1")
    draft = out.draft_reply.strip()
    if not draft:
        raise AssessmentUnavailableError("the model returned an empty draft")
    if len(draft) > MAX_DRAFT_CHARS:
        raise AssessmentUnavailableError("the model's draft is too long")
    proposed = _check_action(out.action)
    requested = _requested_action(ticket, model_input)

    code_reasons: list[str] = []
    risk = RiskLevel(out.risk_level)
    changed_on_request = (
        model_input.change_message is not None
        and requested is not None
        and proposed.kind != "escalate"
        and not _same_action(proposed, requested)
    )
    if changed_on_request:
        # A reviewer asked for a different action (store credit instead of a refund): allowed,
        # never trusted. It is not what the source asked for, so a human decides, as always
        # after Request changes, and ``policies`` sets the floor from the new action.
        assert requested is not None
        risk = highest(risk, RiskLevel.HIGH)
        code_reasons.append(
            f"{proposed.describe()} at a reviewer's request, not the requested "
            f"{requested.describe()}: a human decides"
        )
    elif requested is not None and proposed.kind != "escalate":
        if not _same_action(proposed, requested):
            raise AssessmentUnavailableError(
                f"the model proposed {proposed.describe()} but the source requested "
                f"{requested.describe()}"
            )
        proposed = requested  # the source's parameters are the facts
    if requested is None and proposed.kind in _MONEY | {"update_field"}:
        risk = highest(risk, RiskLevel.HIGH)
        code_reasons.append(
            f"{proposed.kind} proposed by the model, not requested by the source: a human decides"
        )
    if looks_like_injection(f"{ticket.subject}\n{ticket.body}\n{ticket.customer.name}"):
        risk = highest(risk, RiskLevel.HIGH)
        code_reasons.append("ticket contains instructions addressed to the AI")
    if out.confidence < _LOW_CONFIDENCE:
        risk = highest(risk, RiskLevel.MEDIUM)
        code_reasons.append(f"model confidence is low ({out.confidence:.2f})")
    if _LINK.search(draft):
        risk = highest(risk, RiskLevel.MEDIUM)
        code_reasons.append("draft contains a link: a human checks it before it is sent")

    model_reasons = [
        " ".join(r.split())[:_MAX_REASON_CHARS] for r in out.reasons if r and r.strip()
    ]
    reasons = tuple(dict.fromkeys([*code_reasons, *model_reasons]))[:_MAX_REASONS]
    score = max(out.risk_score, _MIN_SCORE[risk])
    return CheckedAnswer(out, proposed, risk, score, reasons, draft)


def restored_assessment(
    checked: CheckedAnswer, model_input: ModelInput, classifier: str
) -> Assessment:
    """Personal data back into the draft and the action's value, for this ticket only."""
    mapping = model_input.redaction.mapping
    action = checked.action
    if action.value is not None:
        action = action.model_copy(update={"value": restore(action.value, mapping)})
    out = checked.assessment
    try:
        return Assessment(
            classifier=classifier,
            category=out.category,
            sentiment=out.sentiment,
            risk_level=checked.risk,
            risk_score=checked.score,
            confidence=out.confidence,
            reasons=list(checked.reasons),
            draft_reply=restore(checked.draft, mapping)[:MAX_DRAFT_CHARS],
            action=action,
        )
    except pydantic.ValidationError as exc:
        raise LlmAssessmentUnavailableError(validation_reason(exc)) from exc


def validation_reason(exc: pydantic.ValidationError) -> str:
    """The short reason an item shows when the answer does not fit the schema."""
    errors = exc.errors()
    if any(e["type"] in {"json_invalid", "json_type"} for e in errors):
        return "the model returned invalid JSON"
    for error in errors:
        if tuple(error["loc"]) == ("action", "kind"):
            shown = json.dumps(error.get("input"))[:40]
            return f"the model proposed an action that is not allowed ({shown})"
    first = errors[0] if errors else None
    where = ".".join(str(p) for p in first["loc"]) if first else "?"
    return (
        f"the model's answer does not match the schema ({where}: {first['type'] if first else '?'})"
    )
