"""Web API request bodies decoded the way Slack decodes them, for whatever serves the workspace.

The sandbox's app and the tests' fake Slack both take slack_sdk's requests (JSON, or a form whose
``blocks``/``view``/… fields are JSON text), so both decode them here, identically.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

# Params that slack_sdk (or a form-encoding caller) may send as JSON text.
_JSON_STRING_PARAMS = ("blocks", "attachments", "view", "metadata")


def decode_params(raw: bytes, content_type: str) -> dict[str, Any]:
    """Decode a JSON or form body the way Slack would; unknown bodies are kept under `_raw`."""
    if not raw:
        return {}
    text = raw.decode("utf-8", errors="replace")
    if "json" in content_type.lower():
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError:
            return {"_raw": text}
        return decoded if isinstance(decoded, dict) else {"_json": decoded}
    if "multipart/" in content_type.lower():
        return {"_raw": text}
    params: dict[str, Any] = dict(parse_qsl(text, keep_blank_values=True))
    for key in _JSON_STRING_PARAMS:
        value = params.get(key)
        if isinstance(value, str):
            params[key] = maybe_json(value)
    return params


def maybe_json(value: str) -> object:
    """Return the parsed list/dict when `value` is JSON text for one, else the string itself."""
    try:
        decoded = json.loads(value)
    except json.JSONDecodeError:
        return value
    return decoded if isinstance(decoded, (list, dict)) else value
