"""Spot checks after the fact: a share of auto-executed items is shown to a human afterwards.

Auto-execution is only as good as the evidence behind it, and once a bucket is trusted nobody
looks at its items any more. A lead-set share (``SIGNOFF_SPOT_CHECK_SHARE``, default 3%) is
posted to the review channel after execution with "Was this right? 👍 / 👎". A 👍 counts as an
unchanged approval for the bucket; a 👎 counts as a reject: it resets the bucket's evidence,
revokes its autonomy and tells the leads. The draw is a hash of the item id, so it is the same on
every instance and every retry.

Who may answer is decided like every other click: the reviewer roster (``SIGNOFF_REVIEWERS``,
``SIGNOFF_LEADS`` and the members of ``SIGNOFF_REVIEWER_GROUP``), resolved by the listener and
passed in as :class:`Roles`. A 👍 is an approval for the bucket's evidence, so the person who
raised the item may not give it (no self-approval); a 👎 only ever takes trust away, so they may.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.exc import IntegrityError

from bot.assess.pii_masking import mask_for_display, masked_action
from bot.autonomy.evidence import SPOT_CHECK, record_outcome
from bot.autonomy.routing import tell_leads
from bot.lead_settings.autonomy_settings import load_learning_settings
from bot.logging_setup import get_logger
from bot.review.roster import Roles
from bot.runtime import Runtime
from bot.slack.text import quote, safe
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.item_states import ItemState
from bot.store.models import Item, raised_by
from policies.approvers import approval_refusal
from policies.autonomy import ReviewOutcome, sampled

log = get_logger(__name__)

SPOT_OK_ACTION = "spot_check_ok"
SPOT_BAD_ACTION = "spot_check_bad"
_SALT = "spot-check"


def chosen_for_spot_check(item: Item, share: float) -> bool:
    """Auto-executed items only (a human already saw the others), drawn reproducibly by id."""
    return (
        item.state == ItemState.EXECUTED
        and item.review_started_at is None
        and item.autonomy_bucket is not None
        and sampled(item.id, share, salt=_SALT)
    )


def spot_check_blocks(item: Item) -> list[dict[str, Any]]:
    names = [item.customer_name]
    reply = mask_for_display(item.draft_reply or "", names=names)
    return [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": (
                    f":mag: *Spot check* — Signoff auto-executed `{item.id}` "
                    f"(policy `{safe(item.route_policy or '?', 64)}`, "
                    f"bucket `{safe(item.autonomy_bucket or '?', 120)}`): "
                    f"{safe(masked_action(item), 300)}."
                ),
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": quote(reply or "(no reply)", 2800)}},
        {
            "type": "actions",
            "block_id": f"spot:{item.id}",
            "elements": [
                {
                    "type": "button",
                    "action_id": SPOT_OK_ACTION,
                    "text": {"type": "plain_text", "text": "👍 Right"},
                    "value": item.id,
                },
                {
                    "type": "button",
                    "action_id": SPOT_BAD_ACTION,
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "👎 Wrong"},
                    "value": item.id,
                },
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Was this right? 👎 counts as a reject and revokes this bucket's "
                    "autonomy.",
                }
            ],
        },
    ]


async def post_spot_check_if_chosen(rt: Runtime, item: Item) -> bool:
    if rt.publisher is None:
        return False
    learning = await load_learning_settings(rt.sessions, rt.settings)
    if not chosen_for_spot_check(item, learning.spot_check_share):
        return False
    try:
        response = await rt.publisher.client.chat_postMessage(
            channel=rt.publisher.channel,
            text=f"Spot check: was auto-executed item {item.id} right?",
            blocks=spot_check_blocks(item),
            unfurl_links=False,
            unfurl_media=False,
        )
    except (SlackApiError, SlackClientError) as exc:
        log.warning("spot check not posted", item_id=item.id, error=str(exc))
        return False
    async with transaction(rt.sessions) as session:
        await audit.record(
            session,
            "spot_check_posted",
            item_id=item.id,
            channel=str(response.get("channel")),
            ts=str(response.get("ts")),
        )
    return True


@dataclass(frozen=True)
class SpotCheckAnswer:
    recorded: bool
    message: str


async def answer_spot_check(
    rt: Runtime, *, item_id: str, roles: Roles, good: bool
) -> SpotCheckAnswer:
    user_id = roles.user_id
    verdict = "👍" if good else "👎"
    async with rt.sessions() as session:
        item = await session.get(Item, item_id)
    refusal = _refusal(roles, item, good=good)
    if refusal is not None:
        why, message = refusal
        async with transaction(rt.sessions) as session:
            await audit.record(
                session,
                "spot_check_refused",
                item_id=item_id if item is not None else None,
                actor=user_id,
                why=why,
                good=good,
            )
        return SpotCheckAnswer(False, message)
    if item is None or item.autonomy_bucket is None:
        return SpotCheckAnswer(False, f"Item `{safe(item_id, 40)}` can't be spot-checked.")
    learning = await load_learning_settings(rt.sessions, rt.settings)
    try:
        async with transaction(rt.sessions) as session:
            inserted, revoked = await record_outcome(
                session,
                item_id=item.id,
                bucket=item.autonomy_bucket,
                outcome=ReviewOutcome.APPROVED_UNCHANGED if good else ReviewOutcome.REJECTED,
                material=False,
                source=SPOT_CHECK,
                actor=user_id,
                at=utcnow(),
                policy=learning.policy,
            )
            if inserted:
                await audit.record(
                    session, "spot_check_answered", item_id=item.id, actor=user_id, good=good
                )
    except IntegrityError:
        inserted, revoked = False, None
    if not inserted:
        return SpotCheckAnswer(False, "This spot check was already answered. Nothing changed.")
    if not good:
        state = "Its autonomy is revoked" if revoked else "Its evidence starts again from zero"
        await tell_leads(
            rt,
            f":thumbsdown: Spot check 👎 by <@{user_id}> on auto-executed `{item.id}` "
            f"(bucket `{item.autonomy_bucket}`, policy `{item.route_policy}`). {state}; its "
            "items go to review until they earn trust again.",
        )
    return SpotCheckAnswer(True, f"{verdict} Spot check answered by <@{user_id}>.")


def _refusal(roles: Roles, item: Item | None, *, good: bool) -> tuple[str, str] | None:
    """Why ``roles`` may not answer (for the audit log, and for the user), or ``None``."""
    if not roles.may_decide:
        return (
            "not a reviewer or lead",
            "Only reviewers and leads can answer spot checks. Nothing was recorded.",
        )
    if good and item is not None:
        why = approval_refusal(
            roles.user_id, reviewers=roles.reviewers, leads=roles.leads, raised_by=raised_by(item)
        )
        if why is not None:
            return why, f"You can't answer 👍 on this spot check: {why}. Nothing was recorded."
    return None
