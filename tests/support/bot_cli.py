"""``python -m bot …`` as an operator runs it (and ``python …`` likewise): a subprocess with only
the environment given."""

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
    """``python -m bot *args``; ``database_url`` is the ``DATABASE_URL`` it gets."""
    full = {**(env or {})}
    if database_url is not None:
        full["DATABASE_URL"] = database_url
    return run_python("-m", "bot", *args, cwd=cwd, env=full)


def run_python(
    *argv: str, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python *argv`` with only ``PATH``, this checkout on ``PYTHONPATH`` and ``env`` as its
    environment; ``cwd`` (a scratch directory) keeps a developer's ``.env`` out."""
    full = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, *argv],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
