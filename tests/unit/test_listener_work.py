"""The queue behind Slack's acks: work starts in arrival order, a fixed few at a time, and none
is dropped (shutdown lets it finish, within a bound)."""

from __future__ import annotations

import asyncio

from handlers.slack.listener_work import ListenerWork


async def test_work_runs_in_arrival_order_a_few_at_a_time_and_none_is_lost() -> None:
    queue = ListenerWork(runners=3)
    started: list[int] = []
    running = 0
    most = 0

    async def job(n: int) -> None:
        nonlocal running, most
        started.append(n)
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.01)
        running -= 1

    for n in range(40):
        queue.submit(job(n))
    assert queue.waiting == 40  # nothing ran inside submit: the ack returns first
    await queue.close(within=10)
    assert started == list(range(40))
    assert most == 3
    assert queue.waiting == 0


async def test_a_failing_job_does_not_stop_the_runners() -> None:
    queue = ListenerWork(runners=1)
    done: list[str] = []

    async def boom() -> None:
        raise RuntimeError("a listener bug")

    async def fine() -> None:
        done.append("after")

    queue.submit(boom())
    queue.submit(fine())
    await queue.close(within=5)
    assert done == ["after"]


async def test_shutdown_waits_a_bounded_time_and_says_what_was_left() -> None:
    queue = ListenerWork(runners=1)
    never = asyncio.Event()
    leftovers = 0

    async def stuck() -> None:
        await never.wait()

    async def later() -> None:
        nonlocal leftovers
        leftovers += 1

    queue.submit(stuck())
    queue.submit(later())
    await asyncio.wait_for(queue.close(within=0.2), timeout=5)
    assert leftovers == 0  # the queued job was closed, not run after shutdown
    assert queue.waiting == 0


async def test_while_acks_are_being_recorded_only_the_first_runner_starts_work() -> None:
    queue = ListenerWork(runners=3)
    release = asyncio.Event()
    started: list[int] = []

    async def job(n: int) -> None:
        started.append(n)
        await release.wait()

    queue.priority.begin()
    for n in range(3):
        queue.submit(job(n))
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == [0]  # one runner keeps the work moving; the others give way
    queue.priority.end()
    for _ in range(5):
        await asyncio.sleep(0)
    assert started == [0, 1, 2]
    release.set()
    await queue.close(within=5)
