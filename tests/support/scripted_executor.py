"""An executor that answers as a test scripts it: Signoff's own ``Executor`` protocol (not an
SDK), so the pipeline's handling of each answer can be tested without a vendor."""

from __future__ import annotations

from typing import Any

from bot.actions.sink import ActionRequest


class ScriptedExecutor:
    """Records every request and answers with the scripted result, or raises the scripted error."""

    name = "scripted"

    def __init__(self, answer: Exception | dict[str, Any]) -> None:
        self.answer = answer
        self.requests: list[ActionRequest] = []

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        self.requests.append(request)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer
