"""Ticket bodies for tests: one obviously risky, one obviously routine."""

from __future__ import annotations

import uuid
from typing import Any


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
