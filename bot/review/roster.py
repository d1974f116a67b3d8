"""Who is a reviewer or a lead right now: configured IDs plus a Slack user group's members.

A lead's card route may name its own user group (``/signoff route … reviewers:@team``): on the
cards routed there its members decide, with the leads, instead of the general reviewers. Every
group is read with ``usergroups.users.list`` and cached for ``SIGNOFF_REVIEWER_GROUP_TTL``
seconds, so a click costs no Slack call most of the time. When Slack cannot be reached the last
known membership is used (or nobody from the group, on a cold cache): a Slack outage can take
permission away from group members for a while, never give it to anyone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

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
    # The card routes' reviewer groups this user is a member of.
    groups: frozenset[str] = field(default_factory=frozenset)

    @property
    def may_decide(self) -> bool:
        return may_decide(self.user_id, reviewers=self.reviewers, leads=self.leads)

    @property
    def is_lead(self) -> bool:
        return is_lead(self.user_id, leads=self.leads)

    def for_route(self, group: str | None) -> Roles:
        """The roles on a card routed to ``group``'s channel: its members decide there with the
        leads, the general reviewers do not. ``None`` (the review channel) changes nothing."""
        if group is None:
            return self
        return replace(self, reviewers=frozenset({self.user_id} if group in self.groups else ()))

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
        # Per group: its members and when they were read (monotonic seconds).
        self._members: dict[str, tuple[frozenset[str], float]] = {}
        self._lock = asyncio.Lock()

    async def group_members(self, group_id: str | None = None) -> frozenset[str]:
        """Members of ``group_id`` (the general reviewer group when not given), cached."""
        group = group_id or self._group_id
        if not group or self._client is None:
            return frozenset()
        if self._fresh(group):
            return self._members[group][0]
        async with self._lock:
            if self._fresh(group):
                return self._members[group][0]
            known = self._members.get(group, (frozenset(), 0.0))[0]
            try:
                answer = await self._client.usergroups_users_list(usergroup=group)
                known = frozenset(str(u) for u in answer.get("users") or [])
            except (SlackApiError, SlackClientError) as exc:
                log.warning(
                    "reviewer group unavailable; using last known members",
                    group=group,
                    error=str(exc),
                    known=len(known),
                )
            # A failure is cached too, so an outage does not turn every click into a Slack call.
            self._members[group] = (known, time.monotonic())
            return known

    def _fresh(self, group: str | None = None) -> bool:
        fetched = self._members.get(group or self._group_id or "")
        return fetched is not None and time.monotonic() - fetched[1] < self._ttl

    async def reviewers(self) -> frozenset[str]:
        """Configured reviewers plus the group's members (leads are separate)."""
        return self._reviewers | await self.group_members()

    async def deciders_for(self, route_group: str | None) -> frozenset[str]:
        """Who besides the leads may decide a card routed to ``route_group`` (the general
        reviewers when it is None): what the executor's authority re-check and reminders use."""
        if route_group is None:
            return await self.reviewers()
        return await self.group_members(route_group)

    @property
    def leads(self) -> frozenset[str]:
        return self._leads

    async def roles(self, user_id: str, route_groups: Iterable[str] = ()) -> Roles:
        """``user_id``'s roles, with their membership of the card routes' ``route_groups``."""
        groups = frozenset(
            [group for group in set(route_groups) if user_id in await self.group_members(group)]
        )
        return Roles(
            user_id=user_id, reviewers=await self.reviewers(), leads=self._leads, groups=groups
        )
