"""Who may decide on an item. Everyone may look; only reviewers and leads may decide.

Pure functions: the Slack layer resolves who is a reviewer (configured IDs plus the members of a
Slack user group) and passes plain sets in, so these rules can be tested without Slack.
"""

from __future__ import annotations

from collections.abc import Collection


def may_decide(user_id: str, *, reviewers: Collection[str], leads: Collection[str]) -> bool:
    """True when ``user_id`` is a configured reviewer or lead. An empty list allows no one."""
    return bool(user_id) and (user_id in reviewers or user_id in leads)


def is_lead(user_id: str, *, leads: Collection[str]) -> bool:
    return bool(user_id) and user_id in leads


def approval_refusal(
    user_id: str,
    *,
    reviewers: Collection[str],
    leads: Collection[str],
    raised_by: str | None,
) -> str | None:
    """Why ``user_id`` may not approve, or ``None`` when they may.

    The person who raised an item from Slack cannot approve it themselves (four eyes), even when
    they are a lead: the point of review is a second person.
    """
    if not may_decide(user_id, reviewers=reviewers, leads=leads):
        return "only reviewers and leads can decide (SIGNOFF_REVIEWERS / SIGNOFF_LEADS)"
    if raised_by and user_id == raised_by:
        return "you raised this item, so someone else has to approve it (no self-approval)"
    return None
