"""A value read from one database at most once per ``ttl`` seconds, per session factory.

Why: some small reads (the lead settings, the edit examples) are needed by every click or
routed item and change rarely. The cache is keyed by the session factory, so each database (and
each test's) has its own, and weakly, so a closed runtime's entry goes away with it. ``forget``
after a change's commit makes the next read go to the database; a read that started before the
change is not kept after it.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from bot.store.database import SessionFactory

T = TypeVar("T")


class PerDatabaseCache(Generic[T]):
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._values: weakref.WeakKeyDictionary[SessionFactory, tuple[float, T]] = (
            weakref.WeakKeyDictionary()
        )
        self._generation: weakref.WeakKeyDictionary[SessionFactory, int] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self, sessions: SessionFactory, load: Callable[[], Awaitable[T]]) -> T:
        """The cached value if it is younger than ``ttl``, else ``load()``'s (then kept)."""
        started = time.monotonic()
        cached = self._values.get(sessions)
        if cached is not None and started - cached[0] < self.ttl:
            return cached[1]
        generation = self._generation.get(sessions, 0)
        value = await load()
        if self._generation.get(sessions, 0) == generation:
            self._values[sessions] = (started, value)
        return value

    def forget(self, sessions: SessionFactory) -> None:
        """The value changed: the next read goes to the database."""
        self._values.pop(sessions, None)
        self._generation[sessions] = self._generation.get(sessions, 0) + 1
