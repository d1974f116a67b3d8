"""``python -m bot …`` as an operator runs it: a subprocess with only the environment given."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_bot(
    *args: str,
    database_url: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``env`` adds settings; ``cwd`` (a scratch directory) keeps a developer's ``.env`` out."""
    full = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **(env or {})}
    if database_url is not None:
        full["DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
