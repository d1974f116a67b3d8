"""What a person does in the page, turned into what Slack would send the bot, and the bot's answer
applied the way Slack applies it (a modal closes, shows field errors, is replaced or pushed).

Each method finds the element or view the bot sent in the workspace (the page only names it),
builds the payload with ``bot.sandbox.slack_requests``, signs it with the sandbox's signing
secret and posts it to the bot's real ``/slack/events``. Slack's three-second limit is measured
and reported, since a slow ack is an error in Slack even when it works here.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from bot.sandbox import slack_requests as slack
from bot.sandbox.blocks import input_state
from bot.sandbox.slack_requests import SignedRequest, Team
from bot.sandbox.workspace import Person, Workspace
from bot.signing import signed_headers

# Slack shows the person an error when an app takes longer than this to acknowledge.
ACK_SECONDS = 3.0
FORWARD_TIMEOUT = 15.0
SANDBOX_TEAM = Team("T0SANDBOX", "sandbox")


@dataclass(frozen=True)
class Persona:
    """Someone the page can act as; ``role`` is what the bot's settings make of them."""

    id: str
    name: str
    role: str


@dataclass(frozen=True)
class SandboxConfig:
    bot_token: str
    signing_secret: str
    webhook_secret: str
    base_url: str
    personas: tuple[Persona, ...]
    channel: str = "C0REVIEW"
    channel_name: str = "signoff-review"
    team: Team = SANDBOX_TEAM


class Sandbox:
    """The local workspace and the people acting in it."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.workspace = Workspace(
            team_id=config.team.id,
            team_name="Sandbox",
            people=[Person(p.id, p.name) for p in config.personas],
            trigger_ttl=ACK_SECONDS,
            upload_url=f"{config.base_url}/upload/",
        )
        self.workspace.channels[config.channel] = True  # the bot was invited to the channel
        # response_url token → (who acted, in which channel)
        self._responses: dict[str, tuple[str, str]] = {}
        self._tickets = 0

    def knows(self, user: str) -> bool:
        return any(p.id == user for p in self.config.personas)

    # -- plumbing --------------------------------------------------------------------------

    def _response_url(self, user: str, channel: str) -> str:
        token = secrets.token_urlsafe(16)
        self._responses[token] = (user, channel)
        return f"{self.config.base_url}/response/{token}"

    def _trigger(self, user: str) -> str:
        trigger_id = slack.new_trigger_id()
        self.workspace.issue_trigger(trigger_id, user)
        return trigger_id

    async def _send(self, request: SignedRequest, path: str = "/slack/events") -> dict[str, Any]:
        started = time.monotonic()
        async with httpx.AsyncClient(timeout=FORWARD_TIMEOUT) as client:
            response = await client.post(
                self.config.base_url + path, content=request.body, headers=request.headers
            )
        took = time.monotonic() - started
        try:
            answer = response.json() if response.content else None
        except json.JSONDecodeError:
            answer = response.text
        result: dict[str, Any] = {"status": response.status_code, "answer": answer}
        if took > ACK_SECONDS and path == "/slack/events":
            result["warning"] = (
                f"the bot took {took:.1f} s to acknowledge: Slack would have shown an error"
            )
        return result

    # -- what a person does ----------------------------------------------------------------

    def _find_action(self, blocks: object, block_id: str, action_id: str) -> dict[str, Any] | None:
        for block in blocks if isinstance(blocks, list) else []:
            if not isinstance(block, dict) or str(block.get("block_id") or "") != block_id:
                continue
            elements = list(block.get("elements") or [])
            if isinstance(block.get("accessory"), dict):
                elements.append(block["accessory"])
            for element in elements:
                if isinstance(element, dict) and element.get("action_id") == action_id:
                    return element
        return None

    async def click(
        self,
        user: str,
        *,
        block_id: str,
        action_id: str,
        channel: str | None = None,
        ts: str | None = None,
        view_id: str | None = None,
    ) -> dict[str, Any]:
        """A button click in a message (channel and ts) or a view (Home tab or modal)."""
        message: dict[str, Any] | None = None
        view: dict[str, Any] | None = None
        if channel and ts:
            with self.workspace.lock:
                found = self.workspace.messages.get((channel, ts))
            message = dict(found) if found else None
            blocks = message.get("blocks") if message else None
        elif view_id:
            located = self.workspace.find_view(view_id)
            view = dict(located[1]) if located and located[0] == user else None
            blocks = view.get("blocks") if view else None
        else:
            blocks = None
        action = self._find_action(blocks, block_id, action_id)
        if action is None:
            return {"status": 404, "answer": "that button is not there any more"}
        response_channel = channel or self.config.channel
        payload = slack.block_actions(
            team=self.config.team,
            user=user,
            action=action,
            block_id=block_id,
            trigger_id=self._trigger(user),
            response_url=self._response_url(user, response_channel) if message else None,
            channel=channel,
            message=message,
            view=view,
        )
        return await self._send(slack.interaction_request(self.config.signing_secret, payload))

    async def submit(self, user: str, view_id: str, typed: dict[str, str]) -> dict[str, Any]:
        """Submit ``user``'s modal ``view_id`` with what was typed (block id → raw value)."""
        located = self.workspace.find_view(view_id)
        if located is None or located[0] != user:
            return {"status": 404, "answer": "that modal is not open any more"}
        view = dict(located[1])
        payload = slack.view_submission(
            team=self.config.team,
            user=user,
            view=view,
            values=input_state(view, typed),
            trigger_id=self._trigger(user),
        )
        result = await self._send(slack.interaction_request(self.config.signing_secret, payload))
        answer = result.get("answer") if result["status"] == 200 else None
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if result["status"] != 200:
            return result
        if action == "errors":
            result["errors"] = answer.get("errors") or {} if isinstance(answer, dict) else {}
        elif action in {"update", "push"} and isinstance(answer, dict):
            self.workspace.replace_view(
                user, view_id, answer.get("view") or {}, push=action == "push"
            )
        else:
            self.workspace.close_view(user, view_id, clear=action == "clear")
        return result

    def close(self, user: str, view_id: str) -> None:
        """Cancel: the bot asks for no ``view_closed`` (notify_on_close), so Slack sends none."""
        self.workspace.close_view(user, view_id)

    async def command(self, user: str, text: str) -> dict[str, Any]:
        """``/signoff text`` typed in the review channel."""
        form = slack.slash_command(
            team=self.config.team,
            user=user,
            channel=self.config.channel,
            channel_name=self.config.channel_name,
            text=text,
            response_url=self._response_url(user, self.config.channel),
            trigger_id=self._trigger(user),
        )
        result = await self._send(slack.command_request(self.config.signing_secret, form))
        answer = result.get("answer")
        if isinstance(answer, dict) and answer.get("text"):
            self.workspace.add_ephemeral(self.config.channel, user, str(answer["text"]), [])
        return result

    async def open_home(self, user: str) -> dict[str, Any]:
        """Opening the Home tab: Slack sends ``app_home_opened`` and the bot publishes."""
        with self.workspace.lock:
            current = self.workspace.homes.get(user)
        event = slack.home_opened(user, current)
        return await self._send(
            slack.event_request(self.config.signing_secret, self.config.team, event)
        )

    def respond(self, token: str, body: dict[str, Any]) -> bool:
        """A POST to a ``response_url`` the sandbox handed out (commands and clicks)."""
        found = self._responses.get(token)
        if found is None:
            return False
        user, channel = found
        text = str(body.get("text") or "")
        blocks = body.get("blocks") if isinstance(body.get("blocks"), list) else []
        if body.get("response_type") == "in_channel":
            self.workspace.answer(
                "chat.postMessage", {"channel": channel, "text": text, "blocks": blocks}
            )
        else:
            self.workspace.add_ephemeral(channel, user, text, blocks or [])
        return True

    # -- tickets ---------------------------------------------------------------------------

    async def post_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """Send a ticket through the generic webhook, signed like any sender signs it."""
        body = json.dumps(ticket).encode()
        headers = {"Content-Type": "application/json"}
        headers.update(signed_headers(self.config.webhook_secret, body))
        return await self._send(SignedRequest(body, headers), "/webhooks/generic")

    def ticket_from_form(self, form: dict[str, Any]) -> dict[str, Any]:
        """A ``TicketIn`` body from the page's form; the webhook validates it like any other."""
        self._tickets += 1
        ticket: dict[str, Any] = {
            "id": f"sandbox-{int(time.time())}-{self._tickets}",
            "kind": "ticket",
            "subject": str(form.get("subject") or ""),
            "body": str(form.get("body") or ""),
            "customer": {
                "name": str(form.get("name") or ""),
                "email": str(form.get("email") or ""),
            },
        }
        raw_amount = str(form.get("refund") or "").strip()
        if raw_amount:
            try:
                amount: str | Decimal = Decimal(raw_amount)
            except InvalidOperation:
                amount = raw_amount  # the webhook's 400 names the field
            ticket["requested_action"] = {
                "kind": "refund",
                "amount": str(amount),
                "currency": "USD",
            }
        return ticket
