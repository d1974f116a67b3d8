"""Better drafts from reviewers' edits: the few most similar past edits, as prompt examples.

Every approved edit leaves an (original, edited) pair on its item (``ai_reply`` and
``approved_reply``, with the item's category). For a new ticket, the pairs whose tickets read
most like it are shown to the model after the constant system prompt, so the model sees how this
team actually rewrites drafts like the one it is about to write.

Similarity is difflib's ``SequenceMatcher`` over lower-cased, whitespace-folded ticket text: in
the standard library, works offline, deterministic, and fast enough for the few hundred recent
edits considered (``quick_ratio`` prunes before the full ratio). Nothing here is sent anywhere:
``bot.openai_classifier`` redacts the examples like the ticket itself before the call.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher

from sqlalchemy import select
from sqlmodel import col

from bot.database import SessionFactory
from bot.item_states import ItemState
from bot.models import Item

# How far back and how many recent edits are considered.
LOOKBACK = timedelta(days=90)
CANDIDATES = 300
# Below this similarity an example teaches more noise than style.
MIN_SIMILARITY = 0.2
_TEXT_LIMIT = 2000

_APPROVED_STATES = [ItemState.APPROVED, ItemState.EXECUTING, ItemState.EXECUTED]


@dataclass(frozen=True)
class EditExample:
    item_id: str
    category: str
    ticket_text: str
    original: str
    edited: str
    customer_name: str


def _normal(text: str) -> str:
    return " ".join(text.lower().split())[:_TEXT_LIMIT]


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, _normal(a), _normal(b), autojunk=False).ratio()


def most_similar(examples: Sequence[EditExample], ticket_text: str, k: int) -> list[EditExample]:
    """The ``k`` examples whose tickets read most like ``ticket_text``, most similar first."""
    if k <= 0 or not examples:
        return []
    target = _normal(ticket_text)
    scored: list[tuple[float, int, EditExample]] = []
    for index, example in enumerate(examples):
        matcher = SequenceMatcher(None, target, _normal(example.ticket_text), autojunk=False)
        if matcher.quick_ratio() < MIN_SIMILARITY:
            continue
        score = matcher.ratio()
        if score >= MIN_SIMILARITY:
            # The index breaks ties towards the more recent edit (examples come newest first).
            scored.append((score, -index, example))
    return [example for _, _, example in heapq.nlargest(k, scored)]


async def recent_edits(
    sessions: SessionFactory, *, now: datetime, limit: int = CANDIDATES
) -> list[EditExample]:
    """Approved edits that changed the reply, newest first."""
    async with sessions() as session:
        rows = (
            (
                await session.execute(
                    select(Item)
                    .where(
                        col(Item.edited_by).is_not(None),
                        col(Item.state).in_(_APPROVED_STATES),
                        col(Item.approved_reply).is_not(None),
                        col(Item.ai_reply).is_not(None),
                        col(Item.decided_at) >= now - LOOKBACK,
                    )
                    .order_by(col(Item.decided_at).desc())
                    .limit(limit)
                )
            )
            .scalars()
            .all()
        )
    return [
        EditExample(
            item_id=item.id,
            category=item.category or "unassessed",
            ticket_text=f"{item.subject}\n{item.body}",
            original=item.ai_reply or "",
            edited=item.approved_reply or "",
            customer_name=item.customer_name,
        )
        for item in rows
        if (item.ai_reply or "").strip() != (item.approved_reply or "").strip()
    ]


async def examples_for(
    sessions: SessionFactory, *, subject: str, body: str, k: int, now: datetime
) -> list[EditExample]:
    if k <= 0:
        return []
    return most_similar(await recent_edits(sessions, now=now), f"{subject}\n{body}", k)
