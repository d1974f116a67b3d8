"""The local workspace's HTTP side: the page, the page's own JSON API, Slack's Web API at
``/api/`` and the ``response_url`` endpoint, plus :func:`one_port`, which puts the bot's app and
the workspace on one address.

One port because it is one thing to a person (one URL printed), and because the bot's
``/slack/events`` is then exactly the endpoint the page's clicks reach. Requests from the page
must be JSON: another web site cannot post JSON to 127.0.0.1 without a CORS preflight this app
never answers, so a page elsewhere cannot act as the sandbox's people.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.errors import SignoffError
from bot.sandbox.interactions import Sandbox
from bot.sandbox.page_state import person_state
from bot.sandbox.params import decode_params

_STATIC = {
    "sandbox.js": "text/javascript; charset=utf-8",
    "sandbox.css": "text/css; charset=utf-8",
}
# Paths the bot's app serves; everything else is the workspace's.
BOT_PATHS = ("/slack/", "/webhooks/", "/healthz", "/readyz", "/metrics")


def _static(name: str) -> str:
    return resources.files("bot.sandbox").joinpath("static", name).read_text(encoding="utf-8")


def _bearer(header: str | None) -> str | None:
    scheme, _, value = (header or "").strip().partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


class PageError(SignoffError):
    """A page request the sandbox cannot act on (400, with the reason)."""


async def _json_body(request: Request) -> dict[str, Any]:
    if "application/json" not in request.headers.get("content-type", ""):
        raise PageError("the page's requests are JSON")
    try:
        body = await request.json()
    except ValueError:
        raise PageError("not JSON") from None
    if not isinstance(body, dict):
        raise PageError("expected a JSON object")
    return body


def create_sandbox_app(sandbox: Sandbox) -> FastAPI:
    app = FastAPI(title="Signoff sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    config = sandbox.config

    @app.exception_handler(PageError)
    async def refused(request: Request, exc: PageError) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=400)

    async def acting(request: Request) -> tuple[str, dict[str, Any]]:
        body = await _json_body(request)
        user = str(body.get("user") or "")
        if not sandbox.knows(user):
            raise PageError("choose who acts (user) from the workspace's people")
        return user, body

    @app.get("/")
    async def page() -> HTMLResponse:
        return HTMLResponse(_static("index.html"))

    @app.get("/static/{name}")
    async def static(name: str) -> Response:
        if name not in _STATIC:
            return Response(status_code=404)
        return Response(_static(name), media_type=_STATIC[name])

    @app.get("/sandbox/info")
    async def info() -> dict[str, Any]:
        return {
            "team": "Sandbox",
            "channel": config.channel,
            "channel_name": config.channel_name,
            "people": [{"id": p.id, "name": p.name, "role": p.role} for p in config.personas],
        }

    @app.get("/sandbox/state")
    async def state(user: str, since: int = -1) -> dict[str, Any]:
        if not sandbox.knows(user):
            raise PageError("unknown user")
        if since == sandbox.workspace.version:
            return {"version": since}
        return person_state(sandbox.workspace, config.channel, user)

    @app.post("/sandbox/click")
    async def click(request: Request) -> dict[str, Any]:
        user, body = await acting(request)
        return await sandbox.click(
            user,
            block_id=str(body.get("block_id") or ""),
            action_id=str(body.get("action_id") or ""),
            channel=body.get("channel") or None,
            ts=body.get("ts") or None,
            view_id=body.get("view_id") or None,
        )

    @app.post("/sandbox/submit")
    async def submit(request: Request) -> dict[str, Any]:
        user, body = await acting(request)
        values = body.get("values")
        typed = {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}
        return await sandbox.submit(user, str(body.get("view_id") or ""), typed)

    @app.post("/sandbox/close")
    async def close(request: Request) -> dict[str, Any]:
        user, body = await acting(request)
        sandbox.close(user, str(body.get("view_id") or ""))
        return {"status": 200}

    @app.post("/sandbox/command")
    async def command(request: Request) -> dict[str, Any]:
        user, body = await acting(request)
        text = str(body.get("text") or "").strip()
        text = text.removeprefix("/signoff").strip()
        return await sandbox.command(user, text)

    @app.post("/sandbox/home")
    async def home(request: Request) -> dict[str, Any]:
        user, _ = await acting(request)
        return await sandbox.open_home(user)

    @app.post("/sandbox/ticket")
    async def ticket(request: Request) -> dict[str, Any]:
        body = await _json_body(request)
        return await sandbox.post_ticket(sandbox.ticket_from_form(body))

    @app.api_route("/api/{method}", methods=["GET", "POST"])
    async def web_api(method: str, request: Request) -> dict[str, Any]:
        """Slack's Web API, for the bot: a wrong token is refused as Slack refuses it."""
        params: dict[str, Any] = dict(request.query_params)
        params.update(decode_params(await request.body(), request.headers.get("content-type", "")))
        token = _bearer(request.headers.get("authorization")) or params.pop("token", None)
        if not token:
            return {"ok": False, "error": "not_authed"}
        if token != config.bot_token:
            return {"ok": False, "error": "invalid_auth"}
        return sandbox.workspace.answer(method, params)

    @app.post("/upload/{file_id}")
    async def upload(file_id: str, request: Request) -> Response:
        """Where ``files.getUploadURLExternal`` sends the bot to post a file's bytes."""
        raw = await request.body()
        if not sandbox.workspace.receive_upload(file_id, raw):
            return Response("unknown_upload", status_code=404)
        return Response(f"OK - {len(raw)}")

    @app.post("/response/{token}")
    async def response_url(token: str, request: Request) -> Response:
        body = decode_params(await request.body(), request.headers.get("content-type", ""))
        if not sandbox.respond(token, body):
            return Response("no_service", status_code=404)
        return Response("ok")

    return app


def one_port(bot_app: ASGIApp, workspace_app: ASGIApp) -> ASGIApp:
    """Route the bot's paths to the bot and the rest to the workspace; the lifespan (start-up:
    schema check, worker, scheduler) is the bot's."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await bot_app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        target = bot_app if path.startswith(BOT_PATHS) else workspace_app
        await target(scope, receive, send)

    return app
