"""The inbound ticket/event model: what every source is normalised into.

The generic webhook body is this model as JSON; vendor webhooks (Zendesk, Intercom, …) map their
payloads onto it. Validation errors name the field so a 400 tells the sender what to fix.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ActionKind = Literal["reply", "refund", "credit", "update_field"]


class Customer(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    tier: str | None = Field(default=None, max_length=50)


class RequestedAction(BaseModel):
    """An action the source asks for (e.g. a refund request form). Extra parameters are kept."""

    model_config = ConfigDict(extra="allow")

    kind: ActionKind
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    # The same bounds as ``ProposedAction``: a request that could never become a valid action
    # is refused at the door (400) rather than stranding an item after it was accepted.
    field: str | None = Field(default=None, max_length=100)
    value: str | None = Field(default=None, max_length=1000)


class TicketIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=200)
    kind: Literal["ticket", "crm_event"]
    subject: str = Field(max_length=1000)
    body: str = Field(max_length=100_000)
    customer: Customer
    requested_action: RequestedAction | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _storable_text(cls, data: Any) -> Any:
        """Refuse text no database can store, as the sender's error (400): JSON may carry a NUL
        (``\\u0000``) or an unpaired surrogate (``\\ud800``), which PostgreSQL refuses at the
        insert, after the ticket was accepted for its batch (a 500)."""
        problem = unstorable_text(data)
        if problem is not None:
            raise ValueError(problem)
        return data


def unstorable_text(data: Any) -> str | None:
    """Why some string in ``data`` (dicts and lists walked without recursion, keys included)
    cannot be stored as text, or None."""
    pending = [data]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str):
            if "\x00" in value:
                return "text must not contain NUL characters (\\u0000)"
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "text must not contain unpaired surrogates (\\ud800-\\udfff)"
    return None


def first_name(full_name: str) -> str:
    """The greeting name: the first word of the customer's name, or "there" if it has no letters.

    Both classifiers greet the customer with it (the heuristic in its templates, the LLM through
    the placeholder it is told to use), so it lives with the customer, not in either of them.
    """
    for word in full_name.split():
        cleaned = word.strip(".,;:!?\"'()[]{}<>")
        if any(ch.isalpha() for ch in cleaned):
            return cleaned[:50]
        break
    return "there"


__all__ = ["ActionKind", "Customer", "RequestedAction", "TicketIn", "first_name"]
