"""Card buttons: Approve, Edit, Request changes, Reject, Re-draft, Reveal, Show full text, Retry.

Each listener acks at once, resolves the clicker's roles on the server (never trusting the
card), and then either opens a modal (Edit, Reject: the trigger_id lives three seconds, so the
modal opens before anything slow) or records the decision and re-renders the card. Anything
refused is answered privately with exactly what happened; nothing changes.

Edit is "Save and approve", so it is refused at the click to whoever may not approve the item
(outsiders, and the person who raised it): they learn it before typing, not after submitting.
Request changes takes a reviewer or lead when the model re-drafts; without a model it leads to
Edit, so it takes what Edit takes.
"Show full text" posts the whole text in the card's thread once per card; a run claim keyed by
the card decides, so repeated or simultaneous clicks (by anyone: looking is for everyone) do not
flood the thread, and later clickers are pointed to it.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import update
from sqlmodel import col

from bot.assess.assessment import describe_action
from bot.logging_setup import get_logger
from bot.review.approve import approve
from bot.review.redraft import redraft
from bot.review.result import ReviewStatus
from bot.review.retry import retry_failed
from bot.review.reveal import record_reveal
from bot.review.roster import Roles
from bot.slack.card import (
    APPROVE_ACTION,
    CHANGES_ACTION,
    EDIT_ACTION,
    REDRAFT_ACTION,
    REJECT_ACTION,
    RETRY_ACTION,
    REVEAL_ACTION,
    SHOW_MORE_ACTION,
    parse_button_value,
)
from bot.slack.card_updates import close_redrafted_card, post_full_text, refresh
from bot.slack.changes_modal import changes_view
from bot.slack.edit_modal import edit_view
from bot.slack.reject_modal import reject_view
from bot.slack.text import escape, safe
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.item_states import ItemState
from bot.store.items import get_item
from bot.store.models import Item, RunClaim, raised_by
from bot.store.run_claims import claim_run
from handlers.slack.app_home import publish_home
from handlers.slack.deps import SlackDeps, from_home, on_click
from handlers.slack.inbox_work import ATTEMPT
from handlers.slack.replies import clicked_channel, tell
from policies.approvers import approval_refusal

log = get_logger(__name__)

# The full text is posted once per card; the claim outlives any review by far.
FULL_TEXT_HOLD = timedelta(days=3650)
_MAY_NOT_DECIDE = "only reviewers and leads can decide (SIGNOFF_REVIEWERS / SIGNOFF_LEADS)"
# Request changes without a model: it leads to Edit, so it is refused like Edit.
_CHANGES_BY_HAND = "request changes to (then edit)"


def _click(body: dict[str, Any]) -> tuple[str, str, int | None, str | None]:
    user = str(body["user"]["id"])
    item_id, version = parse_button_value(str(body["actions"][0].get("value") or ""))
    return user, item_id, version, clicked_channel(body)


def _refusal(roles: Roles, item: Item, attempted: str) -> str | None:
    """Why the clicker may not open this modal, or ``None``. Submitting Edit approves, so it
    takes what approving takes (four eyes included); Reject takes a reviewer or lead (of the
    card's route, when it was routed to a team)."""
    roles = roles.for_route(item.reviewer_group)
    if attempted in {"edit", _CHANGES_BY_HAND}:
        return approval_refusal(
            roles.user_id, reviewers=roles.reviewers, leads=roles.leads, raised_by=raised_by(item)
        )
    return None if roles.may_decide else _MAY_NOT_DECIDE


def _full_text_key(item: Item) -> str:
    """One claim per card: a re-drafted item's fresh card gets its own full text."""
    return f"full_text:{item.id}:{item.slack_ts}"


def register_actions(app: AsyncApp, deps: SlackDeps) -> None:
    rt = deps.rt

    async def after_home_click(body: dict[str, Any], client: AsyncWebClient, user: str) -> None:
        if from_home(body):
            await publish_home(deps, client, user)

    async def approve_work(body: dict[str, Any], client: AsyncWebClient) -> str:
        user, item_id, version, channel = _click(body)
        roles = await deps.roles(user)
        result = await approve(
            rt.sessions, item_id=item_id, roles=roles, policy=await deps.policy(), version=version
        )
        log.info("approve click", item_id=item_id, user=user, status=result.status.value)
        # Applied again after a crash: the first attempt may have counted the approval and died
        # before the card showed it.
        if result.changed_card or (body.get(ATTEMPT, 1) > 1 and result.item is not None):
            thread = None
            if result.status == ReviewStatus.WAITING and result.item is not None:
                thread = (
                    f":ballot_box_with_check: <@{user}> approved "
                    f"({len(result.item.approvals)} of {result.item.approvals_required})."
                )
            await refresh(rt, result.item, thread=thread)
        if result.status == ReviewStatus.RECORDED:
            deps.notify_worker()
        else:
            await tell(client, user=user, channel=channel, text=result.message)
        await after_home_click(body, client, user)
        return result.status.value

    on_click(app, APPROVE_ACTION, approve_work, deps.inbox)

    async def open_modal(
        body: dict[str, Any], client: AsyncWebClient, attempted: str, build: Any
    ) -> None:
        user, item_id, _, channel = _click(body)
        roles = await deps.roles(user)
        item = await get_item(rt.sessions, item_id)
        if item is None:
            await tell(client, user=user, channel=channel, text=f"Item `{item_id}` does not exist.")
            return
        problem = _refusal(roles, item, attempted)
        if problem is not None:
            async with transaction(rt.sessions) as session:
                await audit.record(
                    session,
                    "decision_refused",
                    item_id=item_id,
                    actor=user,
                    attempted=attempted,
                    why=problem,
                )
        elif item.state != ItemState.PENDING_REVIEW:
            problem = f"it is {item.state.replace('_', ' ')} and can't be changed now"
        elif attempted != "reject" and item.stale_reason:
            problem = "the draft is stale (a newer event arrived): press Re-draft first"
        if problem is not None:
            await tell(
                client,
                user=user,
                channel=channel,
                text=f"You can't {attempted} this: {problem}. Nothing was changed.",
            )
            return
        try:
            await client.views_open(
                trigger_id=body["trigger_id"], view=build(item, channel=channel)
            )
        except (SlackApiError, SlackClientError) as exc:
            log.warning("views.open failed", item_id=item_id, error=str(exc))
            await tell(
                client,
                user=user,
                channel=channel,
                text="Slack did not open the form in time; please click again. Nothing changed.",
            )

    async def edit_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        await open_modal(body, client, "edit", edit_view)

    on_click(app, EDIT_ACTION, edit_work, deps.inbox, opens_modal=True)

    async def changes_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        redrafts = rt.classifier.takes_change_requests
        await open_modal(
            body,
            client,
            "request changes to" if redrafts else _CHANGES_BY_HAND,
            functools.partial(changes_view, redrafts=redrafts),
        )

    on_click(app, CHANGES_ACTION, changes_work, deps.inbox, opens_modal=True)

    async def reject_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        await open_modal(body, client, "reject", reject_view)

    on_click(app, REJECT_ACTION, reject_work, deps.inbox, opens_modal=True)

    async def redraft_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        user, item_id, _, channel = _click(body)
        result = await redraft(rt.sessions, item_id=item_id, roles=await deps.roles(user))
        if result.status == ReviewStatus.RECORDED and result.item is not None:
            await close_redrafted_card(rt, result.item, user)
            deps.notify_worker()
            for merged_id in result.also_changed:
                await refresh(rt, await get_item(rt.sessions, merged_id))
            return
        await tell(client, user=user, channel=channel, text=result.message)

    on_click(app, REDRAFT_ACTION, redraft_work, deps.inbox)

    async def reveal_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        user, item_id, _, channel = _click(body)
        result = await record_reveal(rt.sessions, item_id=item_id, roles=await deps.roles(user))
        if result.status != ReviewStatus.RECORDED or result.item is None:
            await tell(client, user=user, channel=channel, text=result.message)
            return
        item = result.item
        text = (
            f":eyes: Unmasked details of `{item.id}` (only you see this; the reveal is audited)\n"
            f"*Customer:* {safe(item.customer_name, 200)} · {escape(item.customer_email)}\n"
            f"*Subject:* {safe(item.subject, 300)}\n*Ticket:*\n{safe(item.body, 2500)}\n"
            f"*Proposed action:* {safe(describe_action(item), 300)}\n"
            f"*Drafted reply:*\n{safe(item.draft_reply or '(no draft)', 2500)}"
        )
        await tell(client, user=user, channel=channel, text=text)

    on_click(app, REVEAL_ACTION, reveal_work, deps.inbox)

    async def show_more_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        user, item_id, _, channel = _click(body)
        item = await get_item(rt.sessions, item_id)
        if item is None or not item.slack_ts:
            await tell(client, user=user, channel=channel, text=f"No card for `{item_id}`.")
            return
        key = _full_text_key(item)
        now = utcnow()
        if not await claim_run(rt.sessions, key, by=user, now=now, until=now + FULL_TEXT_HOLD):
            await tell(
                client,
                user=user,
                channel=channel,
                text=f"The full text of `{item.id}` is already in this card's thread (it is posted "
                "once per card): open the replies under the card.",
            )
            return
        if await post_full_text(rt, item) == 0:
            # Nothing reached the thread: let the next click try again instead of pointing
            # people to an empty thread.
            async with transaction(rt.sessions) as session:
                await session.execute(
                    update(RunClaim)
                    .where(col(RunClaim.key) == key)
                    .values(held_until=now)
                    .execution_options(synchronize_session=False)
                )
            await tell(
                client,
                user=user,
                channel=channel,
                text="Slack did not take the full text just now; please click again.",
            )

    on_click(app, SHOW_MORE_ACTION, show_more_work, deps.inbox)

    async def retry_work(body: dict[str, Any], client: AsyncWebClient) -> None:
        user, item_id, _, channel = _click(body)
        result = await retry_failed(rt.sessions, item_id=item_id, roles=await deps.roles(user))
        if result.status == ReviewStatus.RECORDED:
            deps.notify_worker()
            await refresh(
                rt,
                result.item,
                thread=f":repeat: <@{user}> retried the action (same idempotency key).",
            )
            return
        await tell(client, user=user, channel=channel, text=result.message)

    on_click(app, RETRY_ACTION, retry_work, deps.inbox)
