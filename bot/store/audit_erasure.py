"""Erasing the personal content of an item's audit rows without breaking the chain.

A row keeps its facts in clear: when, which item, who (the actor is a Slack user or ``auto``,
never the customer), the event, and the detail fields in ``FACTS`` (policy, decision, approvers,
amounts, risk, outcome). Every other detail field is personal or may be (texts, reasons typed by
people, vendor errors, hashes of the ticket's content): an allow-list, so a field added later is
erased until someone decides it is a fact.

* Format 2 rows (keyed, every row written now): each erased field is replaced by its keyed
  digest under ``_erased``, so ``audit verify`` still checks the facts kept and the row's MAC.
* Format 1 rows (the first keyed rows) and unkeyed rows: their digest covers the whole detail,
  so the whole detail becomes ``{"_erased": "*"}``; the row's own MAC (keyed) or link (unkeyed)
  stays checkable.

The migration 0015 trigger allows only this UPDATE (every other column unchanged, an erasure
marker present); ``audit verify`` refuses an erased row that no ``erased`` event names.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.audit import current_key
from bot.store.audit_keys import (
    ERASED,
    ERASED_WHOLE,
    AuditKey,
    field_digest,
    field_digests,
    fields_mac,
)
from bot.store.models import AuditEvent

_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]

# Detail fields that are facts of a decision, never the customer's content.
FACTS = frozenset(
    {
        "actor", "after_edit", "approvals", "approvers", "attempt", "attempts", "bucket",
        "cache_hit", "cached_tokens", "category", "change_id", "channel", "classifier",
        "completion_tokens", "decision_id", "edit_examples", "edited", "evidence", "good",
        "idempotency_key", "into", "items", "key", "key_id", "latency_seconds", "lead",
        "leads", "llm_model", "material", "model_risk", "new", "newer_item", "newer_items",
        "number", "old", "old_card_ts", "outcome", "policy", "prompt_sha256",
        "prompt_tokens", "prompt_version", "reason_code", "redactions", "required", "resend",
        "retry_in_seconds", "risk", "risk_after", "risk_before", "risk_level", "rule_floor",
        "source", "threshold_policy", "ts", "version", "waited", "would_auto",
    }
)  # fmt: skip


def erased_detail(
    detail: dict[str, Any], keys_current: AuditKey | None, key_id: str | None
) -> dict[str, Any]:
    """``detail`` with its personal fields erased, in the row's format (see module doc)."""
    if ERASED in detail and detail[ERASED] == ERASED_WHOLE:
        return detail
    if key_id is None or keys_current is None or keys_current.key_id != key_id:
        return {ERASED: ERASED_WHOLE}
    digests = field_digests(keys_current, detail)
    if digests is None:
        return {ERASED: ERASED_WHOLE}
    gone = {name: value for name, value in detail.items() if name != ERASED and name not in FACTS}
    if not gone:
        return detail
    kept = {name: value for name, value in detail.items() if name in FACTS}
    marker = dict(detail.get(ERASED, {}))
    marker.update({name: field_digest(keys_current, name, value) for name, value in gone.items()})
    return {**kept, ERASED: marker}


def _is_format_two(row: Any, key: AuditKey) -> bool:
    digests = field_digests(key, row.detail)
    return digests is not None and row.detail_mac == fields_mac(key, digests)


async def erase_audit_content(session: AsyncSession, item_ids: Collection[str]) -> int:
    """Erase the personal content of every audit row of ``item_ids``; returns rows changed.

    A row sealed with a key this process does not hold (an older key after a rotation) loses
    its whole detail: its field digests cannot be recomputed here.
    """
    if not item_ids:
        return 0
    key = current_key(session)
    rows = (
        await session.execute(
            select(_AUDIT.c.id, _AUDIT.c.detail, _AUDIT.c.key_id, _AUDIT.c.detail_mac)
            .where(_AUDIT.c.item_id.in_(list(item_ids)))
            .order_by(_AUDIT.c.id)
        )
    ).all()
    changed = 0
    for row in rows:
        detail = row.detail if isinstance(row.detail, dict) else {}
        usable = key if key is not None and row.key_id == key.key_id else None
        if usable is not None and not _is_format_two(row, usable):
            usable = None  # format 1: its digest covers the whole detail
        erased = erased_detail(detail, usable, row.key_id)
        if erased == detail:
            continue
        await session.execute(update(_AUDIT).where(_AUDIT.c.id == row.id).values(detail=erased))
        changed += 1
    return changed
