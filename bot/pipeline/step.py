"""What every pipeline step shares: its contract, and the item as its own transaction left it.

A step (:mod:`~bot.pipeline.assess_step`, :mod:`~bot.pipeline.route_step`,
:mod:`~bot.pipeline.execute_step`) takes the runtime, the claim token it holds (``holder``, the
value ``claim`` wrote into ``claimed_by``) and the item. It does its slow work (an LLM or HTTP
call) outside a transaction, then commits its result with one conditional ``transition`` that
names that token. If the transition loses a race the step returns ``None`` and stops: another
worker or a click already moved the item on. Otherwise it returns the item as it now is, and
:class:`~bot.pipeline.pipeline.Pipeline` runs the next step.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Item


async def reread(session: AsyncSession, item_id: str) -> Item | None:
    """The item as the step's own transaction just left it: read in that transaction rather than
    in one more after it."""
    return await session.get(Item, item_id, populate_existing=True)
