"""Who is a reviewer or a lead right now: configured IDs plus a Slack user group's members.

The group is read with ``usergroups.users.list`` and cached for ``SIGNOFF_REVIEWER_GROUP_TTL``
seconds, so a click costs no Slack call most of the time. When Slack cannot be reached the last
known membership is used (or nobody from the group, on a cold cache): a Slack outage can take
permission away from group members for a while, never give it to anyone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logging_setup import get_logger
from policies.approvers import is_lead, may_decide

log = get_logger(__name__)


@dataclass(frozen=True)
class Roles:
    """What one Slack user may do, resolved once per click or command."""

    user_id: str
    reviewers: frozenset[str]
    leads: frozenset[str]

    @property
    def may_decide(self) -> bool:
        return may_decide(self.user_id, reviewers=self.reviewers, leads=self.leads)

    @property
    def is_lead(self) -> bool:
        return is_lead(self.user_id, leads=self.leads)

    @property
    def title(self) -> str:
        if self.is_lead:
            return "lead"
        return "reviewer" if self.may_decide else "viewer"


class ReviewerRoster:
    def __init__(
        self,
        client: AsyncWebClient | None,
        *,
        reviewers: frozenset[str],
        leads: frozenset[str],
        group_id: str | None,
        ttl_seconds: float,
    ) -> None:
        self._client = client
        self._reviewers = reviewers
        self._leads = leads
        self._group_id = group_id
        self._ttl = ttl_seconds
        self._members: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def group_members(self) -> frozenset[str]:
        if not self._group_id or self._client is None:
            return frozenset()
        if self._fresh():
            return self._members
        async with self._lock:
            if self._fresh():
                return self._members
            try:
                answer = await self._client.usergroups_users_list(usergroup=self._group_id)
                self._members = frozenset(str(u) for u in answer.get("users") or [])
            except (SlackApiError, SlackClientError) as exc:
                log.warning(
                    "reviewer group unavailable; using last known members",
                    group=self._group_id,
                    error=str(exc),
                    known=len(self._members),
                )
            # A failure is cached too, so an outage does not turn every click into a Slack call.
            self._fetched_at = time.monotonic()
            return self._members

    def _fresh(self) -> bool:
        return self._fetched_at is not None and time.monotonic() - self._fetched_at < self._ttl

    async def reviewers(self) -> frozenset[str]:
        """Configured reviewers plus the group's members (leads are separate)."""
        return self._reviewers | await self.group_members()

    @property
    def leads(self) -> frozenset[str]:
        return self._leads

    async def roles(self, user_id: str) -> Roles:
        return Roles(user_id=user_id, reviewers=await self.reviewers(), leads=self._leads)
