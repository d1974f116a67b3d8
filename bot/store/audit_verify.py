"""Walking the audit chain: every row's link and hash (HMAC for keyed rows), and the anchors.

One pass, oldest first, stops at the first problem and names the row:

* a link that does not match the row before (a row deleted or inserted);
* a row whose content does not match its hash, its keyed digest or its HMAC (a rewrite);
* an unkeyed row after the keyed chain began (a rewrite re-sealed without the key);
* a row sealed with a key this verifier does not hold (it cannot be checked: reported, never
  passed);
* content erased without an ``erased`` event naming its item (erasure is only legitimate
  through ``bot/store/audit_erasure.py``, which records one);
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
    ERASED,
    ERASED_WHOLE,
    NO_KEYS,
    AuditKey,
    AuditKeys,
    detail_mac,
    field_digests,
    fields_mac,
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
    # Rows whose personal content was erased (their facts still checked).
    erased_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None


ERASURE_EVENT = "erased"


def erased_marker(row: AuditEvent) -> object:
    """What a row's detail says was erased: a dict of field digests, ``"*"``, or ``None``."""
    return row.detail.get(ERASED) if isinstance(row.detail, dict) else None


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
        if row.detail == {ERASED: ERASED_WHOLE}:
            # An unkeyed row's hash covered its content, which is gone: only the link stays
            # checkable (anyone with database access could re-hash the unkeyed part anyway).
            return None
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
    return _keyed_problem(row, key)


def _keyed_problem(row: AuditEvent, key: AuditKey) -> str | None:
    """Format 2 when the fields' digests give the stored ``detail_mac``; else format 1, whose
    content is checkable only while it is there. The row's MAC names the format, so a row of
    one format cannot pass as the other."""
    digests = field_digests(key, row.detail)
    marker = erased_marker(row)
    if digests is not None and macs_equal(row.detail_mac, fields_mac(key, digests)):
        version, content = 2, row.detail_mac or ""
    elif marker is None:
        if not macs_equal(row.detail_mac, detail_mac(key, row.detail)):
            return "row content does not match its keyed digest (detail rewritten)"
        version, content = 1, row.detail_mac or ""
    elif marker == ERASED_WHOLE and row.detail == {ERASED: ERASED_WHOLE}:
        version, content = 1, row.detail_mac or ""
    else:
        return "row content does not match its keyed digest (detail rewritten)"
    mac = keyed_row_mac(
        key,
        row.prev_hash or "",
        row.at,
        row.item_id,
        row.actor,
        row.event,
        content,
        version=version,
    )
    if not macs_equal(row.row_hash, mac):
        return "row content does not match its HMAC (rewritten, or re-sealed without the key)"
    return None


def _erasures_covered(erased: dict[int, str | None], covered: set[str]) -> tuple[int, str] | None:
    """The first erased row no ``erased`` event accounts for, and why that is a problem."""
    for row_id, item_id in sorted(erased.items()):
        if item_id is None or item_id not in covered:
            return row_id, (
                "content erased without an erasure record naming its item (erased outside "
                "Signoff's erasure)"
            )
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
    erased: dict[int, str | None] = {}
    covered: set[str] = set()
    async for row in iter_events(session):
        count += 1
        assert row.id is not None
        problem = _row_problem(row, expected_prev, keys, keyed_from)
        if erased_marker(row) is not None:
            erased[row.id] = row.item_id
        if row.event == ERASURE_EVENT and isinstance(row.detail.get("items"), list):
            covered.update(str(item) for item in row.detail["items"])
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
    uncovered = _erasures_covered(erased, covered)
    if uncovered is not None:
        return ChainReport(count, uncovered[0], uncovered[1], last_id, keyed_from, checked)
    return ChainReport(count, None, None, last_id, keyed_from, checked, erased_rows=len(erased))
