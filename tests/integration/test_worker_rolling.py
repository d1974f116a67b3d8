"""The worker loop refills a slot as soon as it frees, instead of waiting for the slowest item of
a batch, and claims only as many items as it has free slots (no item waits leased behind slower
ones). Shutdown still lets the items in flight finish.

The classifier holds chosen tickets until the test releases them, so the order of events is
fixed by the test, not by timing.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlmodel import col

from bot.assess.assessment import Assessment, Classifier
from bot.assess.heuristic import HeuristicClassifier
from bot.pipeline.ack_priority import AckPriority
from bot.pipeline.worker import Worker
from bot.runtime import Runtime, open_runtime
from bot.store.ingest import ingest
from bot.store.item_states import ItemState
from bot.store.items import get_item
from bot.store.models import Item
from bot.tickets import TicketIn
from tests.support.server_harness import make_settings
from tests.support.ticket_factory import password_ticket

# Only a guard against hanging when the behaviour is wrong; nothing asserts how long anything took.
HANG_GUARD_SECONDS = 20.0


class GatedClassifier(Classifier):
    """Our Classifier protocol: tickets whose subject is in ``gates`` wait for their gate; every
    start and end is recorded in order."""

    name = "gated"

    def __init__(self, gated: set[str]) -> None:
        self._inner = HeuristicClassifier()
        self.gates = {label: asyncio.Event() for label in gated}
        self.events: list[str] = []
        self._seen: dict[str, asyncio.Event] = {}

    def seen(self, event: str) -> asyncio.Event:
        return self._seen.setdefault(event, asyncio.Event())

    def _record(self, event: str) -> None:
        self.events.append(event)
        self.seen(event).set()

    async def assess(self, ticket: TicketIn) -> Assessment:
        label = ticket.subject
        self._record(f"start:{label}")
        if label in self.gates:
            await self.gates[label].wait()
        self._record(f"end:{label}")
        return await self._inner.assess(ticket)


async def _add(rt: Runtime, label: str) -> str:
    ticket = TicketIn.model_validate(password_ticket(subject=label))
    return (await ingest(rt.sessions, "generic", ticket)).item_id


async def _leased_by(rt: Runtime, worker: Worker) -> set[str]:
    async with rt.sessions() as session:
        rows = await session.execute(
            select(col(Item.id)).where(col(Item.claimed_by).startswith(worker.worker_id + "#"))
        )
        return set(rows.scalars())


async def _seen(classifier: GatedClassifier, event: str) -> None:
    await asyncio.wait_for(classifier.seen(event).wait(), timeout=HANG_GUARD_SECONDS)


async def test_a_freed_slot_is_refilled_while_a_slow_item_is_still_in_flight(
    database_url: str,
) -> None:
    classifier = GatedClassifier(gated={"slow", "later"})
    settings = make_settings(database_url=database_url)
    async with open_runtime(settings, classifier=classifier) as rt:
        slow = await _add(rt, "slow")
        await _add(rt, "quick")
        worker = Worker(rt, concurrency=2)
        loop = asyncio.create_task(worker.run_forever())
        try:
            await _seen(classifier, "end:quick")
            # Arrives after the first claim: a batch-at-a-time loop would not look at it until
            # "slow" had finished.
            later = await _add(rt, "later")
            waiting = {await _add(rt, f"waiting-{n}") for n in range(2)}
            worker.notify()
            await _seen(classifier, "start:later")
            assert "end:slow" not in classifier.events
            # Both slots are busy; the two waiting items are not leased while they wait.
            assert await _leased_by(rt, worker) == {slow, later}
        except BaseException:
            for gate in classifier.gates.values():
                gate.set()  # so a failure reports instead of hanging on the held items
            raise
        finally:
            worker.stop()
            await loop
        # Stopped with two items in flight: close() lets them finish.
        closing = asyncio.create_task(worker.close())
        for gate in classifier.gates.values():
            gate.set()
        await asyncio.wait_for(closing, timeout=HANG_GUARD_SECONDS)
        for item_id in (slow, later):
            item = await get_item(rt.sessions, item_id)
            assert item is not None and item.state != ItemState.RECEIVED
        for item_id in waiting:
            item = await get_item(rt.sessions, item_id)
            assert item is not None and item.state == ItemState.RECEIVED
            assert item.claimed_by is None
        assert await _leased_by(rt, worker) == set()
    assert classifier.events.index("start:later") < classifier.events.index("end:slow")


async def test_while_acks_are_prepared_the_worker_advances_one_item_and_resumes_after(
    database_url: str,
) -> None:
    """Acks first (``bot.pipeline.ack_priority``): with an ack in progress the loop starts one
    item, not one per free slot; when the acks stop it is woken and fills every slot."""
    classifier = GatedClassifier(gated={"first", "second", "third"})
    settings = make_settings(database_url=database_url)
    priority = AckPriority()
    async with open_runtime(settings, classifier=classifier) as rt:
        for label in ("first", "second", "third"):
            await _add(rt, label)
        priority.begin()
        worker = Worker(rt, concurrency=3, ack_priority=priority, idle_wait=0.05)
        loop = asyncio.create_task(worker.run_forever())
        try:
            started = await _started_after_polls(classifier, polls=5)
            assert len(started) == 1  # one item moves; the free slots wait for the acks
            priority.end()  # the last ack is done: the loop is woken and takes the other two
            await _seen(classifier, "start:second")
            await _seen(classifier, "start:third")
        finally:
            for gate in classifier.gates.values():
                gate.set()
            worker.stop()
            await loop
            await asyncio.wait_for(worker.close(), timeout=HANG_GUARD_SECONDS)


async def _started_after_polls(classifier: GatedClassifier, *, polls: int) -> list[str]:
    """The items started once the loop had ``polls`` idle polls to start more (0.05 s each)."""
    await asyncio.wait_for(
        asyncio.wait(
            [
                asyncio.ensure_future(classifier.seen(f"start:{n}").wait())
                for n in ("first", "second", "third")
            ],
            return_when=asyncio.FIRST_COMPLETED,
        ),
        timeout=HANG_GUARD_SECONDS,
    )
    for _ in range(polls):
        await asyncio.sleep(0.05)
    return [event for event in classifier.events if event.startswith("start:")]
