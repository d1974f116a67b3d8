"""The runtime and the pipeline use a classifier only through the ``Classifier`` protocol: what
they do depends on what the classifier says (its prompt, whether it takes edit examples), never
on which class it is; the runtime closes the classifier it built and leaves a given one open."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import func, select

from bot.assess.assessment import Assessment, Classifier
from bot.assess.edit_examples import EditExample
from bot.assess.heuristic import HeuristicClassifier
from bot.assess.llm.client import OpenAIClassifier
from bot.assess.llm.prompt import PROMPT_SHA256
from bot.runtime import open_runtime
from bot.store.models import PromptText
from bot.store.prompt_store import stored_prompt
from bot.tickets import TicketIn
from tests.support.server_harness import make_settings
from tests.support.ticket_factory import password_ticket


class PromptedClassifier(HeuristicClassifier):
    """A classifier of no known class that names a prompt and records what it is asked."""

    name = "prompted"

    def __init__(self) -> None:
        self.closed = False

    def prompt_record(self) -> PromptText:
        return PromptText(
            sha256="f" * 64,
            version="test-v1",
            system_prompt="assess",
            user_preamble="ticket:",
            answer_schema="{}",
            first_used_at=datetime.now(UTC),
        )

    async def aclose(self) -> None:
        self.closed = True


async def test_a_given_classifiers_prompt_is_stored_and_it_is_left_open(database_url: str) -> None:
    given = PromptedClassifier()
    async with open_runtime(make_settings(database_url=database_url), classifier=given) as rt:
        stored = await stored_prompt(rt.sessions, "f" * 64)
        assert stored is not None and stored.version == "test-v1"
    assert not given.closed  # its owner closes it


async def test_the_heuristic_stores_no_prompt(database_url: str) -> None:
    async with open_runtime(make_settings(database_url=database_url)) as rt:
        assert isinstance(rt.classifier, HeuristicClassifier)
        async with rt.sessions() as session:
            count = await session.execute(select(func.count()).select_from(PromptText))
            assert count.scalar_one() == 0


async def test_the_llm_classifier_the_runtime_built_is_closed_with_it(database_url: str) -> None:
    settings = make_settings(
        database_url=database_url, openai_api_key="sk-test", openai_base_url="http://127.0.0.1:9"
    )
    async with open_runtime(settings) as rt:
        built = rt.classifier
        assert isinstance(built, OpenAIClassifier)
        assert await stored_prompt(rt.sessions, PROMPT_SHA256) is not None
        assert not built._client.is_closed()
    assert built._client.is_closed()


async def test_a_classifier_that_only_assesses_gets_the_protocols_defaults() -> None:
    class Plain(Classifier):
        name = "plain"

        def __init__(self) -> None:
            self.seen: list[str] = []

        async def assess(self, ticket: TicketIn) -> Assessment:
            self.seen.append(ticket.id)
            return await HeuristicClassifier().assess(ticket)

    plain = Plain()
    ticket = TicketIn.model_validate(password_ticket())
    examples: Sequence[EditExample] = ()
    assessment, usage = await plain.assess_with_usage(ticket, examples)
    assert plain.seen == [ticket.id] and usage is None
    assert assessment == await HeuristicClassifier().assess(ticket)
    assert not plain.takes_edit_examples
    assert plain.embedder() is None and plain.prompt_record() is None
    await plain.aclose()


async def test_only_the_llm_takes_edit_examples_and_names_its_prompt() -> None:
    llm = OpenAIClassifier.from_settings(make_settings(openai_api_key="sk-test"))
    with_embeddings = OpenAIClassifier.from_settings(
        make_settings(openai_api_key="sk-test", embeddings_model="text-embedding-3-small")
    )
    try:
        assert llm.takes_edit_examples and not HeuristicClassifier().takes_edit_examples
        assert llm.embedder() is None  # no embeddings model: past edits ranked by words
        assert with_embeddings.embedder() is with_embeddings
        assert llm.prompt_record().sha256 == PROMPT_SHA256
        assert HeuristicClassifier().prompt_record() is None
    finally:
        await llm.aclose()
        await with_embeddings.aclose()
