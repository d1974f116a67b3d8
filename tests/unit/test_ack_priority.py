"""Acks first: what background work reads to give way while Slack waits for an answer."""

from __future__ import annotations

import asyncio

from bot.pipeline.ack_priority import AckPriority


async def test_busy_from_the_first_ack_until_the_last_ends() -> None:
    priority = AckPriority()
    assert not priority.busy
    priority.begin()
    priority.begin()
    priority.end()
    assert priority.busy
    priority.end()
    assert not priority.busy


async def test_quiet_returns_once_the_last_ack_ends() -> None:
    priority = AckPriority()
    await asyncio.wait_for(priority.quiet(), timeout=1)  # none in progress: at once
    priority.begin()
    waiting = asyncio.ensure_future(priority.quiet())
    await asyncio.sleep(0)
    assert not waiting.done()
    priority.end()
    await asyncio.wait_for(waiting, timeout=1)


async def test_a_callback_waits_for_quiet_and_is_called_once() -> None:
    priority = AckPriority()
    calls: list[str] = []

    def wake() -> None:
        calls.append("wake")

    priority.call_when_quiet(wake)
    assert calls == ["wake"]  # quiet already
    priority.begin()
    priority.call_when_quiet(wake)
    priority.call_when_quiet(wake)  # the same waiting callback is not added twice
    assert calls == ["wake"]
    priority.end()
    assert calls == ["wake", "wake"]
    priority.begin()
    priority.end()
    assert calls == ["wake", "wake"]  # called once, then forgotten
