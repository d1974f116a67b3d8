"""The test fakes, adjusted only where the fake itself would become the bottleneck."""

from __future__ import annotations

from tests.support.fakes.openai_api import FakeOpenAI, Slow, Structured


class BenchOpenAI(FakeOpenAI):
    """FakeOpenAI that answers every request after ``delay`` seconds.

    The fake imitates provider prompt caching by comparing each prompt with every earlier one,
    character by character: over a thousand tickets that is quadratic work in the driver process,
    which would slow the fake and not Signoff. Only the previous prompt is kept, so cached-token
    counts still reflect a shared prefix.
    """

    remembered_prompts = 1

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.always(Slow(delay, Structured()) if delay > 0 else Structured())

    def signoff_settings(self) -> dict[str, str]:
        """The environment that points Signoff's OpenAI classifier at this fake."""
        return {"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": self.base_url}
