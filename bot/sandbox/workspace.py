"""A Slack workspace in memory: what the Web API methods Signoff calls do to a workspace's state.

The sandbox serves it to the real bot as ``SLACK_API_URL``, and the tests' fake Slack answers from
it too, so the local workspace a person clicks in and the one the suite asserts on cannot drift
apart. It holds no HTTP and no threads of its own: callers decode requests
(``bot.sandbox.params.decode_params``)
and hand each call to :meth:`Workspace.answer`; one lock makes it safe from server threads.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.files import Uploads

BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
# Slack's limit on stacked modals (views.push).
MAX_VIEW_STACK = 3
# What the workspace answers itself; anything else is up to the caller (Slack: unknown_method).
KNOWN_METHODS = frozenset(
    {
        "auth.test",
        "chat.postMessage",
        "chat.update",
        "chat.delete",
        "chat.postEphemeral",
        "conversations.history",
        "conversations.info",
        "conversations.open",
        "conversations.replies",
        "dnd.info",
        "files.completeUploadExternal",
        "files.getUploadURLExternal",
        "usergroups.users.list",
        "users.info",
        "users.profile.get",
        "views.open",
        "views.update",
        "views.push",
        "views.publish",
    }
)


@dataclass(frozen=True)
class Person:
    """Someone in the workspace, for ``users.info`` and for showing mentions by name."""

    id: str
    name: str


@dataclass
class Ephemeral:
    """A message only ``user`` sees (chat.postEphemeral, or an answer to a response_url)."""

    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    ts: str


@dataclass
class ModalStack:
    """One person's open modals, bottom first (``views.push`` adds, a submission removes)."""

    views: list[dict[str, Any]] = field(default_factory=list)


class Workspace:
    """Channels, messages, ephemerals, modals and Home tabs, changed only through Web API calls.

    ``trigger_ttl`` is how long a ``trigger_id`` opens a modal (Slack: 3 s); with None any
    trigger is accepted, for tests that invent their own. ``version`` grows on every change, so
    a page can ask "anything new?" cheaply. ``upload_url`` is where the server that serves the
    workspace takes uploaded files' bytes (the file id is appended; see :meth:`receive_upload`).
    """

    def __init__(
        self,
        *,
        team_id: str = "T0FAKE",
        team_name: str = "Fake",
        people: list[Person] | None = None,
        trigger_ttl: float | None = None,
        upload_url: str = "http://127.0.0.1/upload/",
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.people = {p.id: p for p in people or []}
        self.trigger_ttl = trigger_ttl
        self.upload_url = upload_url
        self.usergroup_members: dict[str, list[str]] = {}
        # users.profile.get and dnd.info answers by user (absent users: no status, no DND).
        self.profiles: dict[str, dict[str, Any]] = {}
        self.dnd: dict[str, dict[str, Any]] = {}
        self.uploads = Uploads()
        # conversations.info: channel ID → whether the bot is a member (unknown: not found).
        self.channels: dict[str, bool] = {}
        self.lock = threading.RLock()
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.modals: dict[str, ModalStack] = {}
        self.homes: dict[str, dict[str, Any]] = {}
        self.version = 0
        self._triggers: dict[str, tuple[str, float]] = {}
        self._last_ts = 0.0
        self._view_counter = 0

    # -- what the page and tests read ----------------------------------------------------------

    def reset(self) -> None:
        """Forget every message, ephemeral, modal and Home tab."""
        with self.lock:
            self.messages.clear()
            self.ephemerals.clear()
            self.modals.clear()
            self.homes.clear()
            self.channels.clear()
            self.uploads.clear()
            self._triggers.clear()
            self._changed()

    def name_of(self, user_id: str) -> str:
        person = self.people.get(user_id)
        return person.name if person else user_id

    def issue_trigger(self, trigger_id: str, user: str) -> None:
        """Remember who a forwarded interaction's ``trigger_id`` belongs to, for views.open."""
        with self.lock:
            self._triggers[trigger_id] = (user, time.monotonic())

    def find_view(self, view_id: str) -> tuple[str, dict[str, Any]] | None:
        """The (user, view) of an open modal or a Home tab with this id."""
        with self.lock:
            for user, stack in self.modals.items():
                for view in stack.views:
                    if view.get("id") == view_id:
                        return user, view
            for user, view in self.homes.items():
                if view.get("id") == view_id:
                    return user, view
        return None

    def close_view(self, user: str, view_id: str, *, clear: bool = False) -> None:
        """The person closed (or submitted) the top modal; ``clear`` closes the whole stack."""
        with self.lock:
            stack = self.modals.get(user)
            if stack is None:
                return
            if clear:
                stack.views.clear()
            else:
                stack.views = [v for v in stack.views if v.get("id") != view_id]
            self._changed()

    def replace_view(self, user: str, view_id: str, view: dict[str, Any], *, push: bool) -> None:
        """A submission answered ``response_action: update`` (or ``push``)."""
        with self.lock:
            stack = self.modals.setdefault(user, ModalStack())
            if push:
                stack.views.append(self._stamp(view, None))
            else:
                stack.views = [
                    self._stamp(view, view_id) if v.get("id") == view_id else v for v in stack.views
                ]
            self._changed()

    def add_ephemeral(self, channel: str, user: str, text: str, blocks: list[Any]) -> str:
        with self.lock:
            ts = self._next_ts()
            self.ephemerals.append(Ephemeral(channel, user, text, blocks, ts))
            self._changed()
            return ts

    def receive_upload(self, file_id: str, raw: bytes) -> bool:
        """The bytes of a file posted to its upload URL; False for an id never handed out."""
        with self.lock:
            received = self.uploads.receive(file_id, raw)
            self._changed()
            return received

    # -- the Web API ---------------------------------------------------------------------------

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Slack's answer to a call of ``method`` (one of ``KNOWN_METHODS``) by the bot."""
        with self.lock:
            handler = getattr(self, "_" + method.replace(".", "_"), None)
            if method not in KNOWN_METHODS or handler is None:
                return {"ok": False, "error": "unknown_method"}
            body: dict[str, Any] = handler(params)
            if body.get("ok") and not method.startswith(("auth.", "users.", "usergroups.")):
                self._changed()
            return body

    def _changed(self) -> None:
        self.version += 1

    def _next_ts(self) -> str:
        """A unique, increasing Slack ``ts`` (seconds.micros), close to the clock as Slack's."""
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{self.team_name.lower()}.slack.com/",
            "team": self.team_name,
            "user": "signoff",
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user", ""))
        person = self.people.get(user)
        return {
            "ok": True,
            "user": {
                "id": user,
                "name": user.lower(),
                "real_name": person.name if person else f"User {user}",
                "tz": "UTC",
                "is_bot": False,
            },
        }

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        return {"ok": True, "users": list(self.usergroup_members.get(group, []))}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = params.get("users", "")
        if isinstance(users, list):
            users = ",".join(str(u) for u in users)
        return {"ok": True, "channel": {"id": "D" + str(users).replace(",", "")}}

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        if channel not in self.channels:
            return {"ok": False, "error": "channel_not_found"}
        info = {"id": channel, "name": channel.lower(), "is_member": self.channels[channel]}
        return {"ok": True, "channel": {**info, "is_archived": False}}

    def _users_profile_get(self, params: dict[str, Any]) -> dict[str, Any]:
        profile = {"status_text": "", "status_emoji": "", "status_expiration": 0}
        return {
            "ok": True,
            "profile": {**profile, **self.profiles.get(str(params.get("user")), {})},
        }

    def _dnd_info(self, params: dict[str, Any]) -> dict[str, Any]:
        quiet = {"dnd_enabled": False, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1}
        return {
            "ok": True,
            "snooze_enabled": False,
            **quiet,
            **self.dnd.get(str(params.get("user")), {}),
        }

    def _files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self.uploads.upload_url(params, self.upload_url)

    def _files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        return self.uploads.complete(params)

    def _chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        channel = str(params.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
            "ts": ts,
        }
        for key in ("attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        self.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": dict(message)}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        ts = str(params.get("ts", ""))
        current = self.messages.get((channel, ts))
        if current is None:
            return {"ok": False, "error": "message_not_found"}
        updated = dict(current)
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                updated[key] = params[key]
        updated["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        self.messages[(channel, ts)] = updated
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": updated.get("text", ""),
            "message": dict(updated),
        }

    def _chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel", ""))
        ts = str(params.get("ts", ""))
        if self.messages.pop((channel, ts), None) is None:
            return {"ok": False, "error": "message_not_found"}
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:  # noqa: N802
        blocks = params.get("blocks")
        ts = self._next_ts()
        self.ephemerals.append(
            Ephemeral(
                channel=str(params.get("channel", "")),
                user=str(params.get("user", "")),
                text=str(params.get("text", "")),
                blocks=blocks if isinstance(blocks, list) else [],
                ts=ts,
            )
        )
        return {"ok": True, "message_ts": ts}

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's messages, newest first; metadata only when asked, as Slack does."""
        channel = str(params.get("channel", ""))
        limit = int(params.get("limit") or 100)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in {"1", "true"}
        found = sorted(
            ((ts, msg) for (ch, ts), msg in self.messages.items() if ch == channel),
            key=lambda pair: float(pair[0]),
            reverse=True,
        )
        messages = []
        for _, msg in found[:limit]:
            shown = {k: v for k, v in msg.items() if k != "metadata" or with_metadata}
            messages.append(shown)
        return {"ok": True, "messages": messages, "has_more": len(found) > limit}

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then the replies, oldest first (one page)."""
        channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "thread_not_found"}
        found = sorted(
            (
                (t, msg)
                for (ch, t), msg in self.messages.items()
                if ch == channel and (t == ts or msg.get("thread_ts") == ts)
            ),
            key=lambda pair: float(pair[0]),
        )
        return {"ok": True, "messages": [dict(msg) for _, msg in found], "has_more": False}

    # -- views ---------------------------------------------------------------------------------

    def _stamp(self, view: dict[str, Any], view_id: str | None) -> dict[str, Any]:
        """The view as Slack answers it: an id (kept on update) and a fresh ``hash``."""
        if not view_id:
            self._view_counter += 1
            view_id = f"V{self._view_counter:08d}"
        return {**view, "id": view_id, "hash": f"{time.time():.6f}.{self._view_counter}"}

    def _given_view(self, params: dict[str, Any]) -> dict[str, Any]:
        view = params.get("view")
        return dict(view) if isinstance(view, dict) else {}

    def _trigger_user(self, params: dict[str, Any]) -> str | None:
        """Whose modal a trigger opens; None when it is unknown or expired (Slack refuses)."""
        found = self._triggers.get(str(params.get("trigger_id", "")))
        if found is None:
            return None
        user, issued = found
        if self.trigger_ttl is not None and time.monotonic() - issued > self.trigger_ttl:
            return None
        return user

    def _open_or_push(self, params: dict[str, Any], *, push: bool) -> dict[str, Any]:
        """views.open starts the person's stack with the view; views.push adds it on top."""
        user = self._trigger_user(params)
        view = self._stamp(self._given_view(params), None)
        if user is None:
            if self.trigger_ttl is not None:
                return {"ok": False, "error": "invalid_trigger_id"}
            return {"ok": True, "view": view}
        stack = self.modals.setdefault(user, ModalStack())
        if not push:
            stack.views = []
        elif len(stack.views) >= MAX_VIEW_STACK:
            return {"ok": False, "error": "push_limit_reached"}
        stack.views.append(view)
        return {"ok": True, "view": view}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._open_or_push(params, push=False)

    def _views_push(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._open_or_push(params, push=True)

    def _views_update(self, params: dict[str, Any]) -> dict[str, Any]:
        view_id = params.get("view_id")
        if not isinstance(view_id, str) or not view_id:
            view = self._stamp(self._given_view(params), None)
            return {"ok": True, "view": view}
        found = self.find_view(view_id)
        if found is None:
            if self.trigger_ttl is not None:
                return {"ok": False, "error": "not_found"}
            return {"ok": True, "view": self._stamp(self._given_view(params), view_id)}
        user, current = found
        given_hash = params.get("hash")
        if given_hash and given_hash != current.get("hash"):
            return {"ok": False, "error": "hash_conflict"}
        view = self._stamp(self._given_view(params), view_id)
        stack = self.modals.get(user)
        if stack is not None:
            stack.views = [view if v.get("id") == view_id else v for v in stack.views]
        if self.homes.get(user, {}).get("id") == view_id:
            self.homes[user] = view
        return {"ok": True, "view": view}

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = str(params.get("user_id", ""))
        if not user:
            return {"ok": False, "error": "invalid_arguments"}
        current = self.homes.get(user)
        view = self._stamp(self._given_view(params), current.get("id") if current else None)
        self.homes[user] = view
        return {"ok": True, "view": view}
