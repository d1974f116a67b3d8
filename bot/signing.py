"""Signoff's own HMAC scheme, shared by the inbound generic webhook and the outbound action sink.

``X-Signoff-Signature: v1=<hex HMAC-SHA256(secret, "v1:{timestamp}:{raw body}")>`` with
``X-Signoff-Timestamp`` in unix seconds. The timestamp is inside the MAC and checked against a
five-minute window so a captured request cannot be replayed later. Vendor schemes (Slack, Stripe,
…) are verified by their own libraries; this one is ours, so the standard library's ``hmac`` is the
tool made for it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.errors import SignatureError

TIMESTAMP_HEADER = "X-Signoff-Timestamp"
SIGNATURE_HEADER = "X-Signoff-Signature"
MAX_AGE_SECONDS = 300


def signatures_match(expected: str, received: str) -> bool:
    """Constant-time comparison that also survives a header with non-ASCII characters (which
    ``hmac.compare_digest`` refuses on ``str`` with a TypeError, i.e. a 500 instead of a 401)."""
    return hmac.compare_digest(expected.encode(), received.strip().encode("utf-8", "replace"))


def require_key(secret: str) -> None:
    """Refuse to verify with an empty key: anyone can compute an HMAC under it, so a request
    "signed" that way proves nothing. Settings already treat a blank secret as unset; this is
    the last line, in every verify function."""
    if not secret.strip():
        raise SignatureError("no signing secret is configured, so no request can be verified")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    if not secret.strip():
        raise ValueError("refusing to sign with an empty key")
    message = b"v1:" + str(timestamp).encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise ``SignatureError`` unless the signature is valid and the timestamp is fresh."""
    signature, timestamp = _SCHEME.check(secret, signature, timestamp, now=now)
    require_match(sign(secret, int(timestamp), body), signature)


@dataclass(frozen=True)
class TimedSignature:
    """A scheme that signs a time (ours, Zendesk's, HubSpot's): where its signature and timestamp
    arrive, and how its timestamp reads as unix seconds (``what`` names the format in refusals).
    :meth:`check` makes the checks all of them make before their MAC."""

    signature_header: str
    timestamp_header: str
    seconds: Callable[[str], float]
    what: str

    def check(
        self, secret: str, signature: str | None, timestamp: str | None, *, now: float | None
    ) -> tuple[str, str]:
        """A key, both headers present, a timestamp that reads within five minutes of now; the
        signature and the timestamp as sent (stripped), for the MAC."""
        require_key(secret)
        if not timestamp or not signature:
            raise SignatureError(
                f"missing {self.signature_header} or {self.timestamp_header} header"
            )
        timestamp = timestamp.strip()
        try:
            sent_at = self.seconds(timestamp)
        except ValueError:
            raise SignatureError(f"{self.timestamp_header} is not {self.what}") from None
        require_fresh(sent_at, now=now)
        return signature, timestamp


_SCHEME = TimedSignature(SIGNATURE_HEADER, TIMESTAMP_HEADER, int, "a unix timestamp")


def require_fresh(sent_at: float, *, now: float | None = None) -> None:
    """Raise ``SignatureError`` unless ``sent_at`` (unix seconds) is within five minutes of now,
    either way: the replay window of Signoff's scheme, also applied to vendors that sign a time."""
    current = time.time() if now is None else now
    if abs(current - sent_at) > MAX_AGE_SECONDS:
        raise SignatureError("timestamp is more than 5 minutes away from now")


def require_match(expected: str, received: str) -> None:
    """Raise ``SignatureError`` unless ``received`` is ``expected`` (compared in constant time)."""
    if not signatures_match(expected, received):
        raise SignatureError("signature does not match")
