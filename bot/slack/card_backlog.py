"""Posting the cards that wait: after a burst, after a Slack outage, or whenever the channel was
busy when an item entered review.

One poster per process takes the oldest unposted card (a leased claim, so instances never post
the same card), waits for the channel's slot and posts it, then the next. The slot is taken twice:
from the process's pacer and from a ``run_claim`` row per channel, so the backlog of all instances
together stays at Slack's rate instead of each instance spending the whole rate. When more than
``SIGNOFF_DIGEST_THRESHOLD`` cards wait, one digest message listing them goes first (once per
burst across instances); every card is still posted after it.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.store.card_queue import claim_unposted_card, unposted_cards
from bot.store.claim_keeper import kept_claim
from bot.store.column_types import utcnow
from bot.store.database import transaction
from bot.store.items import release
from bot.store.run_claims import claim_run

log = get_logger(__name__)

# A burst digest is sent at most this often per channel (a burst drains long before).
DIGEST_HOLD = timedelta(minutes=30)
# Cards that entered review together get this long to line up before the first is posted: long
# enough for a routing transaction in flight to commit (milliseconds), short beside the 250 ms a
# lone card may take from its assessment to Slack (benchmarks/card_latency.py).
SETTLE_SECONDS = 0.05
PERMANENT_FAILURE_PAUSE = timedelta(minutes=5)


class CardPoster:
    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.rt = runtime
        self.worker_id = worker_id
        self._stopping = False

    def stop(self) -> None:
        """Finish the card in hand and stop before the next one (see ``Worker.close``)."""
        self._stopping = True

    async def run(self) -> int:
        """Post waiting cards oldest first until none is left or Slack refuses; returns how many
        were posted (a refused card stays pending and the next pass tries again)."""
        publisher = self.rt.publisher
        if publisher is None:
            return 0
        posted = 0
        lease = timedelta(seconds=self.rt.settings.lease_seconds)
        try:
            await asyncio.sleep(SETTLE_SECONDS)
            while not self._stopping:
                item = await claim_unposted_card(self.rt.sessions, self.worker_id, lease=lease)
                if item is None:
                    return posted
                publisher.backlog_active = True
                ok = False
                try:
                    # The slot can take a while in a burst: keep the claim meanwhile, so another
                    # instance does not take the card over and post it too.
                    holder = item.claimed_by or self.worker_id
                    async with kept_claim(self.rt.sessions, item.id, holder, lease=lease) as claim:
                        await self._digest_if_burst(item.review_channel)
                        channel = publisher.channel_of(item)
                        await self._channel_slot(channel, publisher.slot_seconds)
                        if not claim.lost:
                            ok = await publisher.post_card_paced(item)
                finally:
                    # A card Slack will never take (e.g. invalid_blocks) steps aside for a while
                    # so it cannot block the queue; a transient failure keeps its place in line.
                    retry = {}
                    if not ok and not publisher.last_failure_transient:
                        retry = {"next_attempt_at": utcnow() + PERMANENT_FAILURE_PAUSE}
                    async with transaction(self.rt.sessions) as session:
                        await release(session, item.id, item.claimed_by or self.worker_id, **retry)
                if ok:
                    posted += 1
                elif publisher.last_failure_transient:
                    return posted
            return posted
        finally:
            publisher.backlog_active = False

    async def _digest_if_burst(self, route_channel: str | None) -> None:
        """The burst digest of one channel's waiting cards (a route's, or the review channel's),
        posted in that channel: each team sees its own queue."""
        publisher = self.rt.publisher
        threshold = self.rt.settings.digest_threshold
        if publisher is None or threshold <= 0:
            return
        total, oldest = await unposted_cards(self.rt.sessions, limit=40, channel=route_channel)
        if total <= threshold:
            return
        channel = route_channel or publisher.channel
        now = utcnow()
        if await claim_run(
            self.rt.sessions,
            f"burst_digest:{channel}",
            by=self.worker_id,
            now=now,
            until=now + DIGEST_HOLD,
        ):
            await self._channel_slot(channel, publisher.slot_seconds)
            await publisher.post_backlog_digest(oldest, total, channel)

    async def _channel_slot(self, channel: str, seconds: float) -> None:
        """The cross-instance half of pacing: one backlog post per slot per channel."""
        while not self._stopping:
            now = utcnow()
            if await claim_run(
                self.rt.sessions,
                f"post_slot:{channel}",
                by=self.worker_id,
                now=now,
                until=now + timedelta(seconds=seconds),
            ):
                return
            await asyncio.sleep(seconds / 4)
