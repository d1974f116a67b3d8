"""The route step's second opinion: does this item's bucket already have the humans' trust?

``decide_route`` (thresholds) runs first; this module catches up on what humans decided since
the last look (so a reject recorded a moment ago revokes before the next item is routed), loads
the bucket's evidence and pin, and lets ``policies.autonomy.decide_autonomy`` have the last word.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from bot.autonomy.evidence import (
    Revocation,
    mark_trusted,
    revocation_text,
    sync_review_outcomes,
)
from bot.lead_settings.autonomy_settings import LearningSettings, load_learning_settings
from bot.logging_setup import get_logger
from bot.runtime import Runtime
from bot.store.autonomy_buckets import load_bucket_state
from bot.store.database import one_round_trip
from policies.autonomy import (
    EARNED_AUTONOMY,
    AutonomyDecision,
    AutonomyPolicy,
    BucketState,
    bucket_key,
    decide_autonomy,
)
from policies.risk_levels import RiskLevel
from policies.routing import Route, RouteDecision

log = get_logger(__name__)

WOULD_HAVE_AUTO_APPROVED = "Signoff would have auto-approved this"


@dataclass(frozen=True)
class AutonomyRoute:
    decision: AutonomyDecision
    bucket: str
    state: BucketState
    note: str | None
    policy: AutonomyPolicy

    def as_route(self, base: RouteDecision) -> RouteDecision:
        return RouteDecision(
            self.decision.route, base.risk, self.decision.policy, self.decision.why
        )


async def catch_up(rt: Runtime, learning: LearningSettings | None = None) -> list[Revocation]:
    """Record outcomes of humans' decisions not yet counted, and tell the leads of revocations."""
    learning = learning or await load_learning_settings(rt.sessions, rt.settings)
    revocations = await sync_review_outcomes(rt.sessions, learning.policy)
    for revocation in revocations:
        await tell_leads(rt, revocation_text(revocation))
    return revocations


async def tell_leads(rt: Runtime, text: str) -> None:
    if rt.publisher is None:
        log.info("lead notice (Slack not configured)", text=text)
        return
    for lead in sorted(rt.settings.leads):
        await rt.publisher.direct_message(lead, text)


async def route_with_autonomy(
    rt: Runtime,
    *,
    item_id: str,
    category: str | None,
    action_kind: str,
    amount: Decimal | None,
    base: RouteDecision,
    floor: RiskLevel,
) -> AutonomyRoute:
    learning = await load_learning_settings(rt.sessions, rt.settings)
    await catch_up(rt, learning)
    key = str(bucket_key(category=category, action_kind=action_kind, risk=base.risk, amount=amount))
    async with one_round_trip(rt.sessions) as session:
        state = await load_bucket_state(session, key, learning.policy)
    decision = decide_autonomy(
        base=base, floor=floor, state=state, item_id=item_id, policy=learning.policy
    )
    earned = decision.route == Route.AUTO and decision.policy == EARNED_AUTONOMY
    if earned and await mark_trusted(rt.sessions, key, why=decision.why):
        await tell_leads(
            rt,
            f":sparkles: `{key}` has earned autonomy: {decision.why}. Its items now run "
            f"without review ({learning.policy.sample_share:.0%} still sampled). "
            f"`/signoff autonomy pin {key} review` takes it back.",
        )
    return AutonomyRoute(decision, key, state, _note(decision, state, learning), learning.policy)


def _note(decision: AutonomyDecision, state: BucketState, learning: LearningSettings) -> str | None:
    """The card's one line about autonomy: the shadow verdict with the track record behind it."""
    if not decision.would_auto:
        return None
    ev, policy = state.evidence, learning.policy
    if decision.sampled:
        return (
            f"{WOULD_HAVE_AUTO_APPROVED}: this kind of work is trusted, and this item was "
            f"sampled ({policy.sample_share:.0%}) for review to keep the evidence fresh."
        )
    return (
        f"{WOULD_HAVE_AUTO_APPROVED} if this kind of work were trusted: "
        f"{ev.approved_unchanged} of {ev.reviews} recent reviews approved unchanged "
        f"(lower bound {ev.lower_bound:.2f}; trust needs {policy.target:.2f} over "
        f"{policy.min_reviews}+ reviews)."
    )
