"""The pipeline: received → assessed → (auto-approved | pending review) → executing → executed.

``Pipeline`` holds a claimed item and runs one step after another (:mod:`~bot.pipeline.step`
says what a step promises) until the item waits for someone: a human's review, a retry's time,
or nothing more to do. The steps are their own modules, in the order an item meets them:
:mod:`~bot.pipeline.assess_step`, :mod:`~bot.pipeline.route_step`,
:mod:`~bot.pipeline.execute_step`.
"""

from __future__ import annotations

from datetime import timedelta

from bot.pipeline.assess_step import assess
from bot.pipeline.execute_step import execute, start_execution
from bot.pipeline.route_step import route
from bot.runtime import Runtime
from bot.store.claim_keeper import kept_claim
from bot.store.database import transaction
from bot.store.item_states import ItemState
from bot.store.items import release
from bot.store.models import Item


class Pipeline:
    """Advances claimed items. Every write is conditional on the item's own claim (``holder``,
    the token ``claim`` wrote into ``claimed_by``), so two slots of one process can never act
    on each other's item even though they share the worker's id."""

    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.rt = runtime
        self.holder = worker_id

    async def advance(self, item: Item) -> Item:
        """Move a claimed item as far as it can go now, then release the claim; returns the item
        as this pass last saw it. The claim is renewed while the steps run, so a slow model or
        vendor never lets a second worker in."""
        if item.claimed_by and item.claimed_by != self.holder:
            return await Pipeline(self.rt, item.claimed_by).advance(item)
        lease = timedelta(seconds=self.rt.settings.lease_seconds)
        try:
            async with kept_claim(self.rt.sessions, item.id, self.holder, lease=lease) as claim:
                while not claim.lost:
                    moved = await self._step(item)
                    if moved is None:
                        break
                    item = moved
        finally:
            # Entering review and being executed free the claim in that same transaction:
            # nothing to release. (A step that lost a race leaves the item as last seen, still
            # ours; the release is conditional, so it frees nothing that is not.)
            if item.claimed_by == self.holder:
                async with transaction(self.rt.sessions) as session:
                    await release(session, item.id, self.holder)
        return item

    async def _step(self, item: Item) -> Item | None:
        """The step for the item's state; ``None`` when there is nothing more to do now."""
        if item.state == ItemState.RECEIVED:
            return await assess(self.rt, self.holder, item)
        if item.state == ItemState.ASSESSED:
            return await route(self.rt, self.holder, item)
        if item.state == ItemState.PENDING_REVIEW:
            # Released when it entered review: the card poster posts cards in review order.
            return None
        if item.state == ItemState.APPROVED:
            return await start_execution(self.rt, self.holder, item)
        if item.state == ItemState.EXECUTING:
            return await execute(self.rt, self.holder, item)
        return None
