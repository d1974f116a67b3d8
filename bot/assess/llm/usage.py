"""What one LLM call cost and what the audit log keeps about it, and the failure that carries it.

Why on its own: the pipeline reads usage (metrics, the item row, the audit event) and catches the
failure without needing the client, and a failed answer was still paid for, so the failure
carries the usage of the attempt (:func:`tokens_from_body` reads it even from a body that does
not parse).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.errors import AssessmentUnavailableError

__all__ = ["LlmAssessmentUnavailableError", "LlmUsage", "tokens_from_body"]


@dataclass(frozen=True)
class LlmUsage:
    """What one assessment cost and what the audit log should keep about it.

    Contains no secrets and no personal data: ``redacted_input`` holds placeholders only, and the
    placeholder mapping is never part of it.
    """

    model: str
    prompt_version: str
    prompt_sha256: str  # names SYSTEM_PROMPT + preamble + schema; the text is in prompt_text
    input_sha256: str  # the cache key: hash of model, prompt and redacted input
    redacted_input: str  # the user message exactly as sent
    redactions: dict[str, int] = field(default_factory=dict)  # label → count, no values
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    latency_seconds: float = 0.0
    retries: int = 0
    cache_hit: bool = False
    request_id: str | None = None
    raw_response: str | None = None  # the provider's response body, as received
    # Past reviewer edits shown as examples (redacted message as sent, and their item ids).
    examples_input: str | None = None
    example_item_ids: list[str] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_record(self) -> dict[str, Any]:
        """JSON-safe fields for the item row or an audit event."""
        record = asdict(self)
        record["latency_seconds"] = round(self.latency_seconds, 4)
        return record


class LlmAssessmentUnavailableError(AssessmentUnavailableError):
    """The LLM step failed; ``usage`` says what the attempt cost, when it got that far."""

    def __init__(self, reason: str, usage: LlmUsage | None = None) -> None:
        super().__init__(reason)
        self.usage = usage


def tokens_from_body(body: str) -> tuple[int, int, int]:
    """(prompt, completion, cached) tokens from the raw response body, whether or not its
    content parsed: a failed answer was still paid for."""
    try:
        data = json.loads(body)
    except ValueError:
        return 0, 0, 0
    usage = data.get("usage") if isinstance(data, dict) else None
    if not isinstance(usage, dict):
        return 0, 0, 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0

    def count(value: object) -> int:
        return value if isinstance(value, int) and value >= 0 else 0

    return count(usage.get("prompt_tokens")), count(usage.get("completion_tokens")), count(cached)
