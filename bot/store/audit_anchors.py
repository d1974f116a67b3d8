"""Anchors: the audit chain's head (row id, hash, count, time) copied outside the database.

Why: the key stops a database administrator from re-sealing an edited row, but not from
deleting the newest rows, which leaves a shorter chain that still verifies. A copy of the head
kept where that person cannot write (a Slack channel, an append-only file on another volume)
lets ``audit verify`` notice: the anchored row must still be there, with the same hash, and with
the same number of rows up to it.

This module holds the store's half: the head, the anchor file (one JSON line per anchor, opened
with ``O_APPEND`` so a writer can only add at the end) and the ``audit_anchor`` table that records
which anchors were published where. Posting to and reading from Slack is in
``bot/slack/audit_anchor_posts.py``; the hourly job in ``bot/pipeline/audit_anchoring.py``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.column_types import utcnow
from bot.store.models import AuditAnchor, AuditEvent

# Verification reads at most this much of the end of the anchor file, and this many anchors.
FILE_TAIL_BYTES = 1_048_576
ANCHORS_READ = 100
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Anchor:
    row_id: int
    row_hash: str
    count: int
    key_id: str | None
    at: datetime
    source: str = ""

    def payload(self) -> dict[str, Any]:
        """What is published: no content of any row, only where the chain stood."""
        return {
            "row_id": self.row_id,
            "row_hash": self.row_hash,
            "count": self.count,
            "key_id": self.key_id,
            "at": self.at.isoformat(timespec="seconds"),
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any], source: str) -> Anchor | None:
        """An anchor read back, or ``None`` when it is not one (checked field by field: the
        file and the channel are outside Signoff's control)."""
        row_id, count, row_hash = data.get("row_id"), data.get("count"), data.get("row_hash")
        key_id, at = data.get("key_id"), data.get("at")
        if not (isinstance(row_id, int) and isinstance(count, int) and row_id > 0 and count > 0):
            return None
        if not (isinstance(row_hash, str) and len(row_hash) == 64 and set(row_hash) <= _HEX):
            return None
        if key_id is not None and not isinstance(key_id, str):
            return None
        try:
            moment = datetime.fromisoformat(str(at))
        except ValueError:
            return None
        return cls(row_id, row_hash, count, key_id, moment, source)


async def chain_head(session: AsyncSession) -> Anchor | None:
    """The newest row and how many rows the log holds (``None`` while it is empty)."""
    last = (
        await session.execute(
            select(col(AuditEvent.id), col(AuditEvent.row_hash), col(AuditEvent.key_id))
            .order_by(col(AuditEvent.id).desc())
            .limit(1)
        )
    ).one_or_none()
    if last is None or last.id is None or last.row_hash is None:
        return None
    count = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    return Anchor(int(last.id), last.row_hash, int(count), last.key_id, utcnow())


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
