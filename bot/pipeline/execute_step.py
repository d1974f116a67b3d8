"""The execute step: approved → executing → executed or failed. The approved action, sent once.

Authority is re-checked right before sending (``bot.actions.authorise``), in the same transaction
as the send fence (``begin_send``), so a refusal writes nothing and two workers can never both
send. The action carries an idempotency key that is the same for every retry of one decision.
A retryable failure is retried with jittered back-off; a permanent one, an executor bug, or an
earlier attempt that was cut off before its answer was recorded (when the far side cannot
de-duplicate) fails the item to a human with the reason, and a lead's Retry resends the same key.
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from bot.actions.authorise import authorise, resends_safely
from bot.actions.sink import ActionRequest
from bot.assess.pii_masking import masked
from bot.autonomy.routing import catch_up
from bot.autonomy.spot_checks import post_spot_check_if_chosen
from bot.errors import ExecutionRefusedError, PermanentError, RetryableError
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.slack.text import safe
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.item_states import ItemState
from bot.store.items import begin_send, move, release
from bot.store.models import Item
from bot.store.money_budget import release_money_budget
from bot.store.stat_tally import Metric, count_events

log = get_logger(__name__)

# The longest a vendor's Retry-After may push one retry out.
RETRY_AFTER_CAP = 900.0
# What an outcome's audit row keeps of the values written with it.
_OUTCOME_FIELDS = frozenset({"last_error", "execution_result", "attempts"})


def backoff_delay(attempt: int, *, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential back-off with full jitter, so retrying workers do not stampede a recovering
    endpoint together."""
    return random.uniform(0, min(cap, base * 2 ** max(0, attempt - 1)))  # noqa: S311


async def start_execution(rt: Runtime, holder: str, item: Item) -> Item | None:
    """Approved → executing, so the card shows it is under way; ``None`` if it moved meanwhile."""
    if item.review_started_at is not None:
        # A human just approved: count it now, so a material edit revokes at once. Best
        # effort: the next routed item catches up anyway, so this never delays execution.
        try:
            await catch_up(rt)
        except Exception:
            log.exception("autonomy catch-up failed", item_id=item.id)
    async with transaction(rt.sessions) as session:
        moved = await move(
            session,
            item.id,
            from_states=[ItemState.APPROVED],
            to=ItemState.EXECUTING,
            held_by=holder,
        )
        if moved is None:
            return None
        await audit.record(
            session, "execution_started", item_id=item.id, idempotency_key=item.idempotency_key
        )
    if moved is not None and rt.publisher is not None and moved.slack_ts:
        await rt.publisher.refresh_card(moved)
    return moved


async def execute(rt: Runtime, holder: str, item: Item) -> Item | None:
    """Authorise, fence and send one attempt, then record its outcome. Returns the item as it
    ended (its claim ended with it), or ``None`` when it did not end: a retry is scheduled (and
    the claim released with it), or the claim was lost."""
    settings = rt.settings
    # The route's reviewers for a routed card, else the general ones (leads always).
    reviewers = await rt.roster.deciders_for(item.reviewer_group)
    attempts = item.attempts + 1
    # Why not to send, if so: (event, last_error). The authority check and the send fence
    # share one transaction (a refusal writes nothing in it).
    stop: tuple[str, str] | None = None
    async with transaction(rt.sessions) as session:
        try:
            request = await authorise(session, item, reviewers=reviewers, leads=settings.leads)
        except ExecutionRefusedError as exc:
            stop = ("execution_refused", f"refused: {exc}")
        else:
            stop = _why_not_send(rt, item, request)
            if stop is None:
                lease = timedelta(seconds=settings.lease_seconds)
                if not await begin_send(session, item.id, holder, lease=lease):
                    log.warning("claim lost before sending; not sending", item_id=item.id)
                    return None
                await audit.record(
                    session,
                    "execution_attempt",
                    item_id=item.id,
                    attempt=attempts,
                    idempotency_key=request.idempotency_key,
                    resend=item.send_started_at is not None,
                )
    if stop is not None:
        return await _finish(rt, holder, item, ItemState.FAILED, stop[0], last_error=stop[1])
    return await _send(rt, holder, item, request, attempts)


def _why_not_send(rt: Runtime, item: Item, request: ActionRequest) -> tuple[str, str] | None:
    """(event, last_error) when this attempt must not go out; ``None`` to send."""
    if item.send_started_at is not None and not resends_safely(rt.executor, request.source):
        # The last attempt went out and nobody heard back (its worker crashed or lost the
        # item): the far side may have acted, and this executor cannot de-duplicate.
        return (
            "execution_failed",
            "outcome unknown: an earlier attempt was cut off before its answer was "
            f"recorded: check {request.source} before using Retry",
        )
    if item.attempts >= rt.settings.max_execution_attempts:
        return (
            "execution_failed",
            f"gave up after {item.attempts} attempts with no recorded outcome",
        )
    return None


async def _send(
    rt: Runtime, holder: str, item: Item, request: ActionRequest, attempts: int
) -> Item | None:
    """Send the fenced attempt and record what came of it: executed, retry later, or failed
    (the item as it ended, as ``execute`` returns it)."""
    try:
        result = await rt.executor.execute(request)
    except RetryableError as exc:
        if attempts >= rt.settings.max_execution_attempts:
            return await _failed(
                rt, holder, item, attempts, f"gave up after {attempts} attempts: {exc}"
            )
        await _retry_later(rt, holder, item, attempts, exc)
        return None
    except PermanentError as exc:
        return await _failed(rt, holder, item, attempts, str(exc))
    except Exception as exc:
        # An executor bug or an unreadable answer: the far side may have acted, so sending
        # again could act twice. A human looks, and a lead's Retry resends the same key.
        log.exception("executor crashed", item_id=item.id)
        unknown = (
            f"outcome unknown ({exc.__class__.__name__}): check {request.source} before using Retry"
        )
        return await _failed(rt, holder, item, attempts, unknown)
    return await _finish(
        rt,
        holder,
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


async def _failed(
    rt: Runtime, holder: str, item: Item, attempts: int, last_error: str
) -> Item | None:
    """This attempt failed for good: a human looks (a lead's Retry resends the same key)."""
    return await _finish(
        rt,
        holder,
        item,
        ItemState.FAILED,
        "execution_failed",
        attempts=attempts,
        last_error=last_error,
    )


async def _retry_later(
    rt: Runtime, holder: str, item: Item, attempts: int, exc: RetryableError
) -> None:
    """Release the item with the next attempt's time: jittered back-off, or the vendor's
    Retry-After when longer (capped)."""
    delay = min(RETRY_AFTER_CAP, max(backoff_delay(attempts), exc.retry_after or 0.0))
    rt.metrics.executions.labels("execution_retry_scheduled").inc()
    async with transaction(rt.sessions) as session:
        await release(
            session,
            item.id,
            holder,
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


async def _finish(
    rt: Runtime, holder: str, item: Item, to: ItemState, event: str, **values: Any
) -> Item | None:
    """Executing → ``to`` with the outcome, audited, then shown in Slack. An executed item's
    claim ends with the move (nothing is left to do, so no release follows); a failed one keeps
    it until released after ``_announce``, which may post its card: the claim keeps another
    instance's card poster off it meanwhile."""
    ends_claim = {} if to == ItemState.FAILED else {"claimed_by": None, "claimed_until": None}
    async with transaction(rt.sessions) as session:
        finished = await move(
            session,
            item.id,
            from_states=[ItemState.EXECUTING],
            to=to,
            held_by=holder,
            next_attempt_at=None,
            send_started_at=None,
            **ends_claim,
            **values,
        )
        if finished is None:
            # Another worker took the item over (this one stalled past its lease); its
            # attempt records the outcome. Keep what this one learnt in the log at least.
            log.error(
                "outcome not recorded: the claim was taken over",
                item_id=item.id,
                outcome=event,
                detail={k: v for k, v in values.items() if k in _OUTCOME_FIELDS},
            )
            return None
        await audit.record(
            session,
            event,
            item_id=item.id,
            actor=audit.SYSTEM,
            **{k: v for k, v in values.items() if k in _OUTCOME_FIELDS},
        )
        if to == ItemState.FAILED:
            await count_events(session, utcnow(), [Metric.FAILED], category=item.category)
            await release_money_budget(session, item.id, utcnow())
    log.info("item finished", item_id=item.id, state=to.value)
    rt.metrics.executions.labels(event).inc()
    await _announce(rt, finished, to)
    return finished


async def _announce(rt: Runtime, finished: Item, to: ItemState) -> None:
    """The card refreshed, a failure said in its thread (or a card posted for it, since an
    auto-approved item has none yet), an auto-executed line if asked for, a spot check."""
    if rt.publisher is None:
        return
    if finished.slack_ts:
        await rt.publisher.refresh_card(finished)
        if to == ItemState.FAILED:
            await rt.publisher.post_in_thread(
                finished, f":x: Execution failed: {safe(masked(finished.last_error or '?'), 2000)}"
            )
    elif to == ItemState.FAILED:
        # Auto-approved, so no card yet: a failure needs a human and a Retry button. Posted
        # now if the channel is free, else by the card poster (it posts unposted failures).
        await rt.publisher.post_card(finished)
    elif to == ItemState.EXECUTED and rt.settings.post_auto:
        await rt.publisher.post_auto_line(finished)
    if to == ItemState.EXECUTED:
        await post_spot_check_if_chosen(rt, finished)
