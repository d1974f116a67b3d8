"""Which events belong to the same source ticket: the key stale drafts and re-drafts match on.

The vendor's ticket or conversation id when there is one, ``metadata.thread_id`` (or
``ticket_id``) for the generic webhook, else the event's own id (so an unrelated ticket never
marks another stale). Stored with each item (``item.thread_key``, indexed) when it arrives, so
finding a ticket's other events is one index lookup, however many items its customer has.
"""

from __future__ import annotations

import hashlib
from typing import Any

THREAD_KEYS = (
    "thread_id",
    "ticket_id",
    "zendesk_ticket_id",
    "intercom_conversation_id",
    "hubspot_object_id",
)
# The column's width; a longer key is stored as its digest.
MAX_KEY = 200


def thread_key(source: str, extra: dict[str, Any], external_id: str) -> str:
    key = f"{source}:id:{external_id}"
    for name in THREAD_KEYS:
        value = extra.get(name)
        if value not in (None, ""):
            key = f"{source}:{name}:{value}"
            break
    if len(key) > MAX_KEY:
        return f"{source}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"
    return key
