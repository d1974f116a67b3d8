"""The pipeline: received → assessed → (auto-approved | pending review) → executing → executed.

Each step does its work outside a transaction (an LLM or HTTP call can be slow), then commits its
result with one conditional ``transition``. If the transition loses a race the step stops: some
other worker or click already moved the item on.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.actions.authorise import authorise, idempotency_key, resends_safely
from bot.assess.assessment import Assessment, ProposedAction
from bot.assess.edit_examples import EditExample, examples_for
from bot.autonomy.evidence import evidence_summary
from bot.autonomy.routing import catch_up, route_with_autonomy
from bot.autonomy.spot_checks import post_spot_check_if_chosen
from bot.errors import (
    AssessmentUnavailableError,
    ExecutionRefusedError,
    PermanentError,
    RetryableError,
)
from bot.lead_settings.registry import load_lead_settings
from bot.logging_setup import get_logger
from bot.review.decisions import requirement_for
from bot.review.outcomes import is_merged
from bot.review.reminders import review_schedule
from bot.review.stale_drafts import mark_older_drafts_stale
from bot.runtime import Runtime, llm_classifier
from bot.slack.text import safe
from bot.store import audit
from bot.store.claim_keeper import kept_claim
from bot.store.database import transaction
from bot.store.item_states import DecisionOutcome, ItemState
from bot.store.items import begin_send, get_item, release, transition
from bot.store.models import Decision, Item, utcnow
from bot.store.stat_tally import Metric, count_decision, count_events
from bot.tickets import Customer, RequestedAction, TicketIn
from policies.risk_levels import RiskLevel
from policies.risk_rules import TicketFacts, risk_floor
from policies.routing import Route, RouteDecision, decide_route

if TYPE_CHECKING:  # imported at run time only with OPENAI_API_KEY (bot.runtime.build_classifier)
    from bot.assess.openai_classifier import LlmUsage, OpenAIClassifier

log = get_logger(__name__)

UNAVAILABLE_PREFIX = "AI assessment unavailable: "
# The route policy of an item folded into another's re-draft.
MERGED = "merged"


def ticket_from_item(item: Item) -> TicketIn:
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


# The longest a vendor's Retry-After may push one retry out.
RETRY_AFTER_CAP = 900.0


def backoff_delay(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential back-off with full jitter, so retrying workers do not stampede a recovering
    endpoint together."""
    return random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1)))  # noqa: S311


class Pipeline:
    """Advances claimed items. Every write is conditional on the item's own claim (``holder``,
    the token ``claim`` wrote into ``claimed_by``), so two slots of one process can never act
    on each other's item even though they share the worker's id."""

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.rt = runtime
        self.holder = worker_id

    async def advance(self, item: Item) -> None:
        """Move a claimed item as far as it can go now, then release the claim. The claim is
        renewed while the steps run, so a slow model or vendor never lets a second worker in."""
        if item.claimed_by and item.claimed_by != self.holder:
            await Pipeline(self.rt, item.claimed_by).advance(item)
            return
        lease = timedelta(seconds=self.rt.settings.lease_seconds)
        try:
            async with kept_claim(self.rt.sessions, item.id, self.holder, lease=lease) as claim:
                while not claim.lost:
                    moved = await self._step(item)
                    if moved is None:
                        break
                    item = moved
        finally:
            # Entering review frees the claim in that same transaction: nothing to release.
            if item.claimed_by == self.holder or item.state != ItemState.PENDING_REVIEW:
                async with transaction(self.rt.sessions) as session:
                    await release(session, item.id, self.holder)

    async def _step(self, item: Item) -> Item | None:
        if item.state == ItemState.RECEIVED:
            return await self._assess(item)
        if item.state == ItemState.ASSESSED:
            return await self._route(item)
        if item.state == ItemState.PENDING_REVIEW:
            # Released when it entered review: the card poster posts cards in review order.
            return None
        if item.state == ItemState.APPROVED:
            return await self._start_execution(item)
        if item.state == ItemState.EXECUTING:
            await self._execute(item)
        return None

    @staticmethod
    async def _moved(session: AsyncSession, item_id: str) -> Item | None:
        """The item as the step's own transaction just left it: read in that transaction
        rather than in one more after it."""
        return await session.get(Item, item_id, populate_existing=True)

    async def _assess(self, item: Item) -> Item | None:
        values: dict[str, Any]
        usage: LlmUsage | None = None
        classifier = self.rt.classifier
        llm = llm_classifier(classifier)
        try:
            if llm is not None:
                examples = await self._edit_examples(item, llm)
                assessment, usage = await llm.assess_with_usage(ticket_from_item(item), examples)
            else:
                assessment = await classifier.assess(ticket_from_item(item))
            values = _assessment_values(assessment)
        except AssessmentUnavailableError as exc:
            self.rt.metrics.assessment_failures.inc()
            usage = getattr(exc, "usage", None)  # what a failed LLM call cost, if it got that far
            log.warning("assessment unavailable", item_id=item.id, reason=exc.reason)
            values = _unavailable_values(item, exc.reason)
        except Exception as exc:  # a classifier bug must fail closed, not lose the item
            log.exception("classifier crashed", item_id=item.id)
            self.rt.metrics.assessment_failures.inc()
            values = _unavailable_values(item, f"classifier error ({exc.__class__.__name__})")
        llm_record: dict[str, Any] = {}
        if usage is not None:
            self._count_usage(usage)
            values["llm_usage"] = usage.to_record()
            llm_record = _usage_summary(usage)
        async with transaction(self.rt.sessions) as session:
            if not await transition(
                session,
                item.id,
                from_states=[ItemState.RECEIVED],
                to=ItemState.ASSESSED,
                held_by=self.holder,
                **values,
            ):
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
            moved = await self._moved(session, item.id)
        try:  # best effort: a click on an older card finds out anyway
            await mark_older_drafts_stale(self.rt, item.id, new_item=moved)
        except Exception:
            log.exception("marking older drafts stale failed", item_id=item.id)
        return moved

    async def _edit_examples(self, item: Item, classifier: OpenAIClassifier) -> list[EditExample]:
        """Past reviewer edits for the prompt; without them the draft is only less tailored."""
        try:
            return await examples_for(
                self.rt.sessions,
                subject=item.subject,
                body=item.body,
                k=self.rt.settings.draft_examples,
                now=utcnow(),
                embedder=classifier if classifier.embeddings_model else None,
                customer_name=item.customer_name,
            )
        except Exception:
            log.exception("edit examples unavailable", item_id=item.id)
            return []

    def _count_usage(self, usage: LlmUsage) -> None:
        """Cache hits cost nothing and took no model time, so they are not observed."""
        if usage.cache_hit:
            return
        metrics = self.rt.metrics
        metrics.llm_latency.observe(usage.latency_seconds)
        metrics.llm_tokens.labels("prompt").inc(usage.prompt_tokens)
        metrics.llm_tokens.labels("completion").inc(usage.completion_tokens)
        metrics.llm_tokens.labels("cached").inc(usage.cached_tokens)

    async def _route(self, item: Item) -> Item | None:
        lead_policy = await load_lead_settings(self.rt.sessions, self.rt.settings)
        thresholds = lead_policy.thresholds
        action = ProposedAction.model_validate(item.proposed_action or {"kind": "reply"})
        facts = TicketFacts.of(
            text=f"{item.subject}\n{item.body}",
            action=action.model_dump(mode="json", exclude_none=True),
            requested=item.requested_action,
            customer_tier=item.customer_tier,
            sentiment=item.sentiment,
            category=item.category,
        )
        floor = risk_floor(facts, thresholds)
        model_risk = None if item.assessment_error else RiskLevel(item.risk_level or "critical")
        base = decide_route(facts=facts, floor=floor, model_risk=model_risk, thresholds=thresholds)
        autonomy = await route_with_autonomy(
            self.rt,
            item_id=item.id,
            category=item.category,
            action_kind=action.kind,
            amount=facts.amount,
            base=base,
            floor=floor.level,
        )
        route = autonomy.as_route(base)
        if is_merged(item):
            # Folded into another item's re-draft: that item answers the customer; this one
            # only waits for a human to close it (its card offers Reject alone).
            route = RouteDecision(Route.REVIEW, route.risk, MERGED, item.stale_reason or "merged")
        reasons = list(dict.fromkeys([*floor.reasons, *item.reasons]))
        common: dict[str, Any] = {
            "risk_level": route.risk.value,
            "reasons": reasons,
            "route_policy": route.policy,
            "route_why": route.why,
            "autonomy_bucket": autonomy.bucket,
            "autonomy_would_auto": autonomy.decision.would_auto,
            "autonomy_note": autonomy.note,
        }
        async with transaction(self.rt.sessions) as session:
            # Only this worker's own item row is written here, so the chain's lock may come
            # first; then the times below are in commit order, and cards go out in that order.
            await audit.lock_chain(session)
            now = utcnow()
            if route.route == Route.AUTO:
                decision = Decision(
                    item_id=item.id,
                    outcome=DecisionOutcome.AUTO_APPROVED,
                    actor=audit.AUTO,
                    policy=route.policy,
                    created_at=now,
                )
                session.add(decision)
                await session.flush()
                assert decision.id is not None
                moved = await transition(
                    session,
                    item.id,
                    from_states=[ItemState.ASSESSED],
                    to=ItemState.APPROVED,
                    held_by=self.holder,
                    # A re-draft may fold this item into another at any moment: never then.
                    only_if=col(Item.stale_reason).is_(None),
                    decision_id=decision.id,
                    decided_at=now,
                    idempotency_key=idempotency_key(item.id, decision.id),
                    approved_reply=item.draft_reply,
                    approved_action=item.proposed_action,
                    **common,
                )
                event = "auto_approved"
            else:
                needs = requirement_for(
                    item.model_copy(update={"risk_level": route.risk.value}), lead_policy
                )
                moved = await transition(
                    session,
                    item.id,
                    from_states=[ItemState.ASSESSED],
                    to=ItemState.PENDING_REVIEW,
                    held_by=self.holder,
                    approvals_required=needs.approvals,
                    lead_required=needs.lead_required,
                    # Free for the card poster the moment it is visible, so a card that entered
                    # review first is never passed over while its worker is still finishing.
                    claimed_by=None,
                    claimed_until=None,
                    **common,
                    **review_schedule(self.rt.settings, lead_policy, now),
                )
                event = "sent_to_review"
            if not moved:
                await session.rollback()
                # Merged meanwhile (still ours, still assessed): route it again, to review.
                if route.route != Route.AUTO:
                    return None
                return await get_item(self.rt.sessions, item.id)
            await audit.record(
                session,
                event,
                item_id=item.id,
                actor=audit.AUTO if route.route == Route.AUTO else audit.SYSTEM,
                policy=route.policy,
                why=route.why,
                risk=route.risk.value,
                rule_floor=floor.level.value,
                model_risk=model_risk.value if model_risk else None,
                threshold_policy=base.policy,
                bucket=autonomy.bucket,
                would_auto=autonomy.decision.would_auto,
                evidence=evidence_summary(autonomy.state, autonomy.policy),
            )
            if route.route == Route.AUTO:
                await count_decision(
                    session, decision, category=item.category, route_policy=route.policy
                )
            return await self._moved(session, item.id)

    async def _start_execution(self, item: Item) -> Item | None:
        if item.review_started_at is not None:
            # A human just approved: count it now, so a material edit revokes at once. Best
            # effort: the next routed item catches up anyway, so this never delays execution.
            try:
                await catch_up(self.rt)
            except Exception:
                log.exception("autonomy catch-up failed", item_id=item.id)
        async with transaction(self.rt.sessions) as session:
            if not await transition(
                session,
                item.id,
                from_states=[ItemState.APPROVED],
                to=ItemState.EXECUTING,
                held_by=self.holder,
            ):
                return None
            await audit.record(
                session, "execution_started", item_id=item.id, idempotency_key=item.idempotency_key
            )
            moved = await self._moved(session, item.id)
        if moved is not None and self.rt.publisher is not None and moved.slack_ts:
            await self.rt.publisher.refresh_card(moved)
        return moved

    async def _execute(self, item: Item) -> None:
        settings = self.rt.settings
        reviewers = await self.rt.roster.reviewers()
        attempts = item.attempts + 1
        # Why not to send, if so: (event, last_error). The authority check and the send fence
        # share one transaction (a refusal writes nothing in it).
        stop: tuple[str, str] | None = None
        async with transaction(self.rt.sessions) as session:
            try:
                request = await authorise(session, item, reviewers=reviewers, leads=settings.leads)
            except ExecutionRefusedError as exc:
                stop = ("execution_refused", f"refused: {exc}")
            else:
                if item.send_started_at is not None and not resends_safely(
                    self.rt.executor, request.source
                ):
                    # The last attempt went out and nobody heard back (its worker crashed or
                    # lost the item): the far side may have acted, and this executor cannot
                    # de-duplicate.
                    stop = (
                        "execution_failed",
                        "outcome unknown: an earlier attempt was cut off before its answer was "
                        f"recorded: check {request.source} before using Retry",
                    )
                elif item.attempts >= settings.max_execution_attempts:
                    stop = (
                        "execution_failed",
                        f"gave up after {item.attempts} attempts with no recorded outcome",
                    )
                else:
                    lease = timedelta(seconds=settings.lease_seconds)
                    if not await begin_send(session, item.id, self.holder, lease=lease):
                        log.warning("claim lost before sending; not sending", item_id=item.id)
                        return
                    await audit.record(
                        session,
                        "execution_attempt",
                        item_id=item.id,
                        attempt=attempts,
                        idempotency_key=request.idempotency_key,
                        resend=item.send_started_at is not None,
                    )
        if stop is not None:
            await self._finish(item, ItemState.FAILED, stop[0], last_error=stop[1])
            return
        try:
            result = await self.rt.executor.execute(request)
        except RetryableError as exc:
            if attempts >= settings.max_execution_attempts:
                await self._finish(
                    item,
                    ItemState.FAILED,
                    "execution_failed",
                    attempts=attempts,
                    last_error=f"gave up after {attempts} attempts: {exc}",
                )
                return
            delay = min(RETRY_AFTER_CAP, max(backoff_delay(attempts), exc.retry_after or 0.0))
            self.rt.metrics.executions.labels("execution_retry_scheduled").inc()
            async with transaction(self.rt.sessions) as session:
                await release(
                    session,
                    item.id,
                    self.holder,
                    send_started_at=None,
                    last_error=str(exc),
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                )
                await audit.record(
                    session,
                    "execution_retry_scheduled",
                    item_id=item.id,
                    attempt=attempts,
                    error=str(exc),
                    retry_in_seconds=round(delay, 2),
                )
            return
        except PermanentError as exc:
            await self._finish(
                item, ItemState.FAILED, "execution_failed", attempts=attempts, last_error=str(exc)
            )
            return
        except Exception as exc:
            # An executor bug or an unreadable answer: the far side may have acted, so sending
            # again could act twice. A human looks, and a lead's Retry resends the same key.
            log.exception("executor crashed", item_id=item.id)
            await self._finish(
                item,
                ItemState.FAILED,
                "execution_failed",
                attempts=attempts,
                last_error=(
                    f"outcome unknown ({exc.__class__.__name__}): check {request.source} "
                    "before using Retry"
                ),
            )
            return
        await self._finish(
            item,
            ItemState.EXECUTED,
            "executed",
            executed_at=utcnow(),
            execution_result=result,
            executed_reply=request.reply_text,
            executed_action=request.action,
            attempts=attempts,
            last_error=None,
        )

    async def _finish(self, item: Item, to: ItemState, event: str, **values: Any) -> None:
        async with transaction(self.rt.sessions) as session:
            if not await transition(
                session,
                item.id,
                from_states=[ItemState.EXECUTING],
                to=to,
                held_by=self.holder,
                next_attempt_at=None,
                send_started_at=None,
                **values,
            ):
                # Another worker took the item over (this one stalled past its lease); its
                # attempt records the outcome. Keep what this one learnt in the log at least.
                log.error(
                    "outcome not recorded: the claim was taken over",
                    item_id=item.id,
                    outcome=event,
                    detail={k: v for k, v in values.items() if k in _OUTCOME_FIELDS},
                )
                return
            await audit.record(
                session,
                event,
                item_id=item.id,
                actor=audit.SYSTEM,
                **{k: v for k, v in values.items() if k in _OUTCOME_FIELDS},
            )
            if to == ItemState.FAILED:
                await count_events(session, utcnow(), [Metric.FAILED], category=item.category)
            finished = await self._moved(session, item.id)
        log.info("item finished", item_id=item.id, state=to.value)
        self.rt.metrics.executions.labels(event).inc()
        if finished is None or self.rt.publisher is None:
            return
        if finished.slack_ts:
            await self.rt.publisher.refresh_card(finished)
            if to == ItemState.FAILED:
                await self.rt.publisher.post_in_thread(
                    finished, f":x: Execution failed: {safe(finished.last_error or '?', 2000)}"
                )
        elif to == ItemState.FAILED:
            # Auto-approved, so no card yet: a failure needs a human and a Retry button. Posted
            # now if the channel is free, else by the card poster (it posts unposted failures).
            await self.rt.publisher.post_card(finished)
        elif to == ItemState.EXECUTED and self.rt.settings.post_auto:
            await self.rt.publisher.post_auto_line(finished)
        if to == ItemState.EXECUTED:
            await post_spot_check_if_chosen(self.rt, finished)


# What an outcome's audit row keeps of the values written with it.
_OUTCOME_FIELDS = frozenset({"last_error", "execution_result", "attempts"})


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
        "draft_reply": None,
        "proposed_action": action,
        "assessment_error": reason,
    }
