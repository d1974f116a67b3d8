"""The BANKING77 routing evaluation: counts on a tiny generated CSV, the mapping, the skip path.

The real dataset lives outside the project (``../shared/datasets/banking77``) and may be absent;
the tests that need it skip with a reason, everything else runs on a CSV written to tmp_path.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.entrypoints.banking77_intents import ATTENTION, HIGH, INFORMATIONAL, INTENT_RISK
from bot.entrypoints.cli import app
from bot.entrypoints.routing_eval import default_dataset_path, evaluate, run

ROWS = [
    # high: theft, an unrecognised payment and a dispute all go to a human
    ("My card was stolen yesterday, what should I do?", "lost_or_stolen_card"),
    ("There is a payment I do not recognise on my statement.", "card_payment_not_recognised"),
    ("I want to dispute this charge, it is fraud.", "card_payment_not_recognised"),
    # high: a refund read from free text always waits for a human (policies, not the heuristic)
    ("Please refund the $20 for the add-on.", "request_refund"),
    # high by its label, an FAQ by its words (BANKING77 has such rows): a counted misroute
    ("Which cards do you accept?", "balance_not_updated_after_bank_transfer"),
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
    assert (high["messages"], high["auto"]) == (5, 1)
    assert high["auto_actions"] == {"reply": 1}
    informational = data["classes"]["informational"]
    assert (informational["messages"], informational["auto"]) == (4, 3)
    assert informational["auto_share"] == 0.75
    assert data["classes"]["unmapped"]["messages"] == 1

    goals = data["goals"]
    assert goals["high_risk_auto_executed"] == {"value": 1, "goal": "== 0", "met": False}
    assert goals["informational_auto_share"]["met"] is True

    misrouted = {row["intent"]: row for row in data["misroutes"]["high_risk_auto_executed"]}
    assert set(misrouted) == {"balance_not_updated_after_bank_transfer"}
    assert misrouted["balance_not_updated_after_bank_transfer"]["examples"] == [ROWS[4][0]]
    assert data["per_intent"]["request_refund"]["auto"] == 0
    review = data["misroutes"]["informational_sent_to_review"]
    assert [row["intent"] for row in review] == ["exchange_rate"]
    assert review[0]["policies"] == {"low_risk_auto": 1, "risk_threshold": 1}

    assert data["per_intent"]["card_payment_not_recognised"] == {
        "class": "high",
        "messages": 2,
        "auto": 0,
        "review": 2,
    }
    assert data["rows"] == "all"
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
    assert printed["goals"]["high_risk_auto_executed"]["value"] == 1


async def test_rows_selects_even_or_odd_data_rows(tmp_path: Path) -> None:
    """Row numbers count data rows from 0, so "even" is the design half and "odd" the held-out
    half; together they are every row exactly once."""
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    even = (await evaluate(dataset, rows="even")).to_json()
    odd = (await evaluate(dataset, rows="odd")).to_json()
    assert (even["rows"], odd["rows"]) == ("even", "odd")
    assert even["messages"] == 6 and odd["messages"] == 5
    # even: rows 0 (stolen), 2 (dispute), 4 (mislabelled FAQ), ...; odd: 1, 3 (refund), ...
    assert even["per_intent"]["lost_or_stolen_card"]["messages"] == 1
    assert "lost_or_stolen_card" not in odd["per_intent"]
    assert even["per_intent"]["card_payment_not_recognised"]["messages"] == 1
    assert odd["per_intent"]["card_payment_not_recognised"]["messages"] == 1
    assert even["per_intent"]["balance_not_updated_after_bank_transfer"]["auto"] == 1
    assert odd["per_intent"]["request_refund"]["auto"] == 0
    assert even["goals"]["high_risk_auto_executed"]["value"] == 1


async def test_limit_counts_selected_rows(tmp_path: Path) -> None:
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    report = (await evaluate(dataset, rows="odd", limit=2)).to_json()
    assert report["messages"] == 2
    assert set(report["per_intent"]) == {"card_payment_not_recognised", "request_refund"}


async def test_an_unknown_row_selection_is_refused(tmp_path: Path) -> None:
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    with pytest.raises(ValueError, match="rows must be one of all, even, odd"):
        await evaluate(dataset, rows="first")  # type: ignore[arg-type]


def test_the_eval_command_takes_rows_and_prints_the_selected_half(tmp_path: Path) -> None:
    """``python -m bot eval --rows odd``, in process: the one CLI of the evaluation."""
    dataset = _write_csv(tmp_path / "train.csv", ROWS)
    runner = CliRunner()
    result = runner.invoke(app, ["eval", "--dataset", str(dataset), "--rows", "odd"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert (printed["rows"], printed["messages"]) == ("odd", 5)
    refused = runner.invoke(app, ["eval", "--dataset", str(dataset), "--rows", "middle"])
    assert refused.exit_code != 0
    assert "--rows must be all, even or odd" in refused.output


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


async def test_the_held_out_half_keeps_high_risk_away_from_automation() -> None:
    """A regression guard on the real data: the odd rows were held out while the heuristic's
    signals were designed on the even ones (the allow-list of ``bot.assess.informational`` was
    checked against the odd ones once per design). Measured when written: 0 of 1,548 high-risk
    messages auto-answered and 65.4 % of informational ones; the bounds leave room for small
    changes only."""
    dataset = default_dataset_path()
    if not dataset.is_file():
        pytest.skip(f"BANKING77 is not available at {dataset}")
    data = (await evaluate(dataset, rows="odd")).to_json()
    high = data["classes"]["high"]
    assert high["messages"] > 1500
    assert high["auto"] == 0
    assert data["goals"]["informational_auto_share"]["met"] is True
    assert data["goals"]["informational_auto_share"]["value"] > 0.62


async def test_the_tuning_half_auto_answers_no_high_risk_message() -> None:
    """The even rows, which the rules were written on: none of the 1,549 high-risk messages is
    auto-answered (before issue 16's last change one was: a plain reply to "Do you support top
    ups?", labelled ``top_up_reverted``), and 64.9 % of informational ones are."""
    dataset = default_dataset_path()
    if not dataset.is_file():
        pytest.skip(f"BANKING77 is not available at {dataset}")
    data = (await evaluate(dataset, rows="even")).to_json()
    assert data["classes"]["high"]["auto"] == 0
    assert data["goals"]["informational_auto_share"]["value"] > 0.62
