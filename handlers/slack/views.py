"""Modal submissions: Edit (save and approve), Request changes, Reject (with reason), lead
thresholds.

Invalid input is answered inside the modal (``response_action: errors``, one message per field)
before anything is stored, within Slack's three seconds as before; valid input is recorded in
the interaction inbox (its validated essentials), the modal closes, and the work is applied
after the ack (``handlers.slack.inbox_work``), by another instance if this one dies.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import SettingChangeRefusedError
from bot.lead_settings.changes import apply_now, propose_change
from bot.lead_settings.registry import ChangeKind, change_kind, parse_value
from bot.logging_setup import get_logger
from bot.review.edit import save_edit
from bot.review.edit_validation import EditErrors, edit_summary, validate_edit
from bot.review.reject import reject
from bot.review.request_changes import request_changes
from bot.review.result import ReviewResult, ReviewStatus
from bot.slack.app_home_view import SETTING_INPUT, SETTINGS_CALLBACK, SETTINGS_FIELDS
from bot.slack.card_updates import edit_details, refresh, reject_details
from bot.slack.changes_modal import CHANGES_CALLBACK, INSTRUCTION_BLOCK, validate_instruction
from bot.slack.channel_notices import notify_channel
from bot.slack.edit_modal import EDIT_CALLBACK, edit_view
from bot.slack.reject_modal import REJECT_CALLBACK, RejectInput, validate_reject
from bot.slack.text import safe
from bot.store import audit
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.inbox import Interaction, item_lane
from bot.store.items import get_item
from handlers.slack.app_home import publish_home
from handlers.slack.deps import SlackDeps, request_identity, signed_at
from handlers.slack.replies import tell
from policies.reject_reasons import RejectReason

log = get_logger(__name__)


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        loaded = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _values(view: dict[str, Any]) -> dict[str, Any]:
    values = (view.get("state") or {}).get("values") or {}
    return values if isinstance(values, dict) else {}


def _submission(
    kind: str,
    lane: str,
    body: dict[str, Any],
    request: AsyncBoltRequest,
    essentials: dict[str, Any],
) -> Interaction:
    """A validated submission's essentials (not the modal's blocks) and who submitted it."""
    user = str(body["user"]["id"])
    return Interaction(
        kind=kind,
        lane=lane,
        actor=user,
        payload={**essentials, "user_id": user},
        retry_key=request_identity(body),
        signed_at=signed_at(request),
    )


def _item_submission(
    kind: str, body: dict[str, Any], request: AsyncBoltRequest, meta: dict[str, Any], **fields: Any
) -> Interaction:
    """An item modal's submission: in the item's lane (one item's decisions apply in the order
    they came), with the item and the card's channel from the modal's metadata, and ``fields``."""
    item_id = str(meta.get("item_id") or "")
    essentials = {"item_id": item_id, "channel_id": meta.get("channel") or None, **fields}
    return _submission(kind, item_lane(item_id), body, request, essentials)


async def _tell_unless_recorded(
    deps: SlackDeps, payload: dict[str, Any], result: ReviewResult
) -> str:
    """Tell the person privately why their submission changed nothing (a recorded one shows on
    the card); the status is what the inbox keeps."""
    if result.status != ReviewStatus.RECORDED:
        user, channel = str(payload["user_id"]), payload["channel_id"]
        await tell(deps.inbox.client, user=user, channel=channel, text=result.message)
    return result.status.value


def register_views(app: AsyncApp, deps: SlackDeps) -> None:
    rt = deps.rt

    @app.view(EDIT_CALLBACK)
    async def on_edit_submit(
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        request: AsyncBoltRequest,
    ) -> None:
        user = str(body["user"]["id"])
        meta = _metadata(view)
        item_id = str(meta.get("item_id") or "")
        channel = meta.get("channel") or None
        item = await get_item(rt.sessions, item_id)
        version = meta.get("version")
        if item is None or not isinstance(version, int):
            await ack()
            deps.inbox.at_once(
                tell(
                    client,
                    user=user,
                    channel=channel,
                    text="This form does not match an item any more; open Edit again from the "
                    "card. Nothing was changed.",
                )
            )
            return
        # The modal showed the draft masked: masks left in are restored from the draft (PII
        # detection, so off the event loop).
        checked = await asyncio.to_thread(
            validate_edit,
            item.proposed_action or {"kind": "reply"},
            _values(view),
            original_reply=item.draft_reply,
        )
        if isinstance(checked, EditErrors):
            await ack(response_action="errors", errors=checked.errors)
            return
        summary = edit_summary(
            item.draft_reply, checked.reply, item.proposed_action or {}, checked.action
        )
        await deps.recorded(
            ack,
            _item_submission(
                EDIT_CALLBACK,
                body,
                request,
                meta,
                version=version,
                reply=checked.reply,
                action=checked.action,
                summary=summary,
            ),
        )

    async def record_edit(payload: dict[str, Any]) -> str:
        user, item_id = str(payload["user_id"]), str(payload["item_id"])
        result = await save_edit(
            rt.sessions,
            item_id=item_id,
            roles=await deps.roles(user),
            policy=await deps.policy(),
            version=int(payload["version"]),
            reply=str(payload["reply"]),
            action=dict(payload["action"]),
            summary=str(payload["summary"]),
        )
        log.info("edit submitted", item_id=item_id, user=user, status=result.status.value)
        if result.changed_card and result.status != ReviewStatus.STALE:
            await refresh(
                rt, result.item, thread=edit_details(result.item) if result.item else None
            )
        elif result.changed_card:
            await refresh(rt, result.item)
        if result.status == ReviewStatus.RECORDED:
            deps.notify_worker()
        return await _tell_unless_recorded(deps, payload, result)

    deps.inbox.handle(EDIT_CALLBACK, record_edit)

    @app.view(CHANGES_CALLBACK)
    async def on_changes_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        meta = _metadata(view)
        checked = validate_instruction(_values(view))
        if isinstance(checked, dict):
            await ack(response_action="errors", errors=checked)
            return
        item_id = str(meta.get("item_id") or "")
        if not rt.classifier.takes_change_requests:
            # No model to re-draft: the reviewer applies the instruction by hand, in Edit.
            item = await get_item(rt.sessions, item_id)
            if item is None:
                await ack(response_action="errors", errors={INSTRUCTION_BLOCK: "No such item."})
                return
            channel = meta.get("channel") or None
            await ack(
                response_action="update",
                view=edit_view(item, channel=channel, instruction=checked),
            )
            return
        version = meta.get("version")
        await deps.recorded(
            ack,
            _item_submission(
                CHANGES_CALLBACK,
                body,
                request,
                meta,
                version=version if isinstance(version, int) else None,
                instruction=checked,
            ),
        )

    async def record_changes(payload: dict[str, Any]) -> str:
        user, item_id = str(payload["user_id"]), str(payload["item_id"])
        version = payload.get("version")
        result = await request_changes(
            rt.sessions,
            item_id=item_id,
            roles=await deps.roles(user),
            version=version if isinstance(version, int) else None,
            instruction=str(payload["instruction"]),
        )
        log.info("changes requested", item_id=item_id, user=user, status=result.status.value)
        if result.status == ReviewStatus.RECORDED:
            await refresh(rt, result.item)
            deps.notify_worker()
        return await _tell_unless_recorded(deps, payload, result)

    deps.inbox.handle(CHANGES_CALLBACK, record_changes)

    @app.view(REJECT_CALLBACK)
    async def on_reject_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        meta = _metadata(view)
        checked = validate_reject(_values(view))
        if not isinstance(checked, RejectInput):
            await ack(response_action="errors", errors=checked)
            return
        await deps.recorded(
            ack,
            _item_submission(
                REJECT_CALLBACK,
                body,
                request,
                meta,
                reason=checked.reason.value,
                detail=checked.detail,
            ),
        )

    async def record_reject(payload: dict[str, Any]) -> str:
        user, item_id = str(payload["user_id"]), str(payload["item_id"])
        reason, detail = RejectReason(payload["reason"]), str(payload["detail"])
        result = await reject(
            rt.sessions, item_id=item_id, roles=await deps.roles(user), reason=reason, detail=detail
        )
        log.info("reject submitted", item_id=item_id, user=user, status=result.status.value)
        if result.status == ReviewStatus.RECORDED:
            text = f"{reason.label}: {detail}" if detail else None
            await refresh(rt, result.item, thread=reject_details(user, text or reason.label))
        return await _tell_unless_recorded(deps, payload, result)

    deps.inbox.handle(REJECT_CALLBACK, record_reject)

    @app.view(SETTINGS_CALLBACK)
    async def on_settings_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], request: AsyncBoltRequest
    ) -> None:
        user = str(body["user"]["id"])
        roles = await deps.roles(user)
        if not roles.is_lead:
            await ack(
                response_action="errors",
                errors={"refund_auto_limit": "Only leads (SIGNOFF_LEADS) can change thresholds."},
            )
            async with transaction(rt.sessions) as session:
                await audit.record(
                    session, "command_refused", actor=user, command="settings", why="not a lead"
                )
            return
        values = _values(view)
        typed: dict[str, str] = {}
        errors: dict[str, str] = {}
        for key in SETTINGS_FIELDS:
            element = (values.get(key) or {}).get(SETTING_INPUT) or {}
            raw = element.get("value")
            if raw is None and isinstance(element.get("selected_option"), dict):
                raw = element["selected_option"].get("value")
            if raw is None:
                continue
            try:
                parse_value(key, str(raw))
            except SettingChangeRefusedError as exc:
                errors[key] = str(exc)[:150]
            else:
                typed[key] = str(raw)
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        await deps.recorded(
            ack, _submission(SETTINGS_CALLBACK, f"user:{user}", body, request, {"typed": typed})
        )

    async def save_settings(payload: dict[str, Any]) -> None:
        user, typed = str(payload["user_id"]), dict(payload["typed"])
        changed = []
        proposals: list[str] = []
        problems: list[str] = []
        for key, raw in typed.items():
            if change_kind(key) != ChangeKind.DIRECT:
                # What runs without a human changes only after the lead has seen the dry run.
                try:
                    proposal, lines = await propose_change(
                        rt.sessions, rt.settings, key=key, raw=raw, actor=user, now=utcnow()
                    )
                except SettingChangeRefusedError:
                    continue  # unchanged value: nothing to propose
                proposals.append(
                    "\n".join(lines)
                    + f"\nConfirm with `/signoff change confirm #{proposal.id}` or cancel with "
                    f"`/signoff change cancel #{proposal.id}`."
                )
                continue
            try:
                change = await apply_now(rt.sessions, rt.settings, key=key, raw=raw, actor=user)
            except SettingChangeRefusedError as exc:
                problems.append(f"`{key}` not changed: {safe(str(exc), 300)}")
                continue
            if change.changed:
                changed.append(f"`{key}`: `{change.old}` → `{change.new}`")
        if changed:
            await notify_channel(rt, f":gear: <@{user}> changed " + ", ".join(changed) + ".")
        if (proposals or problems) and rt.publisher is not None:
            await rt.publisher.direct_message(user, "\n\n".join([*problems, *proposals]))
        await publish_home(deps, deps.inbox.client, user)

    deps.inbox.handle(SETTINGS_CALLBACK, save_settings)
