"""What ``/signoff autonomy`` shows: every bucket, its evidence, and what it would take.

Leads decide whether to trust Signoff with a kind of work from this view, so each line says the
state in words (trusted, learning, pinned), the counts behind it and, for a bucket still
learning, how many unchanged approvals in a row would earn it trust.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.lead_settings.autonomy_settings import LearningSettings
from bot.store.autonomy_buckets import known_buckets, load_bucket_state
from bot.store.database import SessionFactory
from bot.store.models import AutonomyBucket
from policies.autonomy import AutonomyPolicy, BucketState, Evidence, Pin

MAX_STREAK_SHOWN = 10_000
# Slack shows an ephemeral answer of a few thousand characters comfortably.
MAX_LISTED = 25


@dataclass(frozen=True)
class BucketReport:
    key: str
    state: BucketState
    trusted: bool
    reset_reason: str | None
    more_needed: int | None

    @property
    def status(self) -> str:
        if self.state.pin == Pin.ALWAYS_REVIEW:
            return "pinned to always-review"
        if self.state.pin == Pin.ALLOW:
            return "allowed by a lead"
        return "trusted (auto-executes)" if self.trusted else "learning (shadow mode)"

    def line(self, policy: AutonomyPolicy) -> str:
        ev = self.state.evidence
        counts = (
            f"{ev.approved_unchanged} unchanged · {ev.approved_after_edit} edited · "
            f"{ev.rejected} rejected · {ev.expired} expired; bound {ev.lower_bound:.3f} "
            f"(target {policy.target:.2f}, {policy.min_reviews}+ reviews)"
        )
        tail = ""
        if not self.trusted and self.state.pin == Pin.NONE and self.more_needed is not None:
            tail = f" — {self.more_needed} more unchanged approvals in a row would earn trust"
        if self.reset_reason:
            tail += f" — last reset: {self.reset_reason}"
        return f"• `{self.key}` *{self.status}*: {counts}{tail}"


def more_unchanged_needed(evidence: Evidence, policy: AutonomyPolicy) -> int | None:
    """Consecutive unchanged approvals from now that make the bucket eligible (None: too many)."""
    for extra in range(MAX_STREAK_SHOWN + 1):
        grown = Evidence(
            approved_unchanged=evidence.approved_unchanged + extra,
            approved_after_edit=evidence.approved_after_edit,
            rejected=evidence.rejected,
        )
        if grown.eligible(policy):
            return extra
    return None


async def bucket_report(sessions: SessionFactory, key: str, policy: AutonomyPolicy) -> BucketReport:
    async with sessions() as session:
        state = await load_bucket_state(session, key, policy)
        row = await session.get(AutonomyBucket, key)
    return BucketReport(
        key=key,
        state=state,
        trusted=state.trusted(policy),
        reset_reason=row.reset_reason if row is not None else None,
        more_needed=more_unchanged_needed(state.evidence, policy),
    )


async def autonomy_overview(
    sessions: SessionFactory, learning: LearningSettings, *, only: str | None = None
) -> str:
    policy = learning.policy
    keys = [k for k in await known_buckets(sessions) if only is None or k.startswith(only)]
    header = (
        f"*Earned autonomy* — a bucket auto-executes when the 95% lower bound on approved-"
        f"unchanged reaches {policy.target:.2f} over {policy.min_reviews}+ reviews; "
        f"{policy.sample_share:.0%} of its items are still sampled for review and "
        f"{learning.spot_check_share:.0%} of auto-executed items are spot-checked."
    )
    if not keys:
        if only is not None:
            return header + f"\nNo bucket starts with `{only}`."
        return header + "\nNo buckets yet: they appear as items are routed."
    reports = [await bucket_report(sessions, key, policy) for key in keys]
    reports.sort(key=lambda r: (not r.trusted, r.key))
    lines = [header, *(r.line(policy) for r in reports[:MAX_LISTED])]
    if len(reports) > MAX_LISTED:
        lines.append(
            f"…and {len(reports) - MAX_LISTED} more: `/signoff autonomy <category>` narrows "
            "the list."
        )
    lines.append(
        "Leads: `/signoff autonomy pin <bucket> review|allow`, `/signoff autonomy unpin "
        "<bucket>`, `/signoff autonomy set <setting> <value>`."
    )
    return "\n".join(lines)
