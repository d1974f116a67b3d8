"""The floors: what the same stack costs when it does nothing but the unavoidable part.

``slack``: a bare slack_bolt ``AsyncApp`` on FastAPI+uvicorn that verifies the signature and
acks a click or a command. ``ingest_raw``: the physical floor of ingest, a bare FastAPI endpoint
that verifies Signoff's HMAC and runs one ``INSERT`` per request straight through ``asyncpg``
(PostgreSQL only), with no ORM, no engine and no pool logic of Signoff's. ``ingest``: the same
endpoint through the engine Signoff builds (WAL and ``BEGIN IMMEDIATE`` on SQLite, the same pool
on PostgreSQL): the engine floor, which measures Signoff against its own stack and is kept as a
second line. Signoff is reported as a ratio to these, because on a shared, noisy machine an
absolute figure alone means little.

Run as ``python -m benchmarks.floor_servers slack|ingest|ingest_raw`` with ``PORT`` (and
``DATABASE_URL`` for the ingest floors, ``SLACK_API_URL`` for ``slack``) in the environment.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg  # type: ignore[import-untyped]
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


_FLOOR_TABLE = "CREATE TABLE IF NOT EXISTS bench_floor_row (id TEXT PRIMARY KEY, body TEXT)"
# The same pool size Signoff's engine gets on PostgreSQL (``bot/store/database.py``: 10 + 20).
_RAW_POOL = 30


def _verified(request: Request, body: bytes) -> JSONResponse | None:
    """Signoff's own HMAC check; an answer only when it fails."""
    try:
        signing.verify(
            WEBHOOK_SECRET,
            timestamp=request.headers.get(signing.TIMESTAMP_HEADER),
            signature=request.headers.get(signing.SIGNATURE_HEADER),
            body=body,
        )
    except SignatureError as exc:
        return JSONResponse({"error": str(exc)}, status_code=401)
    return None


# Stores one row (id, body); the two ingest floors differ only in this.
Insert = Callable[[str, str], Awaitable[None]]


def _ingest_app(lifespan: Any, insert: Insert) -> FastAPI:
    """The ingest floor's endpoint: verify the HMAC, insert one row, answer 202."""
    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/generic")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        refused = _verified(request, body)
        if refused is not None:
            return refused
        row_id = uuid.uuid4().hex
        await insert(row_id, body.decode("utf-8", errors="replace"))
        return JSONResponse({"item_id": row_id, "status": "accepted"}, status_code=202)

    @app.get("/ready")
    async def ready() -> Response:
        return Response("ok")

    return app


def ingest_raw_floor() -> FastAPI:
    """One ``INSERT`` per request through ``asyncpg``'s own pool: what the driver alone costs."""
    dsn = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
    pools: list[Any] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=_RAW_POOL)
        await pool.execute(_FLOOR_TABLE)
        pools.append(pool)
        yield
        await pool.close()

    async def insert(row_id: str, body: str) -> None:
        await pools[0].execute(
            "INSERT INTO bench_floor_row (id, body) VALUES ($1, $2)", row_id, body
        )

    return _ingest_app(lifespan, insert)


def ingest_floor() -> FastAPI:
    """The same endpoint through the engine Signoff builds."""
    engine = create_engine(os.environ["DATABASE_URL"])

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.execute(text(_FLOOR_TABLE))
        yield
        await engine.dispose()

    async def insert(row_id: str, body: str) -> None:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO bench_floor_row (id, body) VALUES (:id, :body)"),
                {"id": row_id, "body": body},
            )

    return _ingest_app(lifespan, insert)


def main() -> None:
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    builders = {"slack": slack_floor, "ingest": ingest_floor, "ingest_raw": ingest_raw_floor}
    if kind not in builders:
        sys.exit("usage: python -m benchmarks.floor_servers slack|ingest|ingest_raw")
    uvicorn.run(
        builders[kind](),
        host="127.0.0.1",
        port=int(os.environ["PORT"]),
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
