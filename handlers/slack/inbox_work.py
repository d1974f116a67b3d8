"""Durable listener work: record before the ack, apply after it, in order, exactly once in effect.

A listener builds an ``Interaction`` (what the work needs, validated), ``record``s it (one
group-committed insert: the only thing the ack waits for), acks, and then ``run``s it. The row is
born leased to this instance, so its own runners (``ListenerWork``) apply it at once; if this
instance dies, the lease runs out and any instance's ``sweep`` (the scheduler calls it) applies
it instead, answering the user the same way (``chat.postEphemeral``, a DM or the stored
``response_url``). Rows of one lane (an item, a user) are applied in arrival order: here one lane
is drained by one runner at a time, and across instances ``bot.store.inbox.start`` refuses a row
while an earlier one of its lane is undone.

``close`` (shutdown) takes no new rows, lets the runners finish within the grace period, then
hands back the rows it holds but has not started, so another instance takes them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger
from bot.pipeline.worker import make_worker_id
from bot.runtime import Runtime
from bot.store import inbox
from bot.store.claim_keeper import kept_lease
from bot.store.items import claim_token
from bot.store.models import InboxEntry
from handlers.slack.listener_work import ListenerWork
from handlers.slack.replies import FAILED_TEXT, tell, who_and_where

log = get_logger(__name__)

# Applies one recorded interaction; returns its outcome for the record (or None: "done").
Handler = Callable[[dict[str, Any]], Awaitable[str | None]]

# A row is born leased for this long (capped by SIGNOFF_LEASE_SECONDS): how long a crashed
# instance's interactions wait before another instance applies them. Renewed while applied.
MAX_LEASE_SECONDS = 30.0
# The payload key a handler finds the attempt in (above 1: a crash may have cut an earlier one
# off after its work committed).
ATTEMPT = "_attempt"
# How long shutdown lets acked interactions finish before handing the rest back. Shutdown runs
# this first, then the worker's grace (``bot.pipeline.worker``): 8 + 10 + 5 s stays under the
# 25 s a process has before Heroku's or Kubernetes' default 30 s ends in SIGKILL.
INBOX_GRACE_SECONDS = 8.0
# Rows one sweep takes over; more wait for the next tick.
SWEEP_BATCH = 50


class InteractionInbox:
    def __init__(self, rt: Runtime, work: ListenerWork | None = None) -> None:
        if rt.publisher is None:
            raise ValueError("Slack is not configured (SLACK_BOT_TOKEN, SIGNOFF_REVIEW_CHANNEL)")
        self.rt = rt
        self.client: AsyncWebClient = rt.publisher.client
        self.work = work or ListenerWork()
        self.worker_id = make_worker_id()
        self.lease = timedelta(seconds=min(rt.settings.lease_seconds, MAX_LEASE_SECONDS))
        self._handlers: dict[str, Handler] = {}
        self._lanes: dict[str, deque[tuple[int, str]]] = {}
        # Rows this instance holds and has not started: handed back at shutdown.
        self._waiting: set[str] = set()
        self._closing = False
        # At shutdown: no row is started after this (monotonic) time; the rest is handed back.
        self._last_start = float("inf")
        # Unrecorded work started right after an ack (``at_once``), held until it ends.
        self._at_once: set[asyncio.Future[None]] = set()
        self._after_item: list[Callable[[], None]] = []

    def handle(self, kind: str, handler: Handler) -> None:
        """Register how rows of ``kind`` are applied (every process registers the same)."""
        self._handlers[kind] = handler

    def after_item_interaction(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` each time a row of an item's lane has been applied here: a
        reviewer's decision on it is recorded by then (``handlers.slack.spot_checks``)."""
        self._after_item.append(callback)

    async def record(self, interaction: inbox.Interaction) -> inbox.Accepted:
        """Record before the ack; raises when the database did not take it (then no ack)."""
        token = claim_token(self.worker_id)
        self.work.priority.begin()
        try:
            return await inbox.accept(self.rt.sessions, interaction, token=token, lease=self.lease)
        finally:
            self.work.priority.end()

    def run(self, accepted: inbox.Accepted) -> None:
        """After the ack: apply the row here, in its lane's turn. A retry of a row already
        recorded has nothing to run."""
        if accepted.first and accepted.token is not None:
            self._enqueue(accepted.lane, accepted.entry_id, accepted.token)
        else:
            log.info("slack retry of a recorded interaction", entry_id=accepted.entry_id)

    def at_once(self, work: Awaitable[None]) -> None:
        """Run ``work`` (guarded: it must not raise) beside the request instead of in it: Bolt
        answers Slack when the listener returns, so what must follow the ack at once (a modal's
        ``views.open`` within its trigger's 3 s, a private answer) runs on its own task."""
        task = asyncio.ensure_future(work)
        self._at_once.add(task)
        task.add_done_callback(self._at_once.discard)

    async def sweep(self) -> int:
        """Take over rows nobody holds (their instance died or gave them back); returns how
        many. Called on every scheduler tick."""
        # Only as many as the runners can start within a lease: rows that wait here longer would
        # run out of lease and be taken over again.
        room = SWEEP_BATCH - len(self._waiting)
        if self._closing or room <= 0:
            return 0
        claimed = await inbox.claim_due(
            self.rt.sessions, self.worker_id, lease=self.lease, limit=room
        )
        for entry, token in claimed:
            log.info("interaction taken over", entry_id=entry.id, kind=entry.kind)
            self._enqueue(entry.lane, int(entry.id or 0), token)
        return len(claimed)

    async def close(self, *, within: float) -> None:
        """Take no new rows; start queued ones for half of ``within`` (the other half lets the
        last ones finish), then hand back what was not started."""
        self._closing = True
        began = time.monotonic()
        self._last_start = began + within / 2
        if self._at_once:  # a modal being opened: short, and within the same grace
            await asyncio.wait(set(self._at_once), timeout=within / 2)
        await self.work.close(within=max(0.0, within - (time.monotonic() - began)))
        left = sorted(self._waiting)
        self._waiting.clear()
        with contextlib.suppress(Exception):  # a database down at shutdown: the lease decides
            released = await inbox.release(self.rt.sessions, left)
            if released:
                log.info("interactions handed back at shutdown", rows=released)

    def _enqueue(self, lane: str, entry_id: int, token: str) -> None:
        self._waiting.add(token)
        if self._closing:
            return  # handed back by ``close``
        queue = self._lanes.get(lane)
        if queue is not None:
            queue.append((entry_id, token))
            return
        self._lanes[lane] = deque([(entry_id, token)])
        self.work.submit(self._drain(lane))

    async def _drain(self, lane: str) -> None:
        queue = self._lanes[lane]
        try:
            while queue and time.monotonic() < self._last_start:
                entry_id, token = queue.popleft()
                try:
                    await self._apply(entry_id, token)
                except Exception:  # the database failed: the row's lease runs out, a sweep retries
                    log.exception("could not apply an interaction", entry_id=entry_id)
        finally:
            del self._lanes[lane]

    async def _apply(self, entry_id: int, token: str) -> None:
        sessions = self.rt.sessions
        entry = await inbox.start(sessions, entry_id, token, lease=self.lease)
        self._waiting.discard(token)
        if entry is None:
            # Not ours any more, or an earlier row of its lane (held elsewhere) is undone: give
            # it back, the sweep applies it in its turn.
            await inbox.release(sessions, [token])
            return

        async def renew() -> bool:
            return await inbox.renew(sessions, entry_id, token, lease=self.lease)

        async with kept_lease(renew, lease=self.lease, name=f"inbox-{entry_id}"):
            outcome = await self._outcome(entry)
        if not await inbox.finish(sessions, entry_id, token, outcome):
            log.warning("interaction was taken over while applied", entry_id=entry_id)
        if entry.lane.startswith(inbox.ITEM_LANE):
            for callback in self._after_item:
                callback()

    async def _outcome(self, entry: InboxEntry) -> str:
        handler = self._handlers.get(entry.kind)
        if handler is None:
            log.error("no handler for a recorded interaction", kind=entry.kind, entry_id=entry.id)
            return f"unknown kind {entry.kind}"
        try:
            return await handler({**entry.payload, ATTEMPT: entry.attempts}) or "done"
        except Exception as exc:
            # The work's transaction rolled back, so nothing changed; the person is told, and
            # the row is done (a retry is theirs to make, as before the inbox).
            log.exception("slack listener failed", kind=entry.kind, entry_id=entry.id)
            if entry.actor:
                _, channel = who_and_where(entry.payload)
                await tell(self.client, user=entry.actor, channel=channel, text=FAILED_TEXT)
            return f"failed: {type(exc).__name__}"
