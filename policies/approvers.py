"""Who may decide on an item. Everyone may look; only reviewers and leads may decide."""

from __future__ import annotations

from collections.abc import Collection


def may_decide(user_id: str, *, reviewers: Collection[str], leads: Collection[str]) -> bool:
    """True when ``user_id`` is a configured reviewer or lead. An empty list allows no one."""
    return bool(user_id) and (user_id in reviewers or user_id in leads)
