"""What every webhook route does before its own work: read, verify, parse, validate.

Order matters: size first (never hash a 2 GB body), then the signature (never parse what an
unknown sender wrote), then JSON and the schema. Each step raises an ``InputRejectedError`` with
its HTTP status; ``answer_refusal`` is the one FastAPI exception handler that turns any of them
into the JSON answer, so no route writes its own ladder of 413/401/400.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from bot import signing
from bot.errors import BodyTooLargeError, InputRejectedError, PayloadError, SignatureError
from bot.logging_setup import get_logger
from bot.settings import Settings

log = get_logger(__name__)
Model = TypeVar("Model", bound=BaseModel)


async def read_body(request: Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; refuse early on a declared length, and while streaming for
    senders that lie about it or use chunked encoding."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLargeError(f"body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def shared_secret_verifier(request: Request, settings: Settings) -> Callable[[bytes], None]:
    """The check of Signoff's own webhooks (``/webhooks/generic``, ``/webhooks/erasure``): HMAC
    under ``SIGNOFF_WEBHOOK_SECRET``, refused with 503 while the secret is not set."""
    if settings.webhook_secret is None:
        raise InputRejectedError(
            "SIGNOFF_WEBHOOK_SECRET is not set; unsigned webhooks are refused", status=503
        )
    secret = settings.webhook_secret.get_secret_value()

    def verify(body: bytes) -> None:
        signing.verify(
            secret,
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
            signature=request.headers.get(signing.SIGNATURE_HEADER),
            body=body,
        )

    return verify


async def signed_json(request: Request, *, limit: int, verify: Callable[[bytes], None]) -> Any:
    """The body as JSON, once it is within ``limit`` and ``verify`` (which raises
    ``SignatureError``) accepted it."""
    body = await read_body(request, limit)
    try:
        verify(body)
    except SignatureError as exc:
        log.warning("webhook refused", path=request.url.path, reason=str(exc))
        raise
    return parse_json(body)


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise PayloadError(str(exc), summary="body is not valid JSON") from None


def field_problems(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as the sender reads them: which field, what is wrong."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "problem": e["msg"]}
        for e in exc.errors()
    ]


def validated(model: type[Model], payload: Any, *, summary: str) -> Model:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise PayloadError("", summary=summary, fields=field_problems(exc)) from None


async def answer_refusal(request: Request, exc: Exception) -> JSONResponse:
    """The FastAPI exception handler for ``InputRejectedError``: its status and its JSON."""
    assert isinstance(exc, InputRejectedError)
    if exc.status >= 500 or exc.status == 413:
        log.warning("request refused", path=request.url.path, status=exc.status, reason=str(exc))
    return JSONResponse(exc.answer(), status_code=exc.status)
