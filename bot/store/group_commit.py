"""Group commit: rows that arrive while a batch is being written share the next transaction.

Per row, a transaction's round trips and commit (and on PostgreSQL its fsync) cost more than the
insert itself, so under load one writer per database takes everything that queued up meanwhile
and writes it as one batch; each caller is answered only after that batch's commit. Alone, a row
is written at once, so a quiet system pays nothing for this. Ticket ingest and the interaction
inbox (what Slack's acks wait for) both use it.

A writer may allow a few batches in flight at once (``writers``): a batch then waits for a free
writer instead of for the one batch ahead of it, which matters when the write is one round trip
that mostly waits (the inbox on PostgreSQL). Rows written by one batch keep their arrival order;
two batches in flight together hold only rows that arrived while both were unanswered, so none
of them was acknowledged before the other arrived. SQLite takes one writer at a time anyway, so
there it stays one.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from bot.store.database import SessionFactory

A = TypeVar("A")
R = TypeVar("R")

# Writes one batch in one transaction and answers each arrival, in order.
WriteBatch = Callable[[SessionFactory, list[A]], Awaitable[list[R]]]


@dataclass
class _Waiting(Generic[A, R]):
    arrival: A
    answer: asyncio.Future[R]


class GroupCommit(Generic[A, R]):
    """One writer per database (``sessions``); ``submit`` waits for the commit of its batch.

    A batch that fails is written again one row at a time, so one bad row fails only its own
    sender. ``batch_size`` bounds a statement's parameters; ``writers`` how many batches may be
    in flight at once (PostgreSQL only)."""

    def __init__(
        self, write: WriteBatch[A, R], *, batch_size: int, name: str, writers: int = 1
    ) -> None:
        self._write = write
        self._batch_size = batch_size
        self._name = name
        self._writers = writers
        # Per database; a writer holds no reference to its key, so a closed runtime's entry
        # goes away with it.
        self._queues: weakref.WeakKeyDictionary[SessionFactory, _Queue[A, R]] = (
            weakref.WeakKeyDictionary()
        )

    async def submit(self, sessions: SessionFactory, arrival: A) -> R:
        queue = self._queues.get(sessions)
        if queue is None:
            writers = 1 if _is_sqlite(sessions) else self._writers
            queue = _Queue(self._write, self._batch_size, self._name, writers)
            self._queues[sessions] = queue
        return await queue.submit(sessions, arrival)


def _is_sqlite(sessions: SessionFactory) -> bool:
    bind = sessions.kw.get("bind")
    return bind is None or bind.dialect.name == "sqlite"


class _Queue(Generic[A, R]):
    def __init__(self, write: WriteBatch[A, R], batch_size: int, name: str, writers: int) -> None:
        self._write = write
        self._batch_size = batch_size
        self._name = name
        self._max_writers = writers
        self._waiting: list[_Waiting[A, R]] = []
        self._writers: set[asyncio.Task[None]] = set()
        # A writer started that has not taken its first batch yet: it takes what arrives now.
        self._starting = False

    async def submit(self, sessions: SessionFactory, arrival: A) -> R:
        waiting = _Waiting(arrival, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if not self._starting and len(self._writers) < self._max_writers:
            self._starting = True
            writer = asyncio.create_task(
                self._write_waiting(sessions), name=f"signoff-{self._name}"
            )
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        # Shielded: a sender that hangs up does not cancel the others' batch.
        return await asyncio.shield(waiting.answer)

    async def _write_waiting(self, sessions: SessionFactory) -> None:
        size, write = self._batch_size, self._write
        batch: list[_Waiting[A, R]] = []
        try:
            while self._waiting:
                batch = self._waiting[:size]
                del self._waiting[:size]
                self._starting = False
                try:
                    answers = await write(sessions, [w.arrival for w in batch])
                except Exception as exc:
                    if len(batch) == 1:
                        _answer(batch[0], error=exc)
                        continue
                    # One bad row must not fail the others: write each on its own.
                    for waiting in batch:
                        try:
                            [single] = await write(sessions, [waiting.arrival])
                        except Exception as error:
                            _answer(waiting, error=error)
                        else:
                            _answer(waiting, single)
                    continue
                for waiting, answer in zip(batch, answers, strict=True):
                    _answer(waiting, answer)
        finally:  # cancelled mid-batch (shutdown): nobody may wait for an answer forever
            self._starting = False
            for waiting in batch:
                _answer(waiting, error=RuntimeError(f"{self._name} was interrupted"))


def _answer(waiting: _Waiting[A, R], *results: R, error: Exception | None = None) -> None:
    if waiting.answer.done():
        return
    if results:
        waiting.answer.set_result(results[0])
    else:
        waiting.answer.set_exception(error or RuntimeError("the batch gave no answer"))
