"""``python -m bot eval``: how the real routing treats text written by people outside the project.

BANKING77 (PolyAI, CC BY 4.0) holds about 10,000 customer messages to a bank, each labelled with
one of 77 intents; ``bot.entrypoints.banking77_intents`` says, per intent, what a careful support
lead would expect: ``high`` (never without a human), ``informational`` (what automation is for)
or ``attention`` (stuck or broken: reported, not scored).

Each message goes through the given classifier (the embedded heuristic by default), then the
same rule floor and routing the pipeline uses (``policies.risk_rules.risk_floor`` and
``policies.routing.decide_route`` with default ``Thresholds``). The report says how many
high-risk messages would have been auto-executed (goal: none), what share of informational ones
would have been answered automatically (goal: over 60 %), which intents are misrouted and how
long it took, so the same command also serves as a benchmark.

``python -m bot eval --rows even|odd|all`` picks half of the data: the embedded classifier's
signals were designed and tuned on the even rows only, so the odd rows are the held-out half and
say how the rules do on messages nobody read while writing them.

The dataset is read in place and never copied into the project. Where the folder is absent the
evaluation is skipped with a message and exit status 0, so a checkout without it still works.
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

from bot.assess.assessment import Classifier
from bot.assess.heuristic import HeuristicClassifier
from bot.entrypoints.banking77_intents import INTENT_RISK, RiskClass
from bot.errors import AssessmentUnavailableError
from bot.tickets import Customer, TicketIn
from policies.risk_rules import TicketFacts, risk_floor
from policies.routing import Route, decide_route
from policies.thresholds import Thresholds

__all__ = [
    "DEFAULT_DATASET",
    "ROW_SELECTIONS",
    "EvalReport",
    "default_dataset_path",
    "evaluate",
    "route_ticket",
    "run",
]

# Which data rows to read, numbered from 0 after the header. The classifier is designed and tuned
# on the even rows only; the odd rows are held out, so a report on them says how the rules do on
# messages nobody looked at while writing them.
RowSelection = Literal["all", "even", "odd"]
ROW_SELECTIONS: tuple[str, ...] = get_args(RowSelection)

HIGH_AUTO_GOAL = 0
INFORMATIONAL_AUTO_GOAL = 0.60
_EXAMPLES = 3

DEFAULT_DATASET = Path("..") / "shared" / "datasets" / "banking77" / "train.csv"


def default_dataset_path() -> Path:
    """``../shared/datasets/banking77/train.csv`` next to the project root (where it lives in
    this workspace), independent of the current directory."""
    project_root = Path(__file__).resolve().parents[2]
    return (project_root / DEFAULT_DATASET).resolve()


@dataclass
class _IntentTally:
    risk_class: RiskClass | Literal["unmapped"]
    messages: int = 0
    auto: int = 0
    policies: Counter[str] = field(default_factory=Counter)
    # Action kinds of the auto-executed messages: an auto reply is not an auto refund.
    auto_actions: Counter[str] = field(default_factory=Counter)
    auto_examples: list[str] = field(default_factory=list)
    review_examples: list[str] = field(default_factory=list)


@dataclass
class EvalReport:
    """The evaluation's result; :meth:`to_json` is what ``python -m bot eval`` prints."""

    dataset: str
    rows: RowSelection
    classifier: str
    thresholds: Thresholds
    intents: dict[str, _IntentTally]
    latencies: list[float]
    seconds: float
    missing_intents: list[str]

    def _class_totals(self, risk_class: str) -> dict[str, Any]:
        tallies = [t for t in self.intents.values() if t.risk_class == risk_class]
        messages = sum(t.messages for t in tallies)
        auto = sum(t.auto for t in tallies)
        actions: Counter[str] = Counter()
        for tally in tallies:
            actions.update(tally.auto_actions)
        return {
            "intents": len(tallies),
            "messages": messages,
            "auto": auto,
            "review": messages - auto,
            "auto_share": round(auto / messages, 4) if messages else None,
            "auto_actions": dict(actions.most_common()),
        }

    @property
    def high_auto(self) -> int:
        return sum(t.auto for t in self.intents.values() if t.risk_class == "high")

    @property
    def informational_auto_share(self) -> float:
        totals = self._class_totals("informational")
        share = totals["auto_share"]
        return float(share) if share is not None else 0.0

    def to_json(self) -> dict[str, Any]:
        messages = sum(t.messages for t in self.intents.values())
        high = sorted(
            ((name, t) for name, t in self.intents.items() if t.risk_class == "high" and t.auto),
            key=lambda pair: (-pair[1].auto, pair[0]),
        )
        informational = sorted(
            (
                (name, t)
                for name, t in self.intents.items()
                if t.risk_class == "informational" and t.messages > t.auto
            ),
            key=lambda pair: (pair[1].auto - pair[1].messages, pair[0]),
        )
        high_misroutes = [
            {
                "intent": name,
                "messages": t.messages,
                "auto": t.auto,
                "auto_actions": dict(t.auto_actions.most_common()),
                "policies": dict(t.policies.most_common()),
                "examples": t.auto_examples,
            }
            for name, t in high
        ]
        informational_misroutes = [
            {
                "intent": name,
                "messages": t.messages,
                "review": t.messages - t.auto,
                "policies": dict(t.policies.most_common()),
                "examples": t.review_examples,
            }
            for name, t in informational
        ]
        ordered = sorted(self.latencies)
        return {
            "dataset": self.dataset,
            "rows": self.rows,
            "attribution": "BANKING77 by PolyAI (Casanueva et al., 2020), CC BY 4.0",
            "classifier": self.classifier,
            "thresholds": self.thresholds.to_strings(),
            "messages": messages,
            "goals": {
                "high_risk_auto_executed": {
                    "value": self.high_auto,
                    "goal": f"== {HIGH_AUTO_GOAL}",
                    "met": self.high_auto == HIGH_AUTO_GOAL,
                },
                "informational_auto_share": {
                    "value": round(self.informational_auto_share, 4),
                    "goal": f"> {INFORMATIONAL_AUTO_GOAL}",
                    "met": self.informational_auto_share > INFORMATIONAL_AUTO_GOAL,
                },
            },
            "classes": {
                name: self._class_totals(name)
                for name in ("high", "informational", "attention", "unmapped")
            },
            "misroutes": {
                "high_risk_auto_executed": high_misroutes,
                "informational_sent_to_review": informational_misroutes,
            },
            "per_intent": {
                name: {
                    "class": t.risk_class,
                    "messages": t.messages,
                    "auto": t.auto,
                    "review": t.messages - t.auto,
                }
                for name, t in sorted(self.intents.items())
            },
            "intents_in_catalogue_but_not_in_data": self.missing_intents,
            "timing": {
                "seconds": round(self.seconds, 3),
                "messages_per_second": round(messages / self.seconds, 1) if self.seconds else None,
                "p50_ms": round(statistics.median(ordered) * 1000, 3) if ordered else None,
                "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 3)
                if ordered
                else None,
            },
        }


def _rows(
    path: Path, limit: int | None, rows: RowSelection = "all"
) -> Iterator[tuple[int, str, str]]:
    """``(row number, text, intent)`` for the selected rows; ``limit`` counts selected rows."""
    if rows not in ROW_SELECTIONS:
        raise ValueError(f"rows must be one of {', '.join(ROW_SELECTIONS)}, not {rows!r}")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"text", "category"} <= set(reader.fieldnames):
            raise ValueError(f"{path} must have the columns text,category")
        count = 0
        for number, row in enumerate(reader):
            if rows != "all" and number % 2 != (0 if rows == "even" else 1):
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield number, row["text"] or "", row["category"] or ""


def _catalogue(path: Path) -> list[str]:
    """Intents listed in ``categories.json`` beside the CSV, if it is there."""
    listing = path.parent / "categories.json"
    if not listing.is_file():
        return []
    names = json.loads(listing.read_text(encoding="utf-8"))
    return [str(name) for name in names] if isinstance(names, list) else []


async def evaluate(
    path: Path,
    *,
    classifier: Classifier | None = None,
    thresholds: Thresholds | None = None,
    limit: int | None = None,
    rows: RowSelection = "all",
) -> EvalReport:
    """Route every message of ``path`` the way the pipeline would, and tally the outcome."""
    classifier = classifier or HeuristicClassifier()
    thresholds = thresholds or Thresholds()
    customer = Customer(name="Bank Customer", email="customer@example.com")
    intents: dict[str, _IntentTally] = {}
    latencies: list[float] = []
    started = time.perf_counter()
    for number, text, intent in _rows(path, limit, rows):
        tally = intents.get(intent)
        if tally is None:
            tally = intents[intent] = _IntentTally(INTENT_RISK.get(intent, "unmapped"))
        one = time.perf_counter()
        ticket = TicketIn(
            id=f"b77-{number}", kind="ticket", subject="", body=text, customer=customer
        )
        route, policy, action = await route_ticket(classifier, ticket, thresholds)
        latencies.append(time.perf_counter() - one)
        tally.messages += 1
        tally.policies[policy] += 1
        if route == Route.AUTO:
            tally.auto += 1
            tally.auto_actions[action] += 1
            if len(tally.auto_examples) < _EXAMPLES:
                tally.auto_examples.append(text)
        elif len(tally.review_examples) < _EXAMPLES:
            tally.review_examples.append(text)
    seconds = time.perf_counter() - started
    missing = sorted(set(_catalogue(path)) - set(intents))
    return EvalReport(
        dataset=str(path),
        rows=rows,
        classifier=classifier.name,
        thresholds=thresholds,
        intents=intents,
        latencies=latencies,
        seconds=seconds,
        missing_intents=missing,
    )


async def route_ticket(
    classifier: Classifier, ticket: TicketIn, thresholds: Thresholds
) -> tuple[Route, str, str]:
    """The pipeline's assess and route steps without the database: same inputs, same policy."""
    try:
        assessment = await classifier.assess(ticket)
    except AssessmentUnavailableError:
        return Route.REVIEW, "assessment_unavailable", "none"
    action = assessment.action
    facts = TicketFacts.of(
        text=f"{ticket.subject}\n{ticket.body}",
        action=action.model_dump(mode="json", exclude_none=True),
        requested=(
            ticket.requested_action.model_dump(mode="json", exclude_none=True)
            if ticket.requested_action
            else None
        ),
        customer_tier=ticket.customer.tier,
        sentiment=assessment.sentiment,
        category=assessment.category,
    )
    floor = risk_floor(facts, thresholds)
    decision = decide_route(
        facts=facts, floor=floor, model_risk=assessment.risk_level, thresholds=thresholds
    )
    return decision.route, decision.policy, action.kind


def run(
    dataset: Path | None = None,
    *,
    limit: int | None = None,
    output: Path | None = None,
    rows: RowSelection = "all",
) -> int:
    """The CLI body: print the JSON report (and write it to ``output``); exit status 0 also when
    the dataset is absent, because a checkout without it is a normal place to run."""
    import asyncio

    path = dataset if dataset is not None else default_dataset_path()
    if not path.is_file():
        print(f"Skipping the routing evaluation: BANKING77 was not found at {path}.")
        print("Pass --dataset PATH to point at banking77/train.csv.")
        return 0
    report = asyncio.run(evaluate(path, limit=limit, rows=rows))
    text = json.dumps(report.to_json(), indent=2, ensure_ascii=False)
    print(text)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    return 0
