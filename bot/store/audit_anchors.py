"""Anchors: every audit chain's head (row id, hash, count) and the time, copied outside the
database.

Why: the key stops a database administrator from re-sealing an edited row, but not from
deleting the newest rows, which leaves a shorter chain that still verifies. A copy of the heads
kept where that person cannot write (a Slack channel, an append-only file on another volume)
lets ``audit verify`` notice: each anchored row must still be there, in its chain, with the same
hash, and with the same number of rows of that chain up to it.

One anchor seals every chain's head together (the log is several chains, ``bot/store/audit.py``):
deleting the tail of one chain, or a whole chain, leaves an anchored head missing. The heads are
listed in full rather than folded into one digest, so verify can name the chain and row that
differ. An anchor published before the chains (one head, no ``heads``) is chain 0's head: the
rows before migration 0018 are chain 0, and its count was theirs.

This module holds the store's half: the heads, the anchor file (one JSON line per anchor, opened
with ``O_APPEND`` so a writer can only add at the end) and the ``audit_anchor`` table that records
which anchors were published where (the newest head, the total count). Posting to and reading
from Slack is in ``bot/slack/audit_anchor_posts.py``; the hourly job in
``bot/pipeline/audit_anchoring.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.audit import CHAINS
from bot.store.column_types import utcnow
from bot.store.models import AuditAnchor, AuditEvent

# Verification reads at most this much of the end of the anchor file, and this many anchors.
FILE_TAIL_BYTES = 1_048_576
ANCHORS_READ = 100
_HEX = frozenset("0123456789abcdef")
_AUDIT: Table = AuditEvent.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Head:
    """Where one chain stood: its newest row, that row's hash and key, its number of rows."""

    chain: int
    row_id: int
    row_hash: str
    count: int
    key_id: str | None

    def payload(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "row_id": self.row_id,
            "row_hash": self.row_hash,
            "count": self.count,
            "key_id": self.key_id,
        }

    @classmethod
    def from_payload(cls, data: Any, chain: int | None = None) -> Head | None:
        """A head read back, or ``None`` (checked field by field: the file and the channel are
        outside Signoff's control)."""
        if not isinstance(data, Mapping):
            return None
        row_id, count, row_hash = data.get("row_id"), data.get("count"), data.get("row_hash")
        key_id = data.get("key_id")
        number = data.get("chain") if chain is None else chain
        if not (isinstance(number, int) and 0 <= number < CHAINS):
            return None
        if not (isinstance(row_id, int) and isinstance(count, int) and row_id > 0 and count > 0):
            return None
        if not (isinstance(row_hash, str) and len(row_hash) == 64 and set(row_hash) <= _HEX):
            return None
        if key_id is not None and not isinstance(key_id, str):
            return None
        return cls(number, row_id, row_hash, count, key_id)


@dataclass(frozen=True)
class Anchor:
    heads: tuple[Head, ...]
    at: datetime
    source: str = ""

    @property
    def newest(self) -> Head:
        return max(self.heads, key=lambda head: head.row_id)

    @property
    def row_id(self) -> int:
        return self.newest.row_id

    @property
    def row_hash(self) -> str:
        return self.newest.row_hash

    @property
    def key_id(self) -> str | None:
        return self.newest.key_id

    @property
    def count(self) -> int:
        """Rows in every chain anchored."""
        return sum(head.count for head in self.heads)

    def payload(self) -> dict[str, Any]:
        """What is published: no content of any row, only where each chain stood (and, on top,
        the newest row and the total, for people reading it)."""
        return {
            "row_id": self.row_id,
            "row_hash": self.row_hash,
            "count": self.count,
            "key_id": self.key_id,
            "at": self.at.isoformat(timespec="seconds"),
            "heads": [head.payload() for head in sorted(self.heads, key=lambda h: h.chain)],
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any], source: str) -> Anchor | None:
        """An anchor read back, or ``None`` when it is not one. Without ``heads`` it is one from
        before the chains: chain 0's head."""
        try:
            moment = datetime.fromisoformat(str(data.get("at")))
        except ValueError:
            return None
        listed = data.get("heads")
        if listed is None:
            legacy = Head.from_payload(data, chain=0)
            return None if legacy is None else cls((legacy,), moment, source)
        if not isinstance(listed, list) or not 0 < len(listed) <= CHAINS:
            return None
        heads = [Head.from_payload(item) for item in listed]
        chains = {head.chain for head in heads if head is not None}
        if any(head is None for head in heads) or len(chains) != len(heads):
            return None
        return cls(tuple(head for head in heads if head is not None), moment, source)


async def chain_heads(session: AsyncSession) -> Anchor | None:
    """Every chain's newest row and how many rows it holds (``None`` while the log is empty).
    One statement, so the heads are of one snapshot."""
    per_chain = (
        select(_AUDIT.c.chain, func.max(_AUDIT.c.id).label("head"), func.count().label("rows"))
        .group_by(_AUDIT.c.chain)
        .subquery()
    )
    rows = (
        await session.execute(
            select(
                per_chain.c.chain,
                per_chain.c.head,
                per_chain.c.rows,
                _AUDIT.c.row_hash,
                _AUDIT.c.key_id,
            )
            .join(_AUDIT, _AUDIT.c.id == per_chain.c.head)
            .order_by(per_chain.c.chain)
        )
    ).all()
    heads = tuple(
        Head(int(row.chain), int(row.head), row.row_hash, int(row.rows), row.key_id)
        for row in rows
        if row.row_hash is not None
    )
    return Anchor(heads, utcnow()) if heads else None


async def record_published(
    session: AsyncSession, anchor: Anchor, *, target: str, ref: str | None
) -> None:
    session.add(
        AuditAnchor(
            published_at=anchor.at,
            row_id=anchor.row_id,
            row_hash=anchor.row_hash,
            row_count=anchor.count,
            key_id=anchor.key_id,
            target=target[:100],
            ref=ref[:300] if ref else None,
        )
    )


def append_anchor_file(path: Path, anchor: Anchor) -> None:
    """One JSON line, written with ``O_APPEND`` (never seeking, never truncating) and synced.
    Blocking: call it in a thread. Mark the file append-only where the platform allows
    (``chattr +a``) so that even its owner cannot rewrite it."""
    line = (json.dumps(anchor.payload(), sort_keys=True) + "\n").encode()
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_anchor_file(path: Path, *, limit: int = ANCHORS_READ) -> list[Anchor]:
    """The newest anchors in the file (at most ``limit``, from its last megabyte); lines that are
    not anchors are skipped. Blocking: call it in a thread."""
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - FILE_TAIL_BYTES))
        tail = handle.read()
    lines = tail.decode("utf-8", errors="replace").splitlines()
    if size > FILE_TAIL_BYTES:
        lines = lines[1:]  # the first line may be cut
    anchors = []
    for line in reversed(lines):
        try:
            data = json.loads(line)
        except ValueError:
            continue
        anchor = Anchor.from_payload(data, f"file {path}") if isinstance(data, dict) else None
        if anchor is not None:
            anchors.append(anchor)
        if len(anchors) >= limit:
            break
    return anchors
