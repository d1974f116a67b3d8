"""What ``serve`` does to the garbage collector before it starts: the start-up heap is frozen
and young collections are rare (full ones had paused the event loop up to 73 ms under load)."""

from __future__ import annotations

from pathlib import Path

from tests.support.bot_cli import run_python

PROBE = (
    "import gc; from bot.entrypoints.cli import GC_YOUNG_THRESHOLD, _freeze_startup_heap; "
    "default = gc.get_threshold(); _freeze_startup_heap(); "
    "print(default[0], gc.get_threshold()[0], gc.get_freeze_count() > 10_000, GC_YOUNG_THRESHOLD)"
)


def test_serve_freezes_the_start_up_heap_and_collects_young_objects_rarely(
    tmp_path: Path,
) -> None:
    probe = run_python("-c", PROBE, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    default, after, frozen, wanted = probe.stdout.split()
    assert int(default) == 700  # CPython's own, before
    assert int(after) == int(wanted) == 50_000
    assert frozen == "True"
