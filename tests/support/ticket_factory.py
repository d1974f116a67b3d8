"""Ticket bodies for tests: one obviously risky, one obviously routine, one that changes customer
data (so it can earn autonomy), and a plain question already parsed as a ``TicketIn``."""

from __future__ import annotations

import uuid
from typing import Any

from bot.tickets import TicketIn

# The autonomy bucket an ``address_ticket`` falls in.
ADDRESS_BUCKET = "shipping/update_field/medium"


def refund_ticket(amount: str = "480.00", **overrides: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = {
        "id": f"T-{uuid.uuid4().hex[:10]}",
        "kind": "ticket",
        "subject": "Refund for annual plan",
        "body": "I was charged for the annual plan but we switched providers last week. "
        f"Please refund the {amount} USD.",
        "customer": {"name": "Maria Lopez", "email": "maria@example.com", "tier": "pro"},
        "requested_action": {"kind": "refund", "amount": amount, "currency": "USD"},
    }
    ticket.update(overrides)
    return ticket


def password_ticket(**overrides: Any) -> dict[str, Any]:
    ticket: dict[str, Any] = {
        "id": f"T-{uuid.uuid4().hex[:10]}",
        "kind": "ticket",
        "subject": "Can't log in",
        "body": "Hi, I forgot my password. How do I reset it?",
        "customer": {"name": "Sam Park", "email": "sam@example.org"},
    }
    ticket.update(overrides)
    return ticket


def make_ticket(**overrides: Any) -> TicketIn:
    """A routine question about an invoice, parsed as the classifier receives it."""
    data: dict[str, Any] = {
        "id": f"T-{uuid.uuid4().hex[:10]}",
        "kind": "ticket",
        "subject": "Question about my plan",
        "body": "Hi, how do I download last month's invoice? Thanks.",
        "customer": {"name": "Maria Lopez", "email": "maria@example.com", "tier": "pro"},
    }
    data.update(overrides)
    return TicketIn.model_validate(data)


def address_ticket() -> dict[str, Any]:
    """Medium risk (it changes customer data) with no hard limit: the thresholds send it to
    review, so it is exactly the kind of work that can earn autonomy."""
    return {
        "id": f"T-{uuid.uuid4().hex[:10]}",
        "kind": "ticket",
        "subject": "Change my shipping address",
        "body": "Please update the shipping address on my account to 12 Oak Street, Springfield.",
        "customer": {"name": "Ana Ruiz", "email": "ana@example.com"},
        "requested_action": {
            "kind": "update_field",
            "field": "shipping_address",
            "value": "12 Oak Street, Springfield",
        },
    }
