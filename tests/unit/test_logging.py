"""Secrets never reach the logs, even inside exception messages or nested values."""

from __future__ import annotations

import json
import logging

import pytest

from bot.logging_setup import configure_logging, get_logger


def test_secret_values_are_scrubbed_from_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", ["xoxb-secret-token-value"], json=True)
    try:
        get_logger("test").info(
            "calling slack with xoxb-secret-token-value",
            extra_info={"token": ["xoxb-secret-token-value"]},
            item_id="itm_1",
        )
        logging.getLogger("library").warning("url had xoxb-secret-token-value in it")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert len(lines) == 2
    assert "xoxb-secret-token-value" not in json.dumps(lines)
    assert lines[0]["item_id"] == "itm_1"
    assert lines[0]["extra_info"] == {"token": ["[redacted]"]}
    assert lines[1]["event"] == "url had [redacted] in it"
