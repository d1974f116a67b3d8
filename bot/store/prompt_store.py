"""The text behind each prompt hash, stored once: what exactly was the model told?

Items and audit rows name the prompt of each assessment by version and ``prompt_sha256``; the
code that held the text moves on. A runtime with the OpenAI classifier writes its prompt here
when it opens (once per hash, whichever instance is first), so an auditor can read the exact
instructions behind any decision with ``python -m bot audit prompt <sha256>``.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.store.database import SessionFactory, transaction
from bot.store.models import PromptText


async def remember_prompt(sessions: SessionFactory, prompt: PromptText) -> None:
    """Store ``prompt`` unless its hash is stored already (concurrent starts: one wins). The
    classifier builds the row (``bot.assess.llm.prompt.prompt_record``): the store only
    keeps it."""
    async with transaction(sessions) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        statement = (pg_insert if postgres else sqlite_insert)(PromptText).values(
            prompt.model_dump()
        )
        await session.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))


async def stored_prompt(sessions: SessionFactory, sha256: str) -> PromptText | None:
    async with sessions() as session:
        return await session.get(PromptText, sha256)
