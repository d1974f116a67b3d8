"""Better drafts from reviewers' edits: the few most similar past edits, as prompt examples.

Every approved edit leaves an (original, edited) pair on its item (``ai_reply`` and
``approved_reply``, with the item's category); every approved re-draft after *Request changes*
leaves (the draft the reviewer saw, the approved reply) with the reviewer's instruction. For a
new ticket, the pairs whose tickets read most like it are shown to the model after the constant
system prompt, so the model sees how this team actually rewrites drafts like the one it is about
to write.

Similarity is the cosine of word-count vectors of the two tickets (lower-cased words): standard
library only, offline, deterministic, and linear in the text, so ranking a few hundred recent
edits takes milliseconds (character-level difflib took seconds on long tickets). It runs in a
thread, off the event loop. With ``SIGNOFF_EMBEDDINGS_MODEL`` set (and the OpenAI classifier),
the best word-count candidates are reranked by embeddings from the OpenAI-compatible API; only
redacted text is embedded, and a failed call falls back to the word-count order.
``bot.assess.llm.model_input`` redacts the chosen examples like the ticket itself before the call.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import re
from collections import Counter, OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import or_, select
from sqlmodel import col

from bot.assess.pii_redaction import redact_many
from bot.logging_setup import get_logger
from bot.store.database import SessionFactory
from bot.store.item_states import ItemState
from bot.store.models import Item
from bot.store.per_database_cache import PerDatabaseCache

log = get_logger(__name__)

# How far back and how many recent edits are considered.
LOOKBACK = timedelta(days=90)
CANDIDATES = 300
# Below this similarity an example teaches more noise than style.
MIN_SIMILARITY = 0.3
_TEXT_LIMIT = 20_000

_APPROVED_STATES = [ItemState.APPROVED, ItemState.EXECUTING, ItemState.EXECUTED]


@dataclass(frozen=True)
class EditExample:
    item_id: str
    category: str
    ticket_text: str
    original: str
    edited: str
    customer_name: str
    # A reviewer's Request changes instruction that led from ``original`` to ``edited``.
    instruction: str | None = None


_WORDS = re.compile(r"\w+")


def _vector(text: str) -> Counter[str]:
    return Counter(_WORDS.findall(text.lower()[:_TEXT_LIMIT]))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    dot = sum(count * b[word] for word, count in a.items() if word in b)
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return dot / norm


def similarity(a: str, b: str) -> float:
    return _cosine(_vector(a), _vector(b))


def most_similar(examples: Sequence[EditExample], ticket_text: str, k: int) -> list[EditExample]:
    """The ``k`` examples whose tickets read most like ``ticket_text``, most similar first."""
    if k <= 0 or not examples:
        return []
    target = _vector(ticket_text)
    scored: list[tuple[float, int, EditExample]] = []
    for index, example in enumerate(examples):
        score = _cosine(target, _vector(example.ticket_text))
        if score >= MIN_SIMILARITY:
            # The index breaks ties towards the more recent edit (examples come newest first).
            scored.append((score, -index, example))
    return [example for _, _, example in heapq.nlargest(k, scored)]


async def recent_edits(
    sessions: SessionFactory, *, now: datetime, limit: int = CANDIDATES
) -> list[EditExample]:
    """Approved edits that changed the reply, newest first (only the columns used: whole items
    are about sixty columns each)."""
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    col(Item.id),
                    col(Item.category),
                    col(Item.subject),
                    col(Item.body),
                    col(Item.ai_reply),
                    col(Item.approved_reply),
                    col(Item.customer_name),
                    col(Item.change_request),
                    col(Item.change_prior_draft),
                )
                .where(
                    or_(col(Item.edited_by).is_not(None), col(Item.change_request).is_not(None)),
                    col(Item.state).in_(_APPROVED_STATES),
                    col(Item.approved_reply).is_not(None),
                    col(Item.ai_reply).is_not(None),
                    col(Item.decided_at) >= now - LOOKBACK,
                )
                .order_by(col(Item.decided_at).desc())
                .limit(limit)
            )
        ).all()
    examples = [
        EditExample(
            item_id=item.id,
            category=item.category or "unassessed",
            ticket_text=f"{item.subject}\n{item.body}",
            # After Request changes the lesson is from the draft the reviewer saw to what they
            # approved, and the instruction that got it there.
            original=(item.change_prior_draft if item.change_request else item.ai_reply) or "",
            edited=item.approved_reply or "",
            customer_name=item.customer_name,
            instruction=item.change_request,
        )
        for item in rows
    ]
    return [e for e in examples if e.original.strip() != e.edited.strip()]


# The candidates change only when a reviewer approves an edit, and every ticket reads them:
# read at most every CANDIDATES_TTL_SECONDS per database (a new edit is an example that much
# later).
CANDIDATES_TTL_SECONDS = 10.0
_candidates: PerDatabaseCache[list[EditExample]] = PerDatabaseCache(CANDIDATES_TTL_SECONDS)


async def _recent_edits_cached(sessions: SessionFactory, *, now: datetime) -> list[EditExample]:
    return await _candidates.get(sessions, lambda: recent_edits(sessions, now=now))


class Embedder(Protocol):
    """Turns redacted texts into vectors (``OpenAIClassifier.embed`` through the API)."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


# How many lexical candidates the embeddings rerank.
RERANK_POOL = 15
_EMBED_CACHE_SIZE = 2048
_embedded: OrderedDict[str, list[float]] = OrderedDict()


def forget_edits(sessions: SessionFactory, item_ids: Sequence[str]) -> None:
    """Erased items are no longer examples: drop the cached candidates and their vectors (in
    this process; another process's candidates expire within ``CANDIDATES_TTL_SECONDS``)."""
    _candidates.forget(sessions)
    for item_id in item_ids:
        _embedded.pop(item_id, None)


def _redacted(text: str, name: str) -> str:
    """Only redacted text is ever sent to an embeddings API, like every prompt."""
    return redact_many([text[:_TEXT_LIMIT]], names=[name] if name else []).texts[0]


def _dense_cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


async def rerank(
    embedder: Embedder,
    candidates: Sequence[EditExample],
    ticket_text: str,
    customer_name: str,
    k: int,
) -> list[EditExample]:
    """Order ``candidates`` by embedding similarity to the ticket; past edits' vectors are
    remembered by item id, so each is embedded once per process."""
    known = {c.item_id: _embedded[c.item_id] for c in candidates if c.item_id in _embedded}
    missing = [c for c in candidates if c.item_id not in known]
    texts = [
        await asyncio.to_thread(_redacted, ticket_text, customer_name),
        *[await asyncio.to_thread(_redacted, c.ticket_text, c.customer_name) for c in missing],
    ]
    vectors = await embedder.embed(texts)
    if len(vectors) != len(texts):
        raise ValueError("the embeddings API answered a different number of vectors")
    for candidate, vector in zip(missing, vectors[1:], strict=True):
        known[candidate.item_id] = _embedded[candidate.item_id] = vector
        while len(_embedded) > _EMBED_CACHE_SIZE:
            _embedded.popitem(last=False)
    target = vectors[0]
    scored = [(_dense_cosine(target, known[c.item_id]), -i, c) for i, c in enumerate(candidates)]
    return [c for _, _, c in heapq.nlargest(k, scored)]


async def examples_for(
    sessions: SessionFactory,
    *,
    subject: str,
    body: str,
    k: int,
    now: datetime,
    embedder: Embedder | None = None,
    customer_name: str = "",
) -> list[EditExample]:
    """The ``k`` most similar past edits: by word counts, reranked by embeddings when an
    embedder is configured (and by word counts alone when the embeddings call fails)."""
    if k <= 0:
        return []
    candidates = await _recent_edits_cached(sessions, now=now)
    text = f"{subject}\n{body}"
    pool = max(k, RERANK_POOL) if embedder is not None else k
    lexical = await asyncio.to_thread(most_similar, candidates, text, pool)
    if embedder is None or len(lexical) <= 1:
        return lexical[:k]
    try:
        return await rerank(embedder, lexical, text, customer_name, k)
    except Exception as exc:
        log.warning("embeddings unavailable; examples ranked by words", error=str(exc))
        return lexical[:k]
