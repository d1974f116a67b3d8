"""Pacing chat.postMessage per channel: Slack allows about one message per second per channel.

A generic cell-rate algorithm (a token bucket kept as one "theoretical arrival time" per channel):
``reserve`` books the next free slot without awaiting, so concurrent callers are served in the
order they asked and never race for the same slot. One pacer belongs to each runtime (its
publisher and its client's 429 handler share it); several instances each pace themselves, and
slack_sdk's 429 handler (honouring ``Retry-After``) absorbs what their sum exceeds.
"""

from __future__ import annotations

import asyncio
import threading
import time

from bot.settings import Settings


class ChannelPacer:
    def __init__(self, per_second: float = 1.0, burst: int = 1) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}
        self._held_until = 0.0
        self.configure(per_second, burst)

    def configure(self, per_second: float, burst: int) -> None:
        if per_second <= 0 or burst < 1:
            raise ValueError("the rate must be positive and the burst at least 1")
        with self._lock:
            self.interval = 1.0 / per_second
            self.burst = burst

    def reserve(self, channel: str, now: float | None = None) -> float:
        """Book a slot for one message to ``channel``; returns how long to wait for it."""
        now = time.monotonic() if now is None else now
        with self._lock:
            arrival = max(self._next.get(channel, now), now)
            self._next[channel] = max(arrival, self._held_until) + self.interval
            allowed = max(arrival - (self.burst - 1) * self.interval, self._held_until)
            return max(0.0, allowed - now)

    def try_reserve(self, channel: str) -> bool:
        """Book a slot only if one is free right now (the caller posts at once or not at all)."""
        now = time.monotonic()
        with self._lock:
            arrival = max(self._next.get(channel, now), now)
            if max(arrival - (self.burst - 1) * self.interval, self._held_until) > now:
                return False
            self._next[channel] = arrival + self.interval
            return True

    async def wait(self, channel: str) -> float:
        """Wait for a slot; returns the time waited."""
        delay = self.reserve(channel)
        if delay > 0:
            await asyncio.sleep(delay)
        return delay

    def hold(self, seconds: float) -> None:
        """Slack answered 429 anyway (another instance or app spent the rate): no post from this
        process before ``Retry-After`` has passed. slack_sdk does not expose the JSON body of the
        limited call to retry handlers, so the hold covers every channel, which errs on the
        side of fewer 429s."""
        with self._lock:
            self._held_until = max(self._held_until, time.monotonic() + seconds)

    @classmethod
    def from_settings(cls, settings: Settings) -> ChannelPacer:
        """``SIGNOFF_SLACK_POSTS_PER_SECOND`` and ``SIGNOFF_SLACK_POST_BURST``."""
        return cls(settings.slack_posts_per_second, settings.slack_post_burst)
