"""The Slack Web API client Signoff uses everywhere, with retries that slack_sdk leaves off.

slack_sdk retries only connection errors by default; a 429 must be retried after ``Retry-After``
and a 5xx after a short back-off, or a busy Slack drops our cards on the floor. Each retry is
counted so ``/metrics`` shows when Slack pushes back.

Without a ``session`` slack_sdk opens (and closes) an aiohttp session for every call, so every
card, update and ephemeral answer paid for a new TCP and TLS connection to Slack; the runtime
passes one session for its lifetime, and Bolt hands it on to each request's client.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import FormData
from prometheus_client import Counter
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.settings import Settings
from bot.slack.pacing import ChannelPacer


def _retry_after(response: HttpResponse | None) -> float:
    if response is None:
        return 1.0
    for key, value in response.headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return float(raw)
            except ValueError:
                return 1.0
    return 1.0


class PacedRateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Retries a 429 after ``Retry-After`` like slack_sdk's handler, and first tells the
    runtime's pacer, so the posts queued behind this one wait too instead of each earning its
    own 429 (another instance or app used the rate)."""

    def __init__(self, pacer: ChannelPacer | None, max_retry_count: int) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._pacer = pacer

    async def prepare_for_next_attempt_async(self, **kwargs: Any) -> None:
        request: HttpRequest = kwargs["request"]
        if self._pacer is not None and request.url.endswith("chat.postMessage"):
            self._pacer.hold(_retry_after(kwargs.get("response")))
        await super().prepare_for_next_attempt_async(**kwargs)


def _counted(handler: AsyncRetryHandler, counter: Counter, reason: str) -> AsyncRetryHandler:
    original = handler.prepare_for_next_attempt_async

    async def prepare(**kwargs: Any) -> None:
        counter.labels(reason).inc()
        await original(**kwargs)

    handler.prepare_for_next_attempt_async = prepare  # type: ignore[method-assign]
    return handler


class SignoffWebClient(AsyncWebClient):
    """slack_sdk's client, whose calls fail with slack_sdk's own errors only.

    Once its connection retry gives up, slack_sdk lets aiohttp's errors through as they are (a
    refused connection, a timeout). Every caller already treats ``SlackClientError`` as "Slack
    could not be reached, try later", so the transport's errors become one here, at the single
    entry point of every Web API method, instead of in each caller's ``except`` (a refused
    connection at shutdown once escaped the card poster with a traceback)."""

    async def api_call(
        self,
        api_method: str,
        *,
        http_verb: str = "POST",
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | FormData | None = None,
        params: dict[str, Any] | None = None,
        json: dict[str, Any] | None = None,
        headers: dict[str, Any] | None = None,
        auth: dict[str, Any] | None = None,
    ) -> AsyncSlackResponse:
        try:
            return await super().api_call(
                api_method,
                http_verb=http_verb,
                files=files,
                data=data,
                params=params,
                json=json,
                headers=headers,
                auth=auth,
            )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise SlackClientError(f"{api_method}: Slack could not be reached ({exc!r})") from exc


# slack_sdk's per-call timeout does not apply to a session passed in: the session carries it.
TIMEOUT_SECONDS = 10


def open_slack_session() -> aiohttp.ClientSession:
    """One keep-alive session for every Web API call of a runtime (call inside its loop)."""
    return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))


def build_slack_client(
    settings: Settings,
    retries: Counter | None = None,
    *,
    session: aiohttp.ClientSession | None = None,
    pacer: ChannelPacer | None = None,
) -> AsyncWebClient:
    """The client every Slack call goes through; ``pacer`` is told of each 429 on a post."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    handlers: list[tuple[AsyncRetryHandler, str]] = [
        (AsyncConnectionErrorRetryHandler(max_retry_count=2), "connection_error"),
        (PacedRateLimitRetryHandler(pacer, max_retry_count=3), "rate_limited"),
        (AsyncServerErrorRetryHandler(max_retry_count=2), "server_error"),
    ]
    return SignoffWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=TIMEOUT_SECONDS,
        session=session,
        retry_handlers=[
            _counted(handler, retries, reason) if retries is not None else handler
            for handler, reason in handlers
        ],
    )
