"""``python -m bot eval``: the routing evaluation as a user runs it, from a shell."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.support.bot_cli import run_bot


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_bot("eval", *args, cwd=cwd)


def test_eval_reports_json_for_a_dataset_and_writes_it(tmp_path: Path) -> None:
    dataset = tmp_path / "train.csv"
    dataset.write_text(
        "text,category\n"
        '"How do I activate my new card?",activate_my_card\n'
        '"There is a payment on my card I did not make",card_payment_not_recognised\n',
        encoding="utf-8",
    )
    output = tmp_path / "report.json"
    result = _run("--dataset", str(dataset), "--output", str(output), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["messages"] == 2
    assert report["classifier"] == "heuristic"
    assert set(report["goals"]) == {"high_risk_auto_executed", "informational_auto_share"}
    assert json.loads(result.stdout) == report
    held_out = _run("--dataset", str(dataset), "--rows", "odd", cwd=tmp_path)
    assert json.loads(held_out.stdout)["messages"] == 1
    assert _run("--dataset", str(dataset), "--rows", "some", cwd=tmp_path).returncode == 2


def test_eval_without_the_dataset_skips_cleanly(tmp_path: Path) -> None:
    result = _run("--dataset", str(tmp_path / "absent.csv"), "--rows", "odd", cwd=tmp_path)
    assert result.returncode == 0
    assert "Skipping the routing evaluation" in result.stdout
