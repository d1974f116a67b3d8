"""``OpenAIClassifier``: the ``Classifier`` over ``AsyncOpenAI`` structured outputs.

Why it is built the way it is:

* **Fail closed.** Timeouts, exhausted rate limits, 5xx, connection errors, refusals, content
  filters, truncated or invalid JSON and schema violations all raise
  :class:`~bot.assess.llm.usage.LlmAssessmentUnavailableError` (an
  ``AssessmentUnavailableError``) with a short reason; the pipeline turns that into "AI
  assessment unavailable: <reason>" and a human decides. No redaction means no call.
* **Cost and speed.** A semaphore caps concurrent calls (``SIGNOFF_LLM_CONCURRENCY``); the SDK's
  timeout and retries come from settings; the constant system prompt and schema come first so
  provider-side prompt caching applies; an in-memory LRU cache keyed by a hash of the redacted
  input means an identical ticket delivered again costs no second call, and identical calls in
  flight share one.

Each call's usage (tokens, cached tokens, latency, retries) and audit material (the prompt's
hash, the redacted input, the raw response) come back in ``LlmUsage`` from
:meth:`OpenAIClassifier.assess_with_usage`, and on failure in
``LlmAssessmentUnavailableError.usage``. What is sent is built in
:mod:`bot.assess.llm.model_input`; what comes back is checked in :mod:`bot.assess.llm.answer`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

import openai
import pydantic
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam, ParsedChatCompletion

from bot.assess.assessment import Assessment, Classifier
from bot.assess.edit_examples import EditExample, Embedder
from bot.assess.llm.answer import (
    CheckedAnswer,
    restored_assessment,
    validate_answer,
    validation_reason,
)
from bot.assess.llm.model_input import (
    ChangeRequest,
    ModelInput,
    build_examples_message,
    build_model_input,
)
from bot.assess.llm.prompt import (
    PROMPT_SHA256,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    TicketAssessment,
    prompt_record,
)
from bot.assess.llm.usage import LlmAssessmentUnavailableError, LlmUsage, tokens_from_body
from bot.assess.offload import off_loop
from bot.errors import AssessmentUnavailableError
from bot.logging_setup import get_logger
from bot.settings import Settings
from bot.store.models import PromptText
from bot.tickets import TicketIn

__all__ = ["CACHE_SIZE", "MAX_OUTPUT_TOKENS", "OpenAIClassifier"]

log = get_logger(__name__)

# Enough for a long reply plus a reasoning model's thinking; a longer answer is cut off, which
# fails closed (LengthFinishReasonError) instead of costing without bound.
MAX_OUTPUT_TOKENS = 4096
CACHE_SIZE = 1024
_MAX_REFUSAL_CHARS = 160


def _api_reason(exc: openai.OpenAIError, timeout: float, attempts: int) -> str:
    tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
    if isinstance(exc, openai.APITimeoutError):
        return f"no answer from the model within {timeout:g}s ({tries})"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not connect to the model provider ({tries})"
    if isinstance(exc, openai.RateLimitError):
        return f"rate limited by the model provider (HTTP 429, {tries})"
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return f"the model provider refused the credentials (HTTP {exc.status_code})"
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return f"model provider error (HTTP {exc.status_code}, {tries})"
        code = f", {exc.code}" if exc.code else ""
        return f"the model provider rejected the request (HTTP {exc.status_code}{code})"
    if isinstance(exc, openai.LengthFinishReasonError):
        return "the model's answer was cut off at the length limit"
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return "the provider's content filter blocked the answer"
    if isinstance(exc, openai.APIResponseValidationError):
        return "the model provider sent a response Signoff cannot read"
    return f"the model call failed ({exc.__class__.__name__})"


class OpenAIClassifier(Classifier):
    """The Classifier protocol over ``AsyncOpenAI`` structured outputs; see the module docstring.

    It takes reviewers' past edits as examples, ranks them by embeddings when
    ``SIGNOFF_EMBEDDINGS_MODEL`` is set, and names its prompt by hash in every usage record.

    Create it inside the process that uses it (the SDK's connection pool belongs to the event
    loop that first uses it) and call :meth:`aclose` on shutdown.
    """

    # Similar past reviewer edits go in their own message: better drafts, same cached prefix.
    takes_edit_examples = True
    # A reviewer's Request changes re-drafts through the model (the heuristic opens Edit instead).
    takes_change_requests = True

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        model: str,
        timeout_seconds: float,
        max_retries: int,
        concurrency: int,
        cache_size: int = CACHE_SIZE,
        embeddings_model: str | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self.model = model
        self.embeddings_model = embeddings_model
        self._client = client
        self._timeout = timeout_seconds
        self._max_retries = max_retries
        self._semaphore = asyncio.Semaphore(concurrency)
        self._cache: OrderedDict[str, tuple[CheckedAnswer, LlmUsage]] = OrderedDict()
        self._cache_size = cache_size
        self._inflight: dict[str, asyncio.Future[tuple[CheckedAnswer, LlmUsage]]] = {}

    def forget_cached(self) -> None:
        """Erasure: the cached answers are redacted, but their keys hash the tickets' text."""
        self._cache.clear()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIClassifier:
        """Build from ``OPENAI_*`` and ``SIGNOFF_LLM_CONCURRENCY``; the key must be set."""
        if settings.openai_api_key is None:
            raise ValueError("OPENAI_API_KEY is not set")
        client = AsyncOpenAI(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            timeout=settings.openai_timeout_seconds,
            max_retries=settings.openai_max_retries,
        )
        return cls(
            client,
            model=settings.openai_model,
            timeout_seconds=settings.openai_timeout_seconds,
            max_retries=settings.openai_max_retries,
            concurrency=settings.llm_concurrency,
            embeddings_model=settings.embeddings_model,
        )

    def embedder(self) -> Embedder | None:
        """Itself when an embeddings model is set; otherwise past edits are ranked by words."""
        return self if self.embeddings_model else None

    def prompt_record(self) -> PromptText:
        """The row that :data:`~bot.assess.llm.prompt.PROMPT_SHA256` in its usage names."""
        return prompt_record()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors for already redacted ``texts`` from ``SIGNOFF_EMBEDDINGS_MODEL`` (raises when
        it is not set or the call fails; the caller falls back to word counts)."""
        if not self.embeddings_model:
            raise ValueError("SIGNOFF_EMBEDDINGS_MODEL is not set")
        async with self._semaphore:
            response = await self._client.embeddings.create(
                model=self.embeddings_model, input=list(texts)
            )
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]

    async def aclose(self) -> None:
        """Close the SDK's HTTP client (its pooled connections)."""
        await self._client.close()

    async def assess(self, ticket: TicketIn) -> Assessment:
        """Assess one ticket; raises ``AssessmentUnavailableError`` rather than guess."""
        assessment, _ = await self.assess_with_usage(ticket)
        return assessment

    async def assess_with_usage(
        self,
        ticket: TicketIn,
        examples: Sequence[EditExample] = (),
        change: ChangeRequest | None = None,
    ) -> tuple[Assessment, LlmUsage]:
        """Assess one ticket and say what it cost; failures carry their usage too.

        ``examples`` (similar past reviewer edits) go in their own message after the constant
        system prompt, so the cacheable prefix stays the same for every call. A reviewer's
        ``change`` request goes, redacted with the ticket, in its own message after the ticket.
        """
        try:
            model_input = await asyncio.to_thread(build_model_input, ticket, change)
            examples_message = await asyncio.to_thread(build_examples_message, examples)
        except Exception as exc:  # never send unredacted text: no redaction, no call
            log.exception("redaction failed", ticket_id=ticket.id)
            raise LlmAssessmentUnavailableError(
                f"personal data redaction failed ({exc.__class__.__name__})"
            ) from exc
        if examples_message is not None:
            model_input = replace(model_input, examples_message=examples_message)
        key = hashlib.sha256(
            f"{self.model}\n{PROMPT_SHA256}\n{examples_message or ''}\n"
            f"{model_input.user_message}\n{model_input.change_message or ''}".encode()
        ).hexdigest()
        base = LlmUsage(
            model=self.model,
            prompt_version=PROMPT_VERSION,
            prompt_sha256=PROMPT_SHA256,
            input_sha256=key,
            redacted_input=model_input.user_message
            + (f"\n{model_input.change_message}" if model_input.change_message else ""),
            redactions=dict(model_input.redaction.counts),
            examples_input=examples_message,
            example_item_ids=[example.item_id for example in examples],
        )
        checked, usage = await self._checked(key, ticket, model_input, base)
        return restored_assessment(checked, model_input, self.name), usage

    async def _checked(
        self, key: str, ticket: TicketIn, model_input: ModelInput, base: LlmUsage
    ) -> tuple[CheckedAnswer, LlmUsage]:
        """From the cache, from an identical call in flight, or from a new call."""
        cached = self._cache.get(key)
        if cached is not None:
            self._cache.move_to_end(key)
            return cached[0], self._hit(cached[1], base)
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                checked, usage = await asyncio.shield(pending)
                return checked, self._hit(usage, base)
            except AssessmentUnavailableError:
                pass  # the other call failed; this one tries on its own
        future: asyncio.Future[tuple[CheckedAnswer, LlmUsage]] = (
            asyncio.get_running_loop().create_future()
        )
        self._inflight[key] = future
        try:
            result = await self._call(ticket, model_input, base)
        except AssessmentUnavailableError as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody may be waiting
            raise
        except BaseException as exc:
            # Waiters must get an AssessmentUnavailableError (fail closed), never a CancelledError
            # that would end their worker loop.
            future.set_exception(
                LlmAssessmentUnavailableError(
                    f"the shared model call was interrupted ({exc.__class__.__name__})"
                )
            )
            future.exception()
            raise
        finally:
            self._inflight.pop(key, None)
        future.set_result(result)
        self._cache[key] = result
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return result

    @staticmethod
    def _hit(original: LlmUsage, base: LlmUsage) -> LlmUsage:
        """Usage of a cache hit: no tokens, no call; the original call's request id."""
        return replace(base, cache_hit=True, request_id=original.request_id)

    async def _call(
        self, ticket: TicketIn, model_input: ModelInput, base: LlmUsage
    ) -> tuple[CheckedAnswer, LlmUsage]:
        messages: list[ChatCompletionMessageParam] = [{"role": "system", "content": SYSTEM_PROMPT}]
        if model_input.examples_message is not None:
            messages.append({"role": "user", "content": model_input.examples_message})
        messages.append({"role": "user", "content": model_input.user_message})
        if model_input.change_message is not None:
            messages.append({"role": "user", "content": model_input.change_message})
        async with self._semaphore:
            started = time.perf_counter()
            try:
                raw = await self._client.chat.completions.with_raw_response.parse(
                    model=self.model,
                    messages=messages,
                    response_format=TicketAssessment,
                    max_completion_tokens=MAX_OUTPUT_TOKENS,
                )
            except openai.OpenAIError as exc:
                usage = replace(base, latency_seconds=time.perf_counter() - started)
                reason = _api_reason(exc, self._timeout, self._max_retries + 1)
                log.warning("llm call failed", reason=reason, ticket_id=ticket.id)
                raise LlmAssessmentUnavailableError(reason, usage) from exc
            latency = time.perf_counter() - started
        prompt_tokens, completion_tokens, cached_tokens = tokens_from_body(raw.text)
        usage = replace(
            base,
            latency_seconds=latency,
            retries=raw.retries_taken,
            request_id=raw.request_id,
            raw_response=raw.text,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cached_tokens=cached_tokens,
        )
        try:
            completion: ParsedChatCompletion[TicketAssessment] = raw.parse()
        except pydantic.ValidationError as exc:
            raise LlmAssessmentUnavailableError(validation_reason(exc), usage) from exc
        except openai.OpenAIError as exc:
            raise LlmAssessmentUnavailableError(_api_reason(exc, self._timeout, 1), usage) from exc
        except Exception as exc:  # a 200 whose body is not a chat completion at all
            raise LlmAssessmentUnavailableError(
                "the model provider sent a response Signoff cannot read "
                f"({exc.__class__.__name__})",
                usage,
            ) from exc
        if not completion.choices:
            raise LlmAssessmentUnavailableError("the model returned no answer", usage)
        message = completion.choices[0].message
        if message.refusal:
            refusal = " ".join(message.refusal.split())[:_MAX_REFUSAL_CHARS]
            raise LlmAssessmentUnavailableError(f"the model refused: {refusal}", usage)
        if message.parsed is None:
            raise LlmAssessmentUnavailableError("the model returned no answer", usage)
        try:
            checked = await off_loop(validate_answer, message.parsed, ticket, model_input)
        except AssessmentUnavailableError as exc:
            raise LlmAssessmentUnavailableError(exc.reason, usage) from exc
        return checked, usage
