"""The worker loop: keep up to ``concurrency`` items moving, claiming more as slots free.

Webhooks and clicks ``notify`` the worker so new work starts at once; the scheduler's sweep calls
``run_once`` on a timer so retries, expired leases and unposted cards are picked up even when
nobody notified (or the process that was notified crashed).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Sequence
from datetime import timedelta

import structlog

from bot.logging_setup import get_logger
from bot.pipeline.ack_priority import AckPriority
from bot.pipeline.pipeline import Pipeline
from bot.runtime import Runtime
from bot.slack.card_backlog import CardPoster
from bot.store.item_states import ItemState
from bot.store.items import claim
from bot.store.models import Item

log = get_logger(__name__)
# How long shutdown waits for passes in flight to finish their items (an item cut off keeps its
# lease and is taken over). With the inbox's grace and the poster's, under 25 s in all.
SHUTDOWN_GRACE_SECONDS = 10.0
# How long shutdown waits for the card poster to finish the card in hand.
POSTER_GRACE_SECONDS = 5.0


def make_worker_id() -> str:
    return f"{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        runtime: Runtime,
        *,
        batch_size: int = 20,
        concurrency: int | None = None,
        idle_wait: float = 1.0,
        ack_priority: AckPriority | None = None,
    ) -> None:
        """``ack_priority``: in a process that also acks Slack (``serve``), the loop starts one
        item at a time while an ack is being prepared (``bot.pipeline.ack_priority``)."""
        self.rt = runtime
        self._ack_priority = ack_priority
        self.worker_id = make_worker_id()
        self.pipeline = Pipeline(runtime, self.worker_id)
        self.card_poster = CardPoster(runtime, f"{self.worker_id}:cards")
        self._posting: asyncio.Task[int] | None = None
        # Work in flight (sweeps and the loop's items), so shutdown can let it finish its items
        # instead of leaving claims to expire.
        self._passes = 0
        self._no_passes = asyncio.Event()
        self._no_passes.set()
        self._batch_size = batch_size
        self._concurrency = concurrency or runtime.settings.worker_slots
        # One slot per item being advanced, shared by the loop and the sweeps.
        self._limit = asyncio.Semaphore(self._concurrency)
        # The loop's items run as tasks; held here so they are not garbage-collected mid-step.
        self._in_flight: set[asyncio.Task[None]] = set()
        self._advancing = 0  # of those, not yet finished (a done task leaves the set later)
        self._rolling = False
        self._idle_wait = idle_wait
        self._wake = asyncio.Event()
        # Whether a card may be waiting that no pass of the poster has looked for: set by what
        # can make one (a notify, an item that did not end executed), and looked at on every
        # idle wake-up anyway. A slot freed by an executed item needs no look (a query each).
        self._cards_due = True
        self._stopping = False
        self.last_loop_at: float | None = None

    def notify(self) -> None:
        self._cards_due = True
        self._wake.set()

    async def run_once(self) -> int:
        """Claim and advance one batch; returns how many items were claimed. Cards waiting to be
        posted are not in the batch: the card poster (started here when idle) posts them in
        order at Slack's pace, so they never hold up the rest of the work.

        While the loop runs, the batch is only as large as the free slots, so the sweep never
        leases items that would wait behind the loop's."""
        self._start_card_poster()
        self._pass_started()
        try:
            if self._rolling:
                started = await self._fill_free_slots(self._batch_size)
                if started:
                    await asyncio.gather(*started)
                return len(started)
            return await self._pass()
        finally:
            self._pass_finished()

    async def _pass(self) -> int:
        items = await self._claim(self._batch_size)
        if items:
            await asyncio.gather(*(self._advance(item) for item in items))
            self._start_card_poster()  # for the cards of the items that just entered review
        return len(items)

    async def _claim(self, limit: int) -> Sequence[Item]:
        return await claim(
            self.rt.sessions,
            self.worker_id,
            lease=timedelta(seconds=self.rt.settings.lease_seconds),
            limit=limit,
            include_unposted=False,
        )

    async def _fill_free_slots(self, most: int) -> list[asyncio.Task[None]]:
        """Take the slots free now (never waits for one), claim that many items at most and start
        each in its own task, which frees its slot when done. Claiming only for free slots is
        what keeps a claimed item from waiting, leased, behind slower ones."""
        reserved = 0
        while reserved < most and not self._limit.locked():
            await self._limit.acquire()  # not locked: returns without suspending
            reserved += 1
        if not reserved:
            return []
        items: Sequence[Item] = ()
        try:
            items = await self._claim(reserved)
        finally:
            for _ in range(reserved - len(items)):
                self._limit.release()
        started = []
        for item in items:
            self._pass_started()
            self._advancing += 1
            task = asyncio.create_task(self._advance_in_slot(item), name=f"signoff-item-{item.id}")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            started.append(task)
        return started

    async def _advance_in_slot(self, item: Item) -> None:
        try:
            await self._advance_item(item)
        finally:
            self._advancing -= 1
            self._limit.release()
            self._pass_finished()
            self._wake.set()  # a slot is free: the loop claims the next item now

    async def _advance(self, item: Item) -> None:
        async with self._limit:
            await self._advance_item(item)

    async def _advance_item(self, item: Item) -> None:
        # Bound for the whole step, so every log line about this item (ours, the executor's, a
        # library's) carries its id even when the call site did not pass it.
        with structlog.contextvars.bound_contextvars(item_id=item.id):
            try:
                ended = await self.pipeline.advance(item)
            except Exception:
                # The lease expires and another pass retries; one bad item must not stop
                # the loop.
                log.exception("advancing item failed")
                self._cards_due = True
            else:
                if ended.state != ItemState.EXECUTED:  # in review, failed, retrying: a card?
                    self._cards_due = True

    def _pass_started(self) -> None:
        self._passes += 1
        self._no_passes.clear()

    def _pass_finished(self) -> None:
        self._passes -= 1
        if self._passes == 0:
            self._no_passes.set()

    async def run_forever(self) -> None:
        """Keep every slot busy: claim as many items as there are free slots, again each time
        one frees (its task wakes the loop), so work flows instead of running in batches that
        wait for their slowest item. Items still in flight at ``stop`` are left to ``close``."""
        log.info("worker started", worker_id=self.worker_id, concurrency=self._concurrency)
        self._rolling = True
        try:
            idle = True
            while not self._stopping:
                self.last_loop_at = time.monotonic()
                if idle or self._cards_due:
                    self._cards_due = False
                    self._start_card_poster()
                # Cleared before looking for work, so a wake-up during the claim is not lost.
                self._wake.clear()
                self._pass_started()  # so close() cannot miss items claimed but not started
                try:
                    await self._fill_free_slots(self._slots_to_fill())
                except Exception:
                    log.exception("worker pass failed; retrying")
                finally:
                    self._pass_finished()
                # Until a slot frees (its task sets the event), a notify, or the idle poll.
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._idle_wait)
                    idle = False
                except TimeoutError:
                    idle = True
        finally:
            self._rolling = False

    def _slots_to_fill(self) -> int:
        """Every free slot, unless Slack is waiting for acks: then one item at a time, and the
        loop is woken when the acks stop."""
        priority = self._ack_priority
        if priority is None or not priority.busy:
            return self._concurrency
        priority.call_when_quiet(self.notify)
        return 0 if self._advancing else 1

    def _start_card_poster(self) -> None:
        """Start the card poster, or tell the running one to look again before it stops: the
        loop calls this when a card may wait (an item entered review, a notify) and on every idle
        wake-up."""
        if self.rt.publisher is None or self._stopping:
            return
        if self._posting is not None and not self._posting.done():
            self.card_poster.poke()
            return
        if self._posting is not None and not self._posting.cancelled():
            error = self._posting.exception()
            if error is not None:
                log.error("card poster failed; restarting", error=repr(error))
        self._posting = asyncio.create_task(self.card_poster.run(), name="signoff-cards")

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        """Let passes in flight finish (bounded), then stop the card poster after the card in
        hand. It is cancelled only if that takes too long (a card waiting for Slack's slot): a
        cancel in the middle of a database call can leave its connection holding a transaction,
        and on SQLite the write lock with it (every later write then waits out busy_timeout)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_passes.wait(), timeout=SHUTDOWN_GRACE_SECONDS)
        self.card_poster.stop()
        if self._posting is not None and not self._posting.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._posting), timeout=POSTER_GRACE_SECONDS)
            if not self._posting.done():
                self._posting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._posting

    async def drain(self, *, max_passes: int = 100) -> None:
        """Run passes until nothing is claimable (used by the demo and the CLI)."""
        for _ in range(max_passes):
            if await self.run_once() == 0:
                break
        if self._posting is not None:
            await self._posting
