"""The load generator: a separate process that sends signed requests over loopback.

It runs in its own process (``multiprocessing`` spawn) so its CPU never shares an interpreter
with the server or the fakes, and it signs each request just before sending it, as Slack and
webhook senders do (a timestamp older than five minutes would be refused). ``aiohttp`` is used
because it is already a dependency (Bolt's async client) and costs less CPU per request than
httpx, which matters when one Python process must keep 50 connections busy.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from benchmarks.stats import summarise_ms
from tests.support.signatures import generic_headers, slack_headers

REQUEST_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class Request:
    """One request to send: ``scheme`` names how it is signed (``slack``, ``generic`` or
    ``none``); ``tag`` groups results (e.g. ``approve`` and ``pending``)."""

    path: str
    body: bytes
    content_type: str
    scheme: str
    tag: str
    method: str = "POST"


@dataclass(frozen=True)
class Plan:
    """What to send, how many at once, and optionally at what rate (requests per second)."""

    base_url: str
    requests: list[Request]
    concurrency: int
    slack_secret: str = ""
    webhook_secret: str = ""
    rate: float | None = None
    warmup: list[Request] = field(default_factory=list)


@dataclass(frozen=True)
class Result:
    """One answer: ``latency`` in seconds (``inf`` when the request failed); ``sent_at`` is wall
    time, so it can be compared with what a fake recorded in another process."""

    index: int
    tag: str
    status: int
    latency: float
    sent_at: float
    error: str = ""


@dataclass
class Outcome:
    results: list[Result] = field(default_factory=list)
    elapsed: float = 0.0


def _headers(plan: Plan, request: Request) -> dict[str, str]:
    headers = {"Content-Type": request.content_type}
    if request.scheme == "slack":
        headers.update(slack_headers(plan.slack_secret, request.body))
    elif request.scheme == "generic":
        headers.update(generic_headers(plan.webhook_secret, request.body))
    return headers


async def _send_all(plan: Plan) -> Outcome:
    outcome = Outcome()
    next_index = 0
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    connector = aiohttp.TCPConnector(limit=plan.concurrency)
    started = time.perf_counter()

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while next_index < len(plan.requests):
            index = next_index
            next_index += 1
            request = plan.requests[index]
            if plan.rate:
                delay = started + index / plan.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            headers = _headers(plan, request)
            sent_at = time.time()
            begin = time.perf_counter()
            try:
                async with session.request(
                    request.method,
                    plan.base_url + request.path,
                    data=request.body or None,
                    headers=headers,
                ) as response:
                    await response.read()
                    status = response.status
                latency = time.perf_counter() - begin
                outcome.results.append(Result(index, request.tag, status, latency, sent_at))
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome.results.append(
                    Result(index, request.tag, 0, float("inf"), sent_at, type(exc).__name__)
                )

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(plan.concurrency)))
    outcome.elapsed = time.perf_counter() - started
    return outcome


async def _drive(plan: Plan) -> Outcome:
    """Warm-up requests first (answers dropped: connections, caches and lazy imports settle),
    then the measured ones."""
    if plan.warmup:
        warm = Plan(
            plan.base_url,
            plan.warmup,
            plan.concurrency,
            plan.slack_secret,
            plan.webhook_secret,
        )
        await _send_all(warm)
    return await _send_all(plan)


def _run_in_child(plan: Plan) -> Outcome:
    return asyncio.run(_drive(plan))


def run_load(plan: Plan) -> Outcome:
    """Send ``plan`` from a fresh process and return every answer's status and latency."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(_run_in_child, (plan,))


def summarise(
    outcome: Outcome, tag: str | None = None, *, ok: tuple[int, ...] = (200,)
) -> dict[str, Any]:
    """Answers per status, rate of successful answers, latency summary and how many took > 3 s
    (Slack's limit for an acknowledgement)."""
    chosen = [r for r in outcome.results if tag is None or r.tag == tag]
    statuses = Counter(str(r.status) for r in chosen)
    good = [r for r in chosen if r.status in ok]
    summary: dict[str, Any] = {
        "requests": len(chosen),
        "ok": len(good),
        "statuses": dict(sorted(statuses.items())),
        "errors": dict(Counter(r.error for r in chosen if r.error)),
        "rate_per_s": round(len(good) / outcome.elapsed, 1) if outcome.elapsed else None,
        "over_3s": sum(1 for r in chosen if r.latency > 3.0),
    }
    summary.update(summarise_ms([r.latency for r in good]))
    return summary
