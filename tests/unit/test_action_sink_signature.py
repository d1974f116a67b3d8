"""The action sink's known-answer example in docs/connectors.md is what Signoff really sends.

The test reads the example from the document itself, so the two cannot drift apart: the body is
the one ``GenericActionSink`` serialises for the same request, the signature is the one
``bot.signing`` makes (and the independent test signer agrees), and the body carries the
idempotency key the header carries.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import signing
from bot.actions.sink import ActionRequest
from bot.errors import SignatureError
from tests.support.signatures import generic_signature

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"


def _known_answer() -> dict[str, str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```text\nsecret:", 1)[1].split("```", 1)[0]
    lines = ("secret:" + block).strip().splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def test_the_documented_signature_is_the_one_signoff_makes() -> None:
    known = _known_answer()
    body = known["body"].encode()
    timestamp = int(known["timestamp"])
    assert signing.sign(known["secret"], timestamp, body) == known["signature"]
    assert generic_signature(known["secret"], known["timestamp"], body) == known["signature"]
    signing.verify(
        known["secret"],
        timestamp=known["timestamp"],
        signature=known["signature"],
        body=body,
        now=timestamp + 10,
    )


def test_the_documented_body_is_what_the_sink_serialises() -> None:
    known = _known_answer()
    payload = json.loads(known["body"])
    request = ActionRequest(**payload)
    sent = json.dumps(request.to_json(), separators=(",", ":"), default=str)
    assert sent == known["body"]
    assert payload["idempotency_key"] == request.idempotency_key


def test_a_new_idempotency_key_breaks_the_signature() -> None:
    """Replaying a captured action under a new key means changing the signed body."""
    known = _known_answer()
    replayed = known["body"].replace("signoff-itm_0f3c2a-1", "signoff-itm_0f3c2a-2").encode()
    with pytest.raises(SignatureError, match="does not match"):
        signing.verify(
            known["secret"],
            timestamp=known["timestamp"],
            signature=known["signature"],
            body=replayed,
            now=int(known["timestamp"]),
        )
