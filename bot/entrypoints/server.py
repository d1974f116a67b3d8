"""The ASGI app: Slack, webhooks and health on one port, with the worker and scheduler inside.

The lifespan owns start-up order: schema check, runtime, threshold seed, worker, scheduler, and
Socket Mode when an app token is set; shutdown runs it backwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from bot import __version__
from bot.assess.assessment import Classifier
from bot.assess.pii_redaction import warm_up
from bot.entrypoints.background import running_background
from bot.entrypoints.fastapi_app import signoff_api
from bot.errors import InputRejectedError
from bot.lead_settings.seed import seed_thresholds
from bot.logging_setup import get_logger
from bot.pipeline.ack_priority import AckPriority
from bot.pipeline.worker import Worker
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.store.schema_check import ensure_schema
from bot.vendors.settings import VendorSettings
from handlers import health, metrics
from handlers.slack.app import build_slack_app
from handlers.slack.http import handle_slack_http
from handlers.slack.inbox_work import INBOX_GRACE_SECONDS, InteractionInbox
from handlers.slack.listener_work import ListenerWork
from handlers.webhooks import erasure as erasure_webhook
from handlers.webhooks import generic as generic_webhook
from handlers.webhooks import vendors as vendor_webhooks
from handlers.webhooks.intake import answer_refusal

log = get_logger(__name__)


def create_app(
    settings: Settings,
    *,
    classifier: Classifier | None = None,
    vendors: VendorSettings | None = None,
) -> FastAPI:
    """``vendors`` enables the Zendesk/Intercom/HubSpot/Stripe endpoints and executors; without
    it those endpoints answer 503 naming the setting to add."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(ensure_schema, settings.database_url)
        # Build the PII analyzer now (about a second): the first card or LLM call must not wait.
        await asyncio.to_thread(warm_up)
        async with AsyncExitStack() as stack:
            rt = await stack.enter_async_context(
                open_runtime(settings, classifier=classifier, vendors=vendors)
            )
            await seed_thresholds(rt.sessions, settings)
            # Acks first: the worker and the listeners' work give way while acks are prepared.
            priority = AckPriority()
            worker = Worker(rt, ack_priority=priority)
            app.state.runtime = rt
            app.state.worker = worker
            app.state.scheduler = None
            app.state.vendor_settings = vendors
            inbox = InteractionInbox(rt, ListenerWork(priority=priority))
            slack_app = build_slack_app(rt, worker.notify, inbox)
            app.state.slack_app = slack_app
            if settings.inprocess_worker:
                app.state.scheduler = await stack.enter_async_context(
                    running_background(rt, worker, inbox_sweep=inbox.sweep)
                )
            # Runs first at shutdown: interactions already acked get their work done, or are
            # handed back for another instance to apply.
            stack.push_async_callback(inbox.close, within=INBOX_GRACE_SECONDS)
            if settings.socket_mode:
                await stack.enter_async_context(_socket_mode(slack_app, settings))
            log.info(
                "signoff started",
                version=__version__,
                port=settings.port,
                mode="socket" if settings.socket_mode else "http",
                worker="in-process" if settings.inprocess_worker else "external",
                executor=rt.executor.name,
                classifier=rt.classifier.name,
            )
            yield

    app = signoff_api("Signoff", lifespan)

    @app.post("/slack/events")
    async def slack_events(request: Request) -> Response:
        if settings.slack_signing_secret is None:
            # Socket Mode without a signing secret: nothing here could be verified, and an
            # unverified request could approve anything as anyone. Slack comes over the socket.
            return JSONResponse(
                {
                    "error": "this instance takes Slack over Socket Mode and has no "
                    "SLACK_SIGNING_SECRET: HTTP requests to /slack/events are refused"
                },
                status_code=401,
            )
        return await handle_slack_http(
            request,
            request.app.state.slack_app,
            signing_secret=settings.slack_signing_secret.get_secret_value(),
            limit=settings.max_webhook_bytes,
        )

    app.add_exception_handler(InputRejectedError, answer_refusal)
    app.include_router(generic_webhook.router)
    app.include_router(erasure_webhook.router)
    app.include_router(vendor_webhooks.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    return app


@asynccontextmanager
async def _socket_mode(slack_app: object, settings: Settings) -> AsyncIterator[None]:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(slack_app, settings.slack_app_token.get_secret_value())  # type: ignore[arg-type]
    await handler.connect_async()  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
