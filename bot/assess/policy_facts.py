"""The facts the risk policy reads off a stored item (``policies.risk_rules.TicketFacts``).

Why one place: the route step, a reviewer's edit (re-checked before it is saved) and the
threshold dry run all ask the policy about the same item, each with the action in question (the
model's, the edited one, the one replayed); if each picked the item's fields itself, a field
added to the facts could reach one of them and not the others, and the three would disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.store.models import Item
from policies.risk_rules import TicketFacts


def facts_of(item: Item, action: Mapping[str, Any] | None) -> TicketFacts:
    """The policy's view of ``item`` proposing ``action`` (a plain action dict; none: a reply)."""
    return TicketFacts.of(
        text=f"{item.subject}\n{item.body}",
        action=action,
        requested=item.requested_action,
        customer_tier=item.customer_tier,
        sentiment=item.sentiment,
        category=item.category,
    )
