"""Grouping waiting items into clusters a reviewer can approve at once: a pure function.

Items fall in one cluster when they wait in the same channel, in the same earned-autonomy bucket
(category, action kind, risk and, for money, the amount band of ``policies.autonomy``), with the
same action kind and currency, and drafts that read near-identically: word-count cosine
(``bot.assess.edit_examples.similarity``, the project's one text similarity) of at least
:data:`DRAFT_SIMILARITY` to the cluster's first (oldest) draft. Greedy and in arrival order, so
the same items always give the same clusters; quadratic only within one bucket's waiting items.

The grouping decides nothing: *Approve all* still approves each item through the normal path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.assess.edit_examples import similarity
from policies.autonomy import amount_band

# Greetings and names differ between customers ("Hi Maria" / "Hi Sam"); the rest must not.
DRAFT_SIMILARITY = 0.9
# One cluster card lists at most this many items (its report must fit a message); more similar
# items start the next cluster.
MAX_MEMBERS = 50


@dataclass(frozen=True)
class ClusterCandidate:
    """What grouping needs of one waiting item (read from the row by the caller)."""

    item_id: str
    version: int
    channel: str
    bucket: str
    action_kind: str
    amount: Decimal | None
    currency: str | None
    category: str
    customer: str
    draft: str


@dataclass(frozen=True)
class Cluster:
    bucket: str
    channel: str
    members: tuple[ClusterCandidate, ...]

    def summary(self) -> str:
        """``12 similar refunds of 15.00 USD (shipping), 12 customers``."""
        first = self.members[0]
        amounts = sorted({m.amount for m in self.members if m.amount is not None})
        money = ""
        if amounts:
            low, high = amounts[0], amounts[-1]
            span = f"{low:.2f}" if low == high else f"{low:.2f} to {high:.2f}"
            money = f" of {span} {first.currency or ''}".rstrip()
        kind = {"update_field": "field updates", "reply": "replies"}.get(
            first.action_kind, f"{first.action_kind}s"
        )
        customers = len({m.customer.lower() for m in self.members})
        plural = "s" if customers != 1 else ""
        return (
            f"{len(self.members)} similar {kind}{money} ({first.category}), "
            f"{customers} customer{plural}"
        )


def group_clusters(
    candidates: Sequence[ClusterCandidate], *, min_size: int, floor: float = DRAFT_SIMILARITY
) -> list[Cluster]:
    """Clusters of at least ``min_size`` items, oldest first; ``candidates`` oldest first."""
    if min_size < 2:
        return []
    groups: dict[tuple[str, ...], list[ClusterCandidate]] = defaultdict(list)
    for candidate in candidates:
        band = amount_band(candidate.amount) if candidate.amount is not None else "-"
        key = (
            candidate.channel,
            candidate.bucket,
            candidate.action_kind,
            band,
            candidate.currency or "",
        )
        groups[key].append(candidate)
    clusters: list[Cluster] = []
    for (channel, bucket, *_), members in groups.items():
        if len(members) < min_size:
            continue
        heads: list[list[ClusterCandidate]] = []
        for member in members:
            home = next(
                (
                    h
                    for h in heads
                    if len(h) < MAX_MEMBERS and similarity(h[0].draft, member.draft) >= floor
                ),
                None,
            )
            if home is None:
                heads.append([member])
            else:
                home.append(member)
        clusters.extend(
            Cluster(bucket, channel, tuple(group)) for group in heads if len(group) >= min_size
        )
    return clusters
