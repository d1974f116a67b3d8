"""Executors: the code that makes an approved action happen in the outside world.

An executor gets an ``ActionRequest`` (plain data, already authorised) and either returns the
outcome or raises ``RetryableError`` / ``PermanentError`` so the worker knows whether to try again
with the same idempotency key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import httpx

from bot import signing
from bot.errors import PermanentError, RetryableError
from bot.logging_setup import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class ActionRequest:
    item_id: str
    source: str
    ticket_id: str
    action: dict[str, Any]
    reply_text: str
    approved_by: str
    policy: str | None
    idempotency_key: str
    customer: dict[str, Any] = field(default_factory=dict)
    # The source's own metadata (e.g. a Zendesk ticket number), for vendor executors.
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The body the sink signs. It carries ``idempotency_key`` (equal to the header) so the
        signature covers the key too: a captured action cannot be replayed under a new key."""
        return asdict(self)


class Executor(Protocol):
    name: str

    async def execute(self, request: ActionRequest) -> dict[str, Any]: ...


class LogOnlyExecutor:
    """Used when no ``SIGNOFF_ACTION_URL`` is set: the action is recorded, nothing is sent."""

    name = "log_only"
    resends_safely = True  # nothing leaves Signoff

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        log.info(
            "action logged only (SIGNOFF_ACTION_URL not set)",
            item_id=request.item_id,
            action=request.action.get("kind"),
        )
        return {"executor": self.name, "sent": False}


class ExecutorRouter:
    """Sends each action to the executor for the source it came from (a Zendesk ticket is
    answered in Zendesk), falling back to the generic sink or log-only executor."""

    name = "router"

    def __init__(self, fallback: Executor, by_source: dict[str, Executor] | None = None) -> None:
        self.fallback = fallback
        self.by_source = dict(by_source or {})

    def executor_for(self, source: str) -> Executor:
        return self.by_source.get(source, self.fallback)

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        return await self.executor_for(request.source).execute(request)


_RETRYABLE_STATUS = frozenset({408, 409, 425, 429})


class GenericActionSink:
    """POSTs each action as signed JSON to the team's endpoint, with a stable Idempotency-Key."""

    name = "generic_sink"
    # The endpoint's contract: one effect per Idempotency-Key (README, "the action sink").
    resends_safely = True

    def __init__(self, url: str, secret: str, client: httpx.AsyncClient) -> None:
        if not secret.strip():  # settings refuse this first (SIGNOFF_ACTION_SECRET)
            raise ValueError("the action sink needs its own secret: actions are never unsigned")
        self._url = url
        self._secret = secret
        self._client = client

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        body = json.dumps(request.to_json(), separators=(",", ":"), default=str).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": request.idempotency_key,
            **signing.signed_headers(self._secret, body),
        }
        try:
            response = await self._client.post(self._url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RetryableError(f"action endpoint timed out: {exc.__class__.__name__}") from exc
        except httpx.TransportError as exc:
            raise RetryableError(f"action endpoint unreachable: {exc.__class__.__name__}") from exc
        status = response.status_code
        if 200 <= status < 300:
            return {
                "executor": self.name,
                "sent": True,
                "status": status,
                "response": response.text[:500],
            }
        message = f"action endpoint answered HTTP {status}: {response.text[:200]}"
        if status >= 500 or status in _RETRYABLE_STATUS:
            raise RetryableError(message, status=status)
        raise PermanentError(message, status=status)
