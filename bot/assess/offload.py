"""CPU-heavy work on customer or model text, run off the event loop.

Why: the event loop answers Slack (3-second acks), webhooks, ``/signoff`` commands and the
probes. Every pattern that reads customer text is linear and the text it reads is capped
(``policies.text.SCAN_LIMIT``), but a rule pass, Presidio's phone matcher over a long body or a
slow path nobody foresaw still costs CPU. Run there, it would stall every other request; run
here, it only delays its own ticket.

Why a small executor of its own rather than ``asyncio.to_thread``: the loop's default executor
also resolves host names for the Slack and vendor clients, so a burst of slow tickets filling it
would stall those calls too. Two workers match the machines Signoff runs on; more would only
queue behind the GIL. Callers keep their structlog context (``contextvars`` are copied).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["WORKERS", "off_loop"]

P = ParamSpec("P")
T = TypeVar("T")

WORKERS = 2
# Created once at import and never reconfigured; its threads start on first use.
_EXECUTOR = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="signoff-assess")


async def off_loop(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` in the assessment executor; the loop serves others meanwhile."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await loop.run_in_executor(_EXECUTOR, call)
