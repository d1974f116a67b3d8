"""Group commit: rows that arrive while a batch is being written share the next transaction.

Per row, a transaction's round trips and commit (and on PostgreSQL its fsync) cost more than the
insert itself, so under load one writer per database takes everything that queued up meanwhile
and writes it as one batch; each caller is answered only after that batch's commit. Alone, a row
is written at once, so a quiet system pays nothing for this. Ticket ingest and the interaction
inbox (what Slack's acks wait for) both use it.
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
    sender. ``batch_size`` bounds a statement's parameters."""

    def __init__(self, write: WriteBatch[A, R], *, batch_size: int, name: str) -> None:
        self._write = write
        self._batch_size = batch_size
        self._name = name
        # Per database; a writer holds no reference to its key, so a closed runtime's entry
        # goes away with it.
        self._queues: weakref.WeakKeyDictionary[SessionFactory, _Queue[A, R]] = (
            weakref.WeakKeyDictionary()
        )

    async def submit(self, sessions: SessionFactory, arrival: A) -> R:
        queue = self._queues.get(sessions)
        if queue is None:
            queue = self._queues[sessions] = _Queue(self._write, self._batch_size, self._name)
        return await queue.submit(sessions, arrival)


class _Queue(Generic[A, R]):
    def __init__(self, write: WriteBatch[A, R], batch_size: int, name: str) -> None:
        self._write = write
        self._batch_size = batch_size
        self._name = name
        self._waiting: list[_Waiting[A, R]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, sessions: SessionFactory, arrival: A) -> R:
        waiting = _Waiting(arrival, asyncio.get_running_loop().create_future())
        self._waiting.append(waiting)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(
                self._write_waiting(sessions), name=f"signoff-{self._name}"
            )
        # Shielded: a sender that hangs up does not cancel the others' batch.
        return await asyncio.shield(waiting.answer)

    async def _write_waiting(self, sessions: SessionFactory) -> None:
        size, write = self._batch_size, self._write
        batch: list[_Waiting[A, R]] = []
        try:
            while self._waiting:
                batch = self._waiting[:size]
                del self._waiting[:size]
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
            for waiting in batch:
                _answer(waiting, error=RuntimeError(f"{self._name} was interrupted"))


def _answer(waiting: _Waiting[A, R], *results: R, error: Exception | None = None) -> None:
    if waiting.answer.done():
        return
    if results:
        waiting.answer.set_result(results[0])
    else:
        waiting.answer.set_exception(error or RuntimeError("the batch gave no answer"))
