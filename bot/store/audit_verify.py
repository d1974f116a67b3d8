"""Walking the audit chain: every row's link and hash (HMAC for keyed rows), and the anchors.

One pass, oldest first, stops at the first problem and names the row:

* a link that does not match the row before (a row deleted or inserted);
* a row whose content does not match its hash, its keyed digest or its HMAC (a rewrite);
* an unkeyed row after the keyed chain began (a rewrite re-sealed without the key);
* a row sealed with a key this verifier does not hold (it cannot be checked: reported, never
  passed);
* an anchor whose row is missing (deleted tail rows), whose hash differs (a rewrite re-sealed
  consistently: possible only on the unkeyed part, or with the key), or whose count differs
  (rows deleted before it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.audit import GENESIS, iter_events
from bot.store.audit_anchors import Anchor
from bot.store.audit_keys import (
    NO_KEYS,
    AuditKeys,
    detail_mac,
    keyed_row_mac,
    legacy_hash,
    macs_equal,
)
from bot.store.models import AuditEvent


@dataclass(frozen=True)
class ChainReport:
    rows: int
    first_bad_id: int | None
    problem: str | None
    last_id: int | None = None
    keyed_from: int | None = None
    anchors_checked: int = 0
    missing_tail: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None


def _row_problem(
    row: AuditEvent, expected_prev: str, keys: AuditKeys, keyed_from: int | None
) -> str | None:
    if row.prev_hash != expected_prev:
        return "previous-hash link does not match the row before (a row was deleted or inserted)"
    if row.key_id is None:
        if keyed_from is not None:
            return (
                f"unkeyed row after the keyed chain began at row {keyed_from}: rewritten and "
                "re-sealed without the key"
            )
        recomputed = legacy_hash(
            row.prev_hash, row.at, row.item_id, row.actor, row.event, row.detail
        )
        return None if row.row_hash == recomputed else "row content does not match its hash"
    key = keys.find(row.key_id)
    if key is None:
        return (
            f"sealed with key {row.key_id}, which this verifier does not hold (set "
            "SIGNOFF_AUDIT_KEY, and SIGNOFF_AUDIT_PREVIOUS_KEYS after a rotation): cannot verify"
        )
    content = detail_mac(key, row.detail)
    if not macs_equal(row.detail_mac, content):
        return "row content does not match its keyed digest (detail rewritten)"
    mac = keyed_row_mac(key, row.prev_hash, row.at, row.item_id, row.actor, row.event, content)
    if not macs_equal(row.row_hash, mac):
        return "row content does not match its HMAC (rewritten, or re-sealed without the key)"
    return None


def _anchor_problem(anchor: Anchor, row: AuditEvent, count: int) -> str | None:
    where = f"the anchor of {anchor.at.isoformat(timespec='seconds')} ({anchor.source})"
    if row.row_hash != anchor.row_hash or row.key_id != anchor.key_id:
        return f"row differs from {where}: the log was rewritten at or before this row"
    if count != anchor.count:
        return (
            f"{count} rows up to this row, {where} counted {anchor.count}: rows were "
            "deleted or inserted before it"
        )
    return None


async def verify_chain(
    session: AsyncSession, keys: AuditKeys = NO_KEYS, anchors: Iterable[Anchor] = ()
) -> ChainReport:
    by_row: defaultdict[int, list[Anchor]] = defaultdict(list)
    for anchor in anchors:
        by_row[anchor.row_id].append(anchor)
    expected_prev = GENESIS
    count = 0
    checked = 0
    keyed_from: int | None = None
    last_id: int | None = None
    async for row in iter_events(session):
        count += 1
        assert row.id is not None
        problem = _row_problem(row, expected_prev, keys, keyed_from)
        for anchor in by_row.pop(row.id, []) if problem is None else []:
            checked += 1
            problem = problem or _anchor_problem(anchor, row, count)
        if problem is not None:
            return ChainReport(count, row.id, problem, last_id, keyed_from, checked)
        if row.key_id is not None and keyed_from is None:
            keyed_from = row.id
        expected_prev = row.row_hash or ""
        last_id = row.id
    if by_row:
        gone = min(by_row)
        anchor = by_row[gone][0]
        where = f"the anchor of {anchor.at.isoformat(timespec='seconds')} ({anchor.source})"
        if last_id is not None and gone <= last_id:
            problem = f"row {gone}, named by {where}, is missing: rows were deleted"
            return ChainReport(count, gone, problem, last_id, keyed_from, checked)
        ends = f"row {last_id}" if last_id is not None else "no row at all"
        problem = (
            f"missing tail: {where} names row {gone} ({anchor.count} rows), but the log ends "
            f"at {ends} ({count} rows): rows were deleted"
        )
        return ChainReport(count, None, problem, last_id, keyed_from, checked, missing_tail=True)
    return ChainReport(count, None, None, last_id, keyed_from, checked)
