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
from bot.store.run_claims import claim_run, held_until

log = get_logger(__name__)

# A burst digest is sent at most this often per channel (a burst drains long before).
DIGEST_HOLD = timedelta(minutes=30)
# The longest a poster waits before asking again for a channel's slot that another instance
# holds (it normally waits exactly until that hold ends).
SLOT_RECHECK_SECONDS = 1.0
PERMANENT_FAILURE_PAUSE = timedelta(minutes=5)


class CardPoster:
    def __init__(self, runtime: Runtime, worker_id: str) -> None:
        self.rt = runtime
        self.worker_id = worker_id
        self._stopping = False
        self._poked = False

    def poke(self) -> None:
        """An item may just have entered review: a running pass that found nothing to post looks
        once more before it ends, so a card committed while the pass was ending is posted now
        rather than at the next sweep. (The worker starts a new pass when none is running.)"""
        self._poked = True

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
            while not self._stopping:
                # Routing commits in the audit chain's order and the worker starts (or pokes)
                # the poster after the commit, so the oldest card is visible here: no settling.
                self._poked = False
                item = await claim_unposted_card(self.rt.sessions, self.worker_id, lease=lease)
                if item is None:
                    if self._poked:
                        continue
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
        """The cross-instance half of pacing: one backlog post per slot per channel. A slot held
        elsewhere is waited out until its hold ends, not polled (a poll every quarter slot
        added up to 250 ms to a card whose predecessor was posted late)."""
        key = f"post_slot:{channel}"
        while not self._stopping:
            now = utcnow()
            until = now + timedelta(seconds=seconds)
            if await claim_run(self.rt.sessions, key, by=self.worker_id, now=now, until=until):
                return
            held = await held_until(self.rt.sessions, key)
            wait = (held - utcnow()).total_seconds() if held is not None else 0.0
            await asyncio.sleep(min(max(wait, 0.001), SLOT_RECHECK_SECONDS))
