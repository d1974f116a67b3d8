"""Walking the audit chains: every row's link and hash (HMAC for keyed rows), and the anchors.

One pass over the whole log, oldest first (within a chain, id order is append order: a chain's
lock is held from reading its head to commit), each row checked against the row before it in
its own chain. It stops at the first problem and names the row:

* a link that does not match the row before in its chain (a row deleted or inserted);
* a row whose content does not match its hash, its keyed digest or its HMAC (a rewrite);
* an unkeyed row after the keyed chain began (a rewrite re-sealed without the key);
* a row sealed with a key this verifier does not hold (it cannot be checked: reported, never
  passed);
* content erased without an ``erased`` event naming its item (erasure is only legitimate
  through ``bot/store/audit_erasure.py``, which records one);
* an anchored head whose row is missing (deleted tail rows of that chain, or the whole chain),
  is in another chain, whose hash differs (a rewrite re-sealed consistently: possible only on the
  unkeyed part, or with the key), or whose chain's count differs (rows deleted before it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.audit import GENESIS, iter_events
from bot.store.audit_anchors import Anchor, Head
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
    # Chains holding at least one row.
    chains: int = 0

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


def _where(anchor: Anchor) -> str:
    return f"the anchor of {anchor.at.isoformat(timespec='seconds')} ({anchor.source})"


def _anchor_problem(anchor: Anchor, head: Head, row: AuditEvent, count: int) -> str | None:
    where = _where(anchor)
    if row.chain != head.chain:
        return f"row is in chain {row.chain}, {where} has it as chain {head.chain}'s head"
    if row.row_hash != head.row_hash or row.key_id != head.key_id:
        return f"row differs from {where}: the log was rewritten at or before this row"
    if count != head.count:
        return (
            f"{count} rows of chain {head.chain} up to this row, {where} counted {head.count}: "
            "rows were deleted or inserted before it"
        )
    return None


def _checked(anchors: list[Anchor], unmet: dict[int, list[tuple[Anchor, Head]]]) -> int:
    """Anchors every head of which the walk met (and found as anchored)."""
    pending = {id(anchor) for waiting in unmet.values() for anchor, _ in waiting}
    return sum(1 for anchor in anchors if id(anchor) not in pending)


@dataclass
class _Walk:
    """Where each chain stands so far."""

    prev: defaultdict[int, str] = field(default_factory=lambda: defaultdict(lambda: GENESIS))
    count: defaultdict[int, int] = field(default_factory=lambda: defaultdict(int))
    last: dict[int, int] = field(default_factory=dict)


def _missing_head(walk: _Walk, anchor: Anchor, head: Head) -> tuple[int | None, str, bool]:
    """An anchored head the walk never met: (row to name, problem, whether a tail is missing)."""
    where, chain = _where(anchor), head.chain
    last = walk.last.get(chain)
    if last is not None and head.row_id <= last:
        return (
            head.row_id,
            f"row {head.row_id}, named by {where}, is missing: rows were deleted",
            False,
        )
    ends = (
        f"row {last} ({walk.count[chain]} rows)"
        if last is not None
        else "no row at all: the whole chain was deleted"
    )
    problem = (
        f"missing tail: {where} names row {head.row_id} as the head of chain {chain} "
        f"({head.count} rows), but chain {chain} ends at {ends}: rows were deleted"
    )
    return None, problem, True


async def verify_chain(
    session: AsyncSession, keys: AuditKeys = NO_KEYS, anchors: Iterable[Anchor] = ()
) -> ChainReport:
    by_row: defaultdict[int, list[tuple[Anchor, Head]]] = defaultdict(list)
    listed = list(anchors)
    for anchor in listed:
        for head in anchor.heads:
            by_row[head.row_id].append((anchor, head))
    walk = _Walk()
    rows = 0
    keyed_from: int | None = None
    last_id: int | None = None
    erased: dict[int, str | None] = {}
    covered: set[str] = set()
    async for row in iter_events(session):
        rows += 1
        assert row.id is not None
        chain = row.chain
        walk.count[chain] += 1
        problem = _row_problem(row, walk.prev[chain], keys, keyed_from)
        if erased_marker(row) is not None:
            erased[row.id] = row.item_id
        if row.event == ERASURE_EVENT and isinstance(row.detail.get("items"), list):
            covered.update(str(item) for item in row.detail["items"])
        for anchor, head in by_row.pop(row.id, []) if problem is None else []:
            problem = problem or _anchor_problem(anchor, head, row, walk.count[head.chain])
        if problem is not None:
            return ChainReport(rows, row.id, problem, last_id, keyed_from, _checked(listed, by_row))
        if row.key_id is not None and keyed_from is None:
            keyed_from = row.id
        walk.prev[chain] = row.row_hash or ""
        walk.last[chain] = row.id
        last_id = row.id
    if by_row:
        anchor, head = by_row[min(by_row)][0]
        bad, problem, tail = _missing_head(walk, anchor, head)
        checked = _checked(listed, by_row)
        return ChainReport(rows, bad, problem, last_id, keyed_from, checked, missing_tail=tail)
    uncovered = _erasures_covered(erased, covered)
    if uncovered is not None:
        return ChainReport(rows, uncovered[0], uncovered[1], last_id, keyed_from, len(listed))
    return ChainReport(
        rows,
        None,
        None,
        last_id,
        keyed_from,
        len(listed),
        erased_rows=len(erased),
        chains=len(walk.last),
    )
