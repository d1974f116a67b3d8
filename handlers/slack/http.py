"""``POST /slack/events`` before Bolt sees it: bounded, verified, then checked to be readable.

Bolt's Starlette adapter reads the whole body, decodes and parses it, and only then verifies the
signature; a 64 MB unsigned body was buffered whole and a malformed signed one ended in a 500
with a stack trace. Here the steps run in the order that costs an attacker the most and Signoff
the least, the same as the webhooks (``handlers.webhooks.intake``):

1. size: refused with 413 from the declared length, or while streaming (``read_body``);
2. text: Slack sends UTF-8; anything else is refused 400 (slack_sdk's verifier decodes the
   body to sign it, so this comes first; nothing is parsed or acted on);
3. signature: slack_sdk's ``SignatureVerifier`` (the library made for it), 401 on failure;
4. shape: a JSON body, or a form whose ``payload`` is, must parse to an object: 400 otherwise,
   including JSON nested deeper than the parser's recursion limit.

Only then is the request handed to Bolt, which verifies it again as it always does. The body is
parsed once, by Bolt's own parser as it builds its request (URL-decoding a click's form was a
quarter of the ack path's CPU under load, and it was done twice); step 4 checks what it made.
"""

from __future__ import annotations

from fastapi import Request, Response
from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.errors import PayloadError, SignatureError
from bot.logging_setup import get_logger
from handlers.webhooks.intake import read_body

log = get_logger(__name__)


async def handle_slack_http(
    request: Request, app: AsyncApp, *, signing_secret: str, limit: int
) -> Response:
    """Bound, decode, verify and check one Slack request, then let Bolt dispatch it."""
    body = await read_body(request, limit)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("", summary="body is not UTF-8 text") from None
    if not _signed_by_slack(signing_secret, text, request):
        log.warning("slack request refused", reason="signature does not match or is stale")
        raise SignatureError("Slack signature does not match, or the request is stale")
    bolt_request = _parsed(request, text)
    bolt_response = await app.async_dispatch(bolt_request)
    return to_starlette_response(bolt_response)


def _signed_by_slack(secret: str, text: str, request: Request) -> bool:
    if not secret.strip():  # settings refuse a blank secret; this is the last line
        return False
    verifier = SignatureVerifier(secret)
    try:
        return verifier.is_valid(
            body=text,
            timestamp=request.headers.get("x-slack-request-timestamp"),
            signature=request.headers.get("x-slack-signature"),
        )
    except ValueError:  # a timestamp that is not a number
        return False


def _parsed(request: Request, text: str) -> AsyncBoltRequest:
    """Bolt's request for ``text``, refused with 400 unless its body parsed to an object."""
    try:
        parsed = AsyncBoltRequest(
            body=text,
            query=request.query_params,  # type: ignore[arg-type]
            headers=request.headers,  # type: ignore[arg-type]
        )
    except (ValueError, RecursionError):  # json.JSONDecodeError is a ValueError
        raise PayloadError("", summary=f"{_what(text, request)} is not valid JSON") from None
    except (AttributeError, TypeError):  # Bolt reads its context from anything but an object so
        raise PayloadError("", summary=f"{_what(text, request)} is not a JSON object") from None
    if not isinstance(parsed.body, dict):
        raise PayloadError("", summary=f"{_what(text, request)} is not a JSON object")
    return parsed


def _what(text: str, request: Request) -> str:
    """Which part was JSON: the body, or a form's ``payload`` (Bolt's rule for telling them)."""
    json_body = request.headers.get("content-type", "") == "application/json"
    return "body" if json_body or text.startswith("{") else "payload"
