"""What a process imports decides its memory and start-up time: without ``OPENAI_API_KEY`` the
OpenAI SDK is never imported, and nothing imports Presidio, spaCy or numpy at all (personal data
is found by ``bot.assess.pii_detectors``). A fresh interpreter per case, since a test process has
imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("openai", "presidio_analyzer", "spacy", "numpy")

_PROBE = """
import json, sys
from bot.entrypoints.server import create_app
from bot.assess.pii_redaction import redact, warm_up
from bot.runtime import build_classifier
from bot.settings import Settings
warm_up()
redact("card 4111 1111 1111 1111, +44 20 7946 0958")
classifier = build_classifier(Settings(_env_file=None, **json.loads(sys.argv[1])))
print(json.dumps([type(classifier).__name__] + sorted(m for m in %r if m in sys.modules)))
"""


def _imported(settings: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE % (HEAVY,), json.dumps(settings)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    result: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_without_a_key_neither_the_openai_sdk_nor_presidio_is_imported() -> None:
    assert _imported({}) == ["HeuristicClassifier"]


def test_with_a_key_the_sdk_is_imported_and_still_no_presidio() -> None:
    assert _imported({"OPENAI_API_KEY": "sk-test-not-a-real-key"}) == ["OpenAIClassifier", "openai"]
