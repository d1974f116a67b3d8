"""The floors: what the same stack costs when it does nothing but the unavoidable part.

``slack``: a bare slack_bolt ``AsyncApp`` on FastAPI+uvicorn that verifies the signature and
acks a click or a command. ``ingest``: a bare FastAPI endpoint that verifies Signoff's HMAC and
inserts one row, through the same engine settings Signoff uses (WAL and ``BEGIN IMMEDIATE`` on
SQLite, the same pool on PostgreSQL). Signoff is reported as a ratio to these, because on a
shared, noisy machine an absolute figure alone means little.

Run as ``python -m benchmarks.floor_servers slack|ingest`` with ``PORT`` (and ``DATABASE_URL``
for ``ingest``, ``SLACK_API_URL`` for ``slack``) in the environment.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import text

from benchmarks.harness import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_SECRET
from bot import signing
from bot.errors import SignatureError
from bot.slack.card import APPROVE_ACTION
from bot.store.database import create_engine


def slack_floor() -> FastAPI:
    bolt = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=os.environ["SLACK_API_URL"]),
        signing_secret=SIGNING_SECRET,
        process_before_response=False,
    )

    @bolt.action(APPROVE_ACTION)
    async def on_approve(ack: AsyncAck) -> None:
        await ack()

    @bolt.command("/signoff")
    async def on_command(ack: AsyncAck) -> None:
        await ack()

    handler = AsyncSlackRequestHandler(bolt)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/slack/events")
    async def events(request: Request) -> Response:
        return await handler.handle(request)

    @app.get("/ready")
    async def ready() -> Response:
        return Response("ok")

    return app


def ingest_floor() -> FastAPI:
    engine = create_engine(os.environ["DATABASE_URL"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE IF NOT EXISTS bench_floor_row (id TEXT PRIMARY KEY, body TEXT)")
            )
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/generic")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        try:
            signing.verify(
                WEBHOOK_SECRET,
                timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
                signature=request.headers.get(signing.SIGNATURE_HEADER),
                body=body,
            )
        except SignatureError as exc:
            return JSONResponse({"error": str(exc)}, status_code=401)
        row_id = uuid.uuid4().hex
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO bench_floor_row (id, body) VALUES (:id, :body)"),
                {"id": row_id, "body": body.decode("utf-8", errors="replace")},
            )
        return JSONResponse({"item_id": row_id, "status": "accepted"}, status_code=202)

    @app.get("/ready")
    async def ready() -> Response:
        return Response("ok")

    return app


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    builders = {"slack": slack_floor, "ingest": ingest_floor}
    if kind not in builders:
        sys.exit("usage: python -m benchmarks.floor_servers slack|ingest")
    uvicorn.run(
        builders[kind](),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
