"""The assess step: received → assessed. The classifier's opinion, or why there is none.

The classifier is advice (``policies`` sets the floor of risk later, in the route step), and it
fails closed: an unavailable assessment or a classifier bug still moves the item to assessed,
marked high risk with the reason, so the route step sends it to a human. What the model call
cost is recorded on the item, in the ``assessed`` audit event and in the metrics.
"""

from __future__ import annotations

from typing import Any

from bot.assess.assessment import Assessment, Classifier
from bot.assess.edit_examples import EditExample, examples_for
from bot.assess.llm.model_input import ChangeRequest
from bot.assess.llm.usage import LlmAssessmentUnavailableError, LlmUsage
from bot.errors import AssessmentUnavailableError
from bot.logging_setup import get_logger
from bot.review.stale_drafts import mark_older_drafts_stale
from bot.runtime import Runtime
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.item_states import ItemState
from bot.store.items import move
from bot.store.models import Item
from bot.tickets import Customer, RequestedAction, TicketIn
from policies.risk_levels import RiskLevel

log = get_logger(__name__)

UNAVAILABLE_PREFIX = "AI assessment unavailable: "


async def assess(rt: Runtime, holder: str, item: Item) -> Item | None:
    """Assess a received item and record it as assessed; ``None`` if the item moved meanwhile."""
    values, usage = await _assessment_or_failure(rt, item)
    llm_record: dict[str, Any] = {}
    if usage is not None:
        _count_usage(rt, usage)
        values["llm_usage"] = usage.to_record()
        llm_record = _usage_summary(usage)
    async with transaction(rt.sessions) as session:
        moved = await move(
            session,
            item.id,
            from_states=[ItemState.RECEIVED],
            to=ItemState.ASSESSED,
            held_by=holder,
            **values,
        )
        if moved is None:
            return None
        await audit.record(
            session,
            "assessed",
            item_id=item.id,
            classifier=values["classifier"],
            category=values["category"],
            risk_level=values["risk_level"],
            action=(values["proposed_action"] or {}).get("kind"),
            error=values["assessment_error"],
            **llm_record,
        )
    try:  # best effort: a click on an older card finds out anyway
        await mark_older_drafts_stale(rt, item.id, new_item=moved)
    except Exception:
        log.exception("marking older drafts stale failed", item_id=item.id)
    return moved


async def _assessment_or_failure(rt: Runtime, item: Item) -> tuple[dict[str, Any], LlmUsage | None]:
    """The item's new values from the classifier, or, if it cannot say, the values that send
    the item to a human with the reason; and what the model call cost, if one was made."""
    usage: LlmUsage | None = None
    classifier = rt.classifier
    try:
        examples = (
            await _edit_examples(rt, item, classifier) if classifier.takes_edit_examples else []
        )
        change = (
            ChangeRequest(item.change_request, item.change_prior_draft or "")
            if item.change_request and classifier.takes_change_requests
            else None
        )
        assessment, usage = await classifier.assess_with_usage(
            ticket_from_item(item), examples, change
        )
        return _assessment_values(assessment), usage
    except AssessmentUnavailableError as exc:
        rt.metrics.assessment_failures.inc()
        usage = exc.usage if isinstance(exc, LlmAssessmentUnavailableError) else None
        log.warning("assessment unavailable", item_id=item.id, reason=exc.reason)
        return _unavailable_values(item, exc.reason), usage
    except Exception as exc:  # a classifier bug must fail closed, not lose the item
        log.exception("classifier crashed", item_id=item.id)
        rt.metrics.assessment_failures.inc()
        return _unavailable_values(item, f"classifier error ({exc.__class__.__name__})"), usage


def ticket_from_item(item: Item) -> TicketIn:
    """The ticket as it arrived, rebuilt from the item row, for the classifier."""
    return TicketIn(
        id=item.external_id,
        kind=item.kind,
        subject=item.subject,
        body=item.body,
        customer=Customer(
            name=item.customer_name, email=item.customer_email, tier=item.customer_tier
        ),
        requested_action=(
            RequestedAction.model_validate(item.requested_action) if item.requested_action else None
        ),
        metadata=item.extra,
    )


async def _edit_examples(rt: Runtime, item: Item, classifier: Classifier) -> list[EditExample]:
    """Past reviewer edits for the prompt; without them the draft is only less tailored."""
    try:
        return await examples_for(
            rt.sessions,
            subject=item.subject,
            body=item.body,
            k=rt.settings.draft_examples,
            now=utcnow(),
            embedder=classifier.embedder(),
            customer_name=item.customer_name,
        )
    except Exception:
        log.exception("edit examples unavailable", item_id=item.id)
        return []


def _count_usage(rt: Runtime, usage: LlmUsage) -> None:
    """Cache hits cost nothing and took no model time, so they are not observed."""
    if usage.cache_hit:
        return
    metrics = rt.metrics
    metrics.llm_latency.observe(usage.latency_seconds)
    metrics.llm_tokens.labels("prompt").inc(usage.prompt_tokens)
    metrics.llm_tokens.labels("completion").inc(usage.completion_tokens)
    metrics.llm_tokens.labels("cached").inc(usage.cached_tokens)


def _assessment_values(assessment: Assessment) -> dict[str, Any]:
    return {
        "classifier": assessment.classifier,
        "category": assessment.category,
        "sentiment": assessment.sentiment,
        "risk_level": assessment.risk_level.value,
        "risk_score": assessment.risk_score,
        "reasons": assessment.reasons,
        "draft_reply": assessment.draft_reply,
        "proposed_action": assessment.action.model_dump(mode="json", exclude_none=True),
        "assessment_error": None,
    }


def _usage_summary(usage: LlmUsage) -> dict[str, Any]:
    """What the audit event keeps about the call: enough to price and reproduce it (the prompt is
    identified by version and hash; the redacted input and raw response stay on the item row)."""
    return {
        "llm_model": usage.model,
        "prompt_version": usage.prompt_version,
        "prompt_sha256": usage.prompt_sha256,
        "input_sha256": usage.input_sha256,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_tokens": usage.cached_tokens,
        "latency_seconds": round(usage.latency_seconds, 4),
        "cache_hit": usage.cache_hit,
        "redactions": usage.redactions,
        "edit_examples": usage.example_item_ids,
    }


def _unavailable_values(item: Item, reason: str) -> dict[str, Any]:
    """A failed assessment: keep what the source asked for, mark it, and let a human decide."""
    requested = item.requested_action or {"kind": "escalate"}
    action = {
        k: v for k, v in requested.items() if k in {"kind", "amount", "currency", "field", "value"}
    }
    return {
        "classifier": "unavailable",
        "category": "unassessed",
        "sentiment": None,
        "risk_level": RiskLevel.HIGH.value,
        "risk_score": None,
        "reasons": [UNAVAILABLE_PREFIX + reason],
        # A failed re-draft after Request changes keeps the draft the reviewer saw.
        "draft_reply": item.change_prior_draft if item.change_request else None,
        "proposed_action": action,
        "assessment_error": reason,
    }
