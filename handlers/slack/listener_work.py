"""The work Slack listeners do after their ack, run in arrival order by a few runners.

Work done in the listeners themselves (each request's listener a task of its own, as Bolt
runs them) competed with new requests for the event loop and took as many pooled connections as
there were clicks in flight: acks slowed down, and past the pool's limit the work failed with
``QueuePool limit … reached``. Here the listener acks and hands its work over; ``runners`` tasks
take it first in, first out, so at most that many listener transactions are open at once, the
rest waits its turn (nothing is dropped), and the listener returns right after the ack (Bolt
answers Slack then: ``handlers.slack.app``). ``close`` lets queued work finish (bounded) at
shutdown. What the runners run is recorded first (``handlers.slack.inbox_work``), so work cut
off here is not lost.

The work shares one event loop with the acks, and every step of an ack (its insert's round trip,
Bolt's answer) waits for a turn of that loop: four runners busy with transactions made each turn
long. So while acks are being recorded (``bot.pipeline.ack_priority``, shared with the
in-process worker), only the first runner starts new work; the others wait until no ack is in
progress. The work keeps moving (one runner never waits) and catches up once the clicks stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections import deque
from collections.abc import Awaitable

from bot.logging_setup import get_logger
from bot.pipeline.ack_priority import AckPriority

log = get_logger(__name__)

# Enough to overlap one listener's database wait with another's work, few enough to leave the
# pool (10 + 20) to the worker and the event loop to the acks.
DEFAULT_RUNNERS = 4
# A queue this long is logged (once per crossing), so a backlog is visible before it is felt.
BACKLOG_WARNING = 500


class ListenerWork:
    def __init__(self, runners: int = DEFAULT_RUNNERS, priority: AckPriority | None = None) -> None:
        self._size = runners
        self.priority = priority or AckPriority()
        self._jobs: deque[Awaitable[None]] = deque()
        self._signal: asyncio.Queue[None] | None = None
        self._runners: list[asyncio.Task[None]] = []
        self._warned = False

    def submit(self, work: Awaitable[None]) -> None:
        """Queue ``work`` (already guarded: it must not raise) behind the work before it."""
        if self._signal is None:
            self._signal = asyncio.Queue()
        if not self._runners:
            self._runners = [
                asyncio.create_task(
                    self._run(self._signal, yields=n > 0), name=f"signoff-listener-work-{n}"
                )
                for n in range(self._size)
            ]
        self._jobs.append(work)
        self._signal.put_nowait(None)
        if len(self._jobs) >= BACKLOG_WARNING and not self._warned:
            log.warning("slack listener work is queueing", waiting=len(self._jobs))
        self._warned = len(self._jobs) >= BACKLOG_WARNING

    @property
    def waiting(self) -> int:
        return len(self._jobs)

    async def _run(self, signal: asyncio.Queue[None], *, yields: bool) -> None:
        while True:
            if yields:
                await self.priority.quiet()
            await signal.get()
            try:
                await self._jobs.popleft()
            except Exception:  # guarded work does not raise; keep the runner alive regardless
                log.exception("slack listener work failed")
            finally:
                signal.task_done()

    async def close(self, *, within: float) -> None:
        """Let queued and running work finish (up to ``within`` seconds), then stop."""
        if self._signal is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._signal.join(), timeout=within)
        for task in self._runners:
            task.cancel()
        for task in self._runners:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._runners = []
        if self._jobs:
            log.error("slack listener work left undone at shutdown", waiting=len(self._jobs))
        while self._jobs:
            job = self._jobs.popleft()
            if inspect.iscoroutine(job):
                job.close()
