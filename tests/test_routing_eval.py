"""The BANKING77 routing evaluation: counts on a tiny generated CSV, the mapping, the skip path.

The real dataset lives outside the project (``../shared/datasets/banking77``) and may be absent;
the tests that need it skip with a reason, everything else runs on a CSV written to tmp_path.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.routing_eval import (
    ATTENTION,
    HIGH,
    INFORMATIONAL,
    INTENT_RISK,
    default_dataset_path,
    evaluate,
    run,
)

ROWS = [
    # high: the heuristic auto-replies to the first two, the legal word stops the third
    ("My card was stolen yesterday, what should I do?", "lost_or_stolen_card"),
    ("There is a payment I do not recognise on my statement.", "card_payment_not_recognised"),
    ("I want to dispute this charge, it is fraud.", "card_payment_not_recognised"),
    # high: a refund with a small amount is auto-executed by the heuristic
    ("Please refund the $20 I was charged.", "request_refund"),
    # informational: answered automatically
    ("What is the exchange rate for euros?", "exchange_rate"),
    ("How long does card delivery take?", "card_delivery_estimate"),
    ("Which countries do you support?", "country_support"),
    # informational, but an angry word sends it to a human
    ("This exchange rate is ridiculous, what is it today?", "exchange_rate"),
    # attention
    ("My top-up is still pending.", "pending_top_up"),
    # not in the mapping
    ("Something else entirely", "brand_new_intent"),
]


def _write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "category"])
        writer.writerows(rows)
    return path


def test_the_mapping_puts_every_intent_in_exactly_one_class() -> None:
    assert not (HIGH & INFORMATIONAL or HIGH & ATTENTION or INFORMATIONAL & ATTENTION)
    assert len(INTENT_RISK) == len(HIGH) + len(INFORMATIONAL) + len(ATTENTION) == 77


def test_the_mapping_covers_the_datasets_catalogue() -> None:
    catalogue = default_dataset_path().parent / "categories.json"
    if not catalogue.is_file():
        pytest.skip(f"BANKING77 is not available at {catalogue.parent}")
    assert set(json.loads(catalogue.read_text(encoding="utf-8"))) == set(INTENT_RISK)


async def test_the_report_counts_auto_executions_per_class_and_intent(tmp_path: Path) -> None:
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    report = await evaluate(dataset)
    data = report.to_json()

    assert data["messages"] == len(ROWS)
    assert data["classifier"] == "heuristic"
    assert data["thresholds"]["refund_auto_limit"] == "50"
    high = data["classes"]["high"]
    assert (high["messages"], high["auto"]) == (4, 3)
    assert high["auto_actions"] == {"reply": 2, "refund": 1}
    informational = data["classes"]["informational"]
    assert (informational["messages"], informational["auto"]) == (4, 3)
    assert informational["auto_share"] == 0.75
    assert data["classes"]["unmapped"]["messages"] == 1

    goals = data["goals"]
    assert goals["high_risk_auto_executed"] == {"value": 3, "goal": "== 0", "met": False}
    assert goals["informational_auto_share"]["met"] is True

    misrouted = {row["intent"]: row for row in data["misroutes"]["high_risk_auto_executed"]}
    assert set(misrouted) == {
        "lost_or_stolen_card",
        "card_payment_not_recognised",
        "request_refund",
    }
    assert misrouted["request_refund"]["auto_actions"] == {"refund": 1}
    assert misrouted["lost_or_stolen_card"]["examples"] == [ROWS[0][0]]
    review = data["misroutes"]["informational_sent_to_review"]
    assert [row["intent"] for row in review] == ["exchange_rate"]
    assert review[0]["policies"] == {"low_risk_auto": 1, "risk_threshold": 1}

    assert data["per_intent"]["card_payment_not_recognised"] == {
        "class": "high",
        "messages": 2,
        "auto": 1,
        "review": 1,
    }
    assert data["timing"]["messages_per_second"] is not None
    json.dumps(data)  # the whole report is JSON


async def test_limit_reads_only_the_first_rows(tmp_path: Path) -> None:
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    report = await evaluate(dataset, limit=3)
    assert report.to_json()["messages"] == 3


def test_run_prints_json_and_writes_the_output_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    output = tmp_path / "report.json"
    assert run(dataset, output=output) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(output.read_text(encoding="utf-8"))
    assert printed["goals"]["high_risk_auto_executed"]["value"] == 3


def test_run_skips_cleanly_when_the_dataset_is_absent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "banking77" / "train.csv"
    assert run(missing) == 0
    out = capsys.readouterr().out
    assert out.startswith("Skipping the routing evaluation: BANKING77 was not found at ")
    assert str(missing) in out


def test_a_csv_without_the_expected_columns_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "train.csv"
    bad.write_text("message,label\nhello,x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="text,category"):
        run(bad)


def test_the_real_dataset_runs_end_to_end_when_present(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dataset = default_dataset_path()
    if not dataset.is_file():
        pytest.skip(f"BANKING77 is not available at {dataset}")
    assert run(dataset, limit=300) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["messages"] == 300
    assert data["classes"]["unmapped"]["messages"] == 0
