"""The worker loop: claim items that need work, advance them, repeat.

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
from datetime import timedelta

import structlog

from bot.card_poster import CardPoster
from bot.item_store import claim
from bot.logging_setup import get_logger
from bot.models import Item
from bot.pipeline import Pipeline
from bot.runtime import Runtime

log = get_logger(__name__)
# How long shutdown waits for passes in flight to finish their items.
SHUTDOWN_GRACE_SECONDS = 30.0


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
    ) -> None:
        self.rt = runtime
        self.worker_id = make_worker_id()
        self.pipeline = Pipeline(runtime, self.worker_id)
        self.card_poster = CardPoster(runtime, self.worker_id)
        self._posting: asyncio.Task[int] | None = None
        # Passes in flight (the loop's and the scheduler's sweeps), so shutdown can let them
        # finish their items instead of leaving claims to expire.
        self._passes = 0
        self._no_passes = asyncio.Event()
        self._no_passes.set()
        self._batch_size = batch_size
        self._limit = asyncio.Semaphore(concurrency or runtime.settings.worker_concurrency)
        self._idle_wait = idle_wait
        self._wake = asyncio.Event()
        self._stopping = False
        self.last_loop_at: float | None = None

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Claim and advance one batch; returns how many items were claimed. Cards waiting to be
        posted are not in the batch: the card poster (started here when idle) posts them in
        order at Slack's pace, so they never hold up the rest of the work."""
        self._start_card_poster()
        self._passes += 1
        self._no_passes.clear()
        try:
            return await self._pass()
        finally:
            self._passes -= 1
            if self._passes == 0:
                self._no_passes.set()

    async def _pass(self) -> int:
        items = await claim(
            self.rt.sessions,
            self.worker_id,
            lease=timedelta(seconds=self.rt.settings.lease_seconds),
            limit=self._batch_size,
            include_unposted=False,
        )
        if items:
            await asyncio.gather(*(self._advance(item) for item in items))
        return len(items)

    async def _advance(self, item: Item) -> None:
        # Bound for the whole step, so every log line about this item (ours, the executor's, a
        # library's) carries its id even when the call site did not pass it.
        async with self._limit:
            with structlog.contextvars.bound_contextvars(item_id=item.id):
                try:
                    await self.pipeline.advance(item)
                except Exception:
                    # The lease expires and another pass retries; one bad item must not stop
                    # the loop.
                    log.exception("advancing item failed")

    async def run_forever(self) -> None:
        log.info("worker started", worker_id=self.worker_id)
        while not self._stopping:
            self.last_loop_at = time.monotonic()
            try:
                claimed = await self.run_once()
            except Exception:
                log.exception("worker pass failed; retrying")
                claimed = 0
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._idle_wait)

    def _start_card_poster(self) -> None:
        if self.rt.publisher is None or self._stopping:
            return
        if self._posting is None or self._posting.done():
            if self._posting is not None and not self._posting.cancelled():
                error = self._posting.exception()
                if error is not None:
                    log.error("card poster failed; restarting", error=repr(error))
            self._posting = asyncio.create_task(self.card_poster.run(), name="signoff-cards")

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def close(self) -> None:
        """Let passes in flight finish (bounded), then stop the card poster (its claimed card
        stays pending and is posted after the lease)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._no_passes.wait(), timeout=SHUTDOWN_GRACE_SECONDS)
        if self._posting is not None and not self._posting.done():
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
