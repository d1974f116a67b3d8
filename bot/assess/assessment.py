"""What a classifier returns, and the interface every classifier implements.

The assessment is advice, never authority: ``policies`` sets the floor of risk from facts and the
executor re-checks approval. A classifier that cannot produce a usable assessment raises
``AssessmentUnavailableError`` and the item goes to a human.

The pipeline and the runtime use a classifier only through :class:`Classifier`: they never ask
which classifier it is, so a new one (or a test's fake) needs no change anywhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from bot.assess.edit_examples import EditExample, Embedder
from bot.assess.llm.model_input import ChangeRequest
from bot.assess.llm.usage import LlmUsage
from bot.store.models import PromptText
from bot.tickets import TicketIn
from policies.risk_levels import RiskLevel

if TYPE_CHECKING:
    from bot.store.models import Item

ProposedActionKind = Literal["reply", "refund", "credit", "update_field", "escalate"]
Sentiment = Literal["positive", "neutral", "negative"]


class ProposedAction(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ProposedActionKind
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    field: str | None = Field(default=None, max_length=100)
    value: str | None = Field(default=None, max_length=1000)

    def describe(self) -> str:
        """One line for cards and logs, e.g. ``refund 120.00 USD``."""
        if self.kind in {"refund", "credit"}:
            amount = "(no amount)" if self.amount is None else f"{self.amount:.2f}"
            return f"{self.kind} {amount} {self.currency or ''}".strip()
        if self.kind == "update_field":
            return f"set {self.field} to {self.value!r}"
        if self.kind == "escalate":
            return "escalate to a specialist"
        return "send the drafted reply"


def describe_action(item: Item) -> str:
    """The item's proposed action in one line (``none`` when it has none yet)."""
    if not item.proposed_action:
        return "none"
    return ProposedAction.model_validate(item.proposed_action).describe()


class Assessment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Which classifier produced this (``heuristic`` or ``openai:<model>``): shown on every card.
    classifier: str
    category: str = Field(min_length=1, max_length=64)
    sentiment: Sentiment
    risk_level: RiskLevel
    risk_score: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    draft_reply: str = Field(max_length=10_000)
    action: ProposedAction


class Classifier(Protocol):
    """Everything the pipeline and the runtime ask of a classifier.

    Only ``name`` and :meth:`assess` have no default. The defaults fit a classifier that calls no
    model (no examples, no usage, no prompt, nothing to close): subclass ``Classifier`` to take
    them, as ``HeuristicClassifier`` does.
    """

    # Shown on every card (``heuristic``, ``openai:<model>``), so a reviewer knows whose opinion.
    name: str
    # Whether similar past reviewer edits improve its drafts: the pipeline looks them up only then.
    takes_edit_examples: bool = False
    # Whether a reviewer's Request changes re-drafts through it (else the card opens Edit with
    # the instruction shown, for the reviewer to apply by hand).
    takes_change_requests: bool = False

    async def assess(self, ticket: TicketIn) -> Assessment:
        """Assess one ticket; raise ``AssessmentUnavailableError`` rather than guess."""
        ...

    async def assess_with_usage(
        self,
        ticket: TicketIn,
        examples: Sequence[EditExample] = (),
        change: ChangeRequest | None = None,
    ) -> tuple[Assessment, LlmUsage | None]:
        """Assess one ticket, with past reviewer edits as examples when it takes them (and a
        reviewer's ``change`` request when it takes those), and say what the model call cost
        (``None``: no model was called). What the pipeline calls."""
        return await self.assess(ticket), None

    def embedder(self) -> Embedder | None:
        """What ranks past edits by meaning for :meth:`assess_with_usage`; ``None`` ranks them by
        shared words."""
        return None

    def prompt_record(self) -> PromptText | None:
        """The prompt its assessments name by hash, stored once when a runtime opens so an auditor
        can read it; ``None`` when it sends no prompt."""
        return None

    def forget_cached(self) -> None:
        """Drop every answer kept in memory (a customer's data was erased: ``bot.erasure``)."""
        return None

    async def aclose(self) -> None:
        """Release what it holds (an HTTP connection pool); the runtime that built it calls this
        when it closes."""
        return None
