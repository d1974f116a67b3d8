"""Keep a worker's claim on an item alive for as long as the worker is working on it.

A lease is what lets another instance finish an item after a crash; a lease that runs out while
its worker is still busy (a slow LLM, Slack's Retry-After, a slow vendor) would hand a live item
to a second worker. So while a step runs, the claim is renewed every third of the lease; the
executor's own fence (``item_store.begin_send``) is what guarantees a worker that lost its claim
never calls out, and ``lost`` tells the step it should stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from bot.logging_setup import get_logger
from bot.store.database import SessionFactory, transaction
from bot.store.items import renew_claim

log = get_logger(__name__)


@dataclass
class ClaimState:
    lost: bool = False


@contextlib.asynccontextmanager
async def kept_claim(
    sessions: SessionFactory, item_id: str, worker_id: str, *, lease: timedelta
) -> AsyncIterator[ClaimState]:
    async def renew() -> bool:
        async with transaction(sessions) as session:
            return await renew_claim(session, item_id, worker_id, lease=lease)

    async with kept_lease(renew, lease=lease, name=item_id) as state:
        yield state


@contextlib.asynccontextmanager
async def kept_lease(
    renew: Callable[[], Awaitable[bool]], *, lease: timedelta, name: str
) -> AsyncIterator[ClaimState]:
    """Call ``renew`` every third of ``lease`` until the block ends; ``renew`` returning False
    (the claim is someone else's now) sets ``lost`` and stops. Items and inbox rows use it."""
    state = ClaimState()
    every = max(lease.total_seconds() / 3, 0.05)
    done = asyncio.Event()

    async def renew_until_done() -> None:
        # Stopped by ``done``, never cancelled: a cancel in the middle of a database call can
        # leave its connection checked out with a transaction open (on SQLite, the write lock).
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), timeout=every)
                return
            try:
                held = await renew()
            except Exception:
                # The database is unreachable: the lease may run out; the fence decides.
                log.warning("could not renew the claim", claimed=name, exc_info=True)
                continue
            if not held:
                state.lost = True
                log.warning("claim taken over by another worker", claimed=name)
                return

    task = asyncio.create_task(renew_until_done(), name=f"signoff-claim-{name}")
    try:
        yield state
    finally:
        done.set()
        # Shielded: if this step is cancelled, the renewal still ends on its own, at once.
        await asyncio.shield(task)
