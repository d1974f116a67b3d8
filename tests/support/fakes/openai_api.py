"""A local OpenAI-compatible server (``POST /v1/chat/completions``) for tests of the LLM step.

The ``openai`` SDK 3.x has its own HTTP client, so nothing can intercept it in-process; the real
client talks to this server through ``base_url`` instead, which also exercises the SDK's own
retries, timeouts, ``Retry-After`` handling and structured-output parsing exactly as production.

What it can do, one scripted behaviour per request (queued with :meth:`FakeOpenAI.script`, the
default answering with valid structured output):

* :class:`Structured` — ``message.content`` is a JSON string. The object comes from the
  behaviour or from the fake's ``answer`` hook (a callable that sees the request, so a test can
  answer "low risk, approve a refund" to every ticket). It is checked against the JSON schema the
  client sent, the way strict structured outputs guarantee; a scripted answer that does not
  match is a bug in the test and is answered with a 500 and recorded in ``schema_problems``.
* :class:`RateLimited` (429 with ``Retry-After``), :class:`ServerError` (500),
  :class:`Slow` (answers after a delay, past the client's timeout),
* :class:`Refusal` (``message.refusal`` set), :class:`Truncated` (``finish_reason: length``
  with cut-off JSON), :class:`ContentFiltered` (``finish_reason: content_filter``),
* :class:`RawContent` — any string as ``message.content``: malformed JSON, or JSON that
  violates the schema (see :func:`schema_violation`).

Every answer carries ``usage`` with ``prompt_tokens_details.cached_tokens``. Token counts are
estimates (four characters a token); cached tokens imitate provider prompt caching: the longest
prefix (response format, then messages in order) shared with an earlier request, counted in
128-token blocks once it reaches 1024 tokens. That makes a stable prompt prefix measurable.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from tests.support.fakes.loopback import FakeServer, JsonHandler, RecordingServer
from tests.support.model_answers import model_answer

__all__ = [
    "Behaviour",
    "ChatRequest",
    "ContentFiltered",
    "FakeOpenAI",
    "RateLimited",
    "RawContent",
    "Refusal",
    "ServerError",
    "Slow",
    "Structured",
    "Truncated",
    "schema_violation",
    "validate_json_schema",
]

_CHARS_PER_TOKEN = 4
_CACHE_MIN_TOKENS = 1024
_CACHE_BLOCK_TOKENS = 128


@dataclass
class ChatRequest:
    """One request the fake received, kept so tests can assert on what the classifier sent."""

    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    def message_text(self, role: str) -> str:
        """All ``content`` of the messages with ``role``, joined; "" when there are none."""
        return "\n".join(str(m.get("content", "")) for m in self.messages if m.get("role") == role)

    @property
    def schema(self) -> dict[str, Any] | None:
        """The JSON schema of ``response_format`` (json_schema type), if the client sent one."""
        response_format = self.body.get("response_format")
        if not isinstance(response_format, dict):
            return None
        json_schema = response_format.get("json_schema")
        if not isinstance(json_schema, dict):
            return None
        schema = json_schema.get("schema")
        return schema if isinstance(schema, dict) else None

    @property
    def retry_count(self) -> int:
        """Which retry of the same call this was (the SDK sends ``x-stainless-retry-count``)."""
        try:
            return int(self.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            return 0


Answer = Callable[[ChatRequest], dict[str, Any]]


@dataclass(frozen=True)
class Structured:
    """Valid structured output: ``output`` or, when it is None, whatever the fake's hook says."""

    output: dict[str, Any] | None = None


@dataclass(frozen=True)
class RateLimited:
    """429 with ``Retry-After`` (seconds; fractions are accepted by the SDK)."""

    retry_after: float = 0.0


@dataclass(frozen=True)
class ServerError:
    status: int = 500


@dataclass(frozen=True)
class Slow:
    """Answer with ``then`` after ``seconds``; the wait ends early when the fake stops."""

    seconds: float
    then: Structured = field(default_factory=Structured)


@dataclass(frozen=True)
class Refusal:
    message: str = "I'm sorry, but I can't help with that request."


@dataclass(frozen=True)
class Truncated:
    """``finish_reason: length`` with the first part of a valid answer: cut-off JSON."""


@dataclass(frozen=True)
class ContentFiltered:
    """``finish_reason: content_filter``, as when a provider's filter blocks the answer."""


@dataclass(frozen=True)
class RawContent:
    """``message.content`` exactly as given (malformed JSON, schema violations)."""

    content: str


Behaviour = (
    Structured
    | RateLimited
    | ServerError
    | Slow
    | Refusal
    | Truncated
    | ContentFiltered
    | RawContent
)


def schema_violation(output: dict[str, Any], **action: Any) -> RawContent:
    """``output`` with its action changed (e.g. ``kind="wire_transfer"``), sent unchecked."""
    changed = json.loads(json.dumps(output))
    changed["action"] = {**changed.get("action", {}), **action}
    return RawContent(json.dumps(changed))


def _default_answer(request: ChatRequest) -> dict[str, Any]:
    """A harmless, valid answer: a low-risk informational reply."""
    return model_answer(
        draft_reply="Hi there,\n\nThanks for getting in touch. Here is the answer.\n\nBest"
    )


# --- A small JSON-schema checker: the subset strict structured outputs use -------------------


def validate_json_schema(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> list[str]:
    """Problems with ``value`` against ``schema`` (empty when it conforms)."""
    return _check(value, schema, root, "$")


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        return schema
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    merged = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return merged


def _type_ok(value: Any, expected: str) -> bool:
    checks: dict[str, Callable[[Any], bool]] = {
        "string": lambda v: isinstance(v, str),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "null": lambda v: v is None,
    }
    return checks.get(expected, lambda v: False)(value)


def _check(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str) -> list[str]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        variants = [_check(value, variant, root, path) for variant in schema["anyOf"]]
        if all(variants):
            return [f"{path}: matches no variant ({'; '.join(v[0] for v in variants)})"]
        return []
    problems: list[str] = []
    expected = schema.get("type")
    if expected is not None:
        types = expected if isinstance(expected, list) else [expected]
        if not any(_type_ok(value, t) for t in types):
            return [f"{path}: expected {expected}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        problems.append(f"{path}: {value!r} is not {schema['const']!r}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        problems.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        properties: dict[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{path}.{name}: required")
        for name, item in value.items():
            if name in properties:
                problems.extend(_check(item, properties[name], root, f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                problems.append(f"{path}.{name}: not allowed")
    if isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            problems.append(f"{path}: more than {schema['maxItems']} items")
        if "minItems" in schema and len(value) < schema["minItems"]:
            problems.append(f"{path}: fewer than {schema['minItems']} items")
        items = schema.get("items")
        if isinstance(items, dict):
            for index, item in enumerate(value):
                problems.extend(_check(item, items, root, f"{path}[{index}]"))
    return problems


def strict_schema_problems(schema: Any, path: str = "$") -> list[str]:
    """What a strict-mode provider would refuse: objects must list every property as required
    and forbid additional properties."""
    problems: list[str] = []
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            if schema.get("additionalProperties") is not False:
                problems.append(f"{path}: additionalProperties must be false")
            if sorted(schema.get("required", [])) != sorted(properties):
                problems.append(f"{path}: every property must be required")
        for key, child in schema.items():
            problems.extend(strict_schema_problems(child, f"{path}.{key}"))
    elif isinstance(schema, list):
        for index, child in enumerate(schema):
            problems.extend(strict_schema_problems(child, f"{path}[{index}]"))
    return problems


# --- The HTTP server --------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class _Handler(JsonHandler):
    """HTTP/1.0 (the default) so every answer closes its connection: no idle sockets linger."""

    methods = frozenset({"POST"})
    server: FakeServer[FakeOpenAI]

    def respond(self) -> None:
        headers, raw = self.read_request()
        fake = self.server.fake
        fake._enter()
        try:
            reply = fake._handle(self.path, headers, raw)
            if reply.delay > 0 and fake._stopping.wait(reply.delay):
                return  # the fake is shutting down: drop the request
        finally:
            fake._leave()
        self.send_json(reply.status, json.dumps(reply.body).encode("utf-8"), reply.headers)


class FakeOpenAI(RecordingServer[ChatRequest]):
    """OpenAI-compatible chat completions on 127.0.0.1; point the SDK at :attr:`base_url`."""

    # How many earlier prompts the imitation of prompt caching compares a new one with (None:
    # all of them, which is quadratic over a long run).
    remembered_prompts: int | None = None

    def __init__(self, answer: Answer | None = None, *, api_key: str | None = None) -> None:
        super().__init__()
        self.answer: Answer = answer or _default_answer
        # Picks a behaviour from the request itself (None: use the script, then the default), so
        # tests whose items are processed concurrently can still give each ticket its own fate.
        self.choose: Callable[[ChatRequest], Behaviour | None] | None = None
        self.api_key = api_key
        self.max_in_flight = 0
        self._in_flight = 0
        self.schema_problems: list[str] = []
        self._script: list[Behaviour] = []
        self._default: Behaviour = Structured()
        self._prompts: list[str] = []
        self._counter = 0
        self._stopping = threading.Event()

    # -- lifecycle ---------------------------------------------------------------------------

    def _make_server(self) -> FakeServer[Self]:
        return FakeServer(_Handler, self)

    def _before_start(self) -> None:
        self._stopping.clear()

    def _before_stop(self) -> None:
        self._stopping.set()  # ends any slow answer at once

    @property
    def base_url(self) -> str:
        """What ``OPENAI_BASE_URL`` should be."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection ------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with ``behaviours``, in order, then with the default."""
        with self._lock:
            self._script.extend(behaviours)

    def always(self, behaviour: Behaviour) -> None:
        """Answer every request without a scripted behaviour with ``behaviour``."""
        with self._lock:
            self._default = behaviour

    # -- request handling (server threads) ---------------------------------------------------

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def _handle(self, path: str, headers: dict[str, str], raw: bytes) -> _Reply:
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return _error(400, "invalid_request_error", "request body is not JSON")
        if not isinstance(body, dict):
            return _error(400, "invalid_request_error", "request body must be an object")
        request = ChatRequest(path, headers, body, time.time())
        chosen = self.choose(request) if self.choose is not None else None
        with self._lock:
            self._requests.append(request)
            if chosen is not None:
                behaviour = chosen
            else:
                behaviour = self._script.pop(0) if self._script else self._default
            self._counter += 1
            number = self._counter
        if path.rstrip("/") != "/v1/chat/completions":
            return _error(404, "invalid_request_error", f"unknown path {path}")
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "invalid_api_key", "Incorrect API key provided.")
        problem = self._request_problem(request)
        if problem:
            return _error(400, "invalid_request_error", problem)
        return self._answer(request, behaviour, number)

    def _request_problem(self, request: ChatRequest) -> str | None:
        if not isinstance(request.body.get("model"), str) or not request.messages:
            return "model and messages are required"
        response_format = request.body.get("response_format")
        if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
            return "this fake only answers structured-output (json_schema) requests"
        if response_format.get("json_schema", {}).get("strict") is not True:
            return "response_format.json_schema.strict must be true"
        problems = strict_schema_problems(request.schema)
        if problems:
            return "Invalid schema for response_format: " + "; ".join(problems[:3])
        return None

    def _answer(self, request: ChatRequest, behaviour: Behaviour, number: int) -> _Reply:
        if isinstance(behaviour, RateLimited):
            reply = _error(429, "rate_limit_exceeded", "Rate limit reached for requests")
            reply.headers["retry-after"] = f"{behaviour.retry_after:g}"
            return reply
        if isinstance(behaviour, ServerError):
            return _error(behaviour.status, "server_error", "The server had an error")
        delay = 0.0
        if isinstance(behaviour, Slow):
            delay, behaviour = behaviour.seconds, behaviour.then
        content: str | None
        refusal: str | None = None
        finish = "stop"
        if isinstance(behaviour, Structured):
            output = behaviour.output if behaviour.output is not None else self.answer(request)
            schema = request.schema or {}
            problems = validate_json_schema(output, schema, schema)
            if problems:
                with self._lock:
                    self.schema_problems.extend(problems)
                return _error(
                    500, "fake_misuse", "scripted answer breaks the schema: " + problems[0]
                )
            content = json.dumps(output)
        elif isinstance(behaviour, Refusal):
            content, refusal = None, behaviour.message
        elif isinstance(behaviour, Truncated):
            whole = json.dumps(self.answer(request))
            content, finish = whole[: len(whole) // 2], "length"
        elif isinstance(behaviour, ContentFiltered):
            content, finish = None, "content_filter"
        else:
            content = behaviour.content
        body = self._completion(request, number, content, refusal, finish)
        return _Reply(200, body, {"x-request-id": f"req_fake_{number}"}, delay)

    def _completion(
        self,
        request: ChatRequest,
        number: int,
        content: str | None,
        refusal: str | None,
        finish: str,
    ) -> dict[str, Any]:
        prompt = json.dumps(request.body.get("response_format"), sort_keys=True) + "".join(
            f"\n<{m.get('role')}>{m.get('content')}" for m in request.messages
        )
        prompt_tokens = max(1, len(prompt) // _CHARS_PER_TOKEN)
        completion_tokens = max(1, len(content or refusal or "") // _CHARS_PER_TOKEN)
        with self._lock:
            shared = max((_common_prefix(prompt, seen) for seen in self._prompts), default=0)
            self._prompts.append(prompt)
            if self.remembered_prompts is not None:
                del self._prompts[: -self.remembered_prompts]
        shared_tokens = shared // _CHARS_PER_TOKEN
        cached = 0
        if shared_tokens >= _CACHE_MIN_TOKENS:
            cached = shared_tokens // _CACHE_BLOCK_TOKENS * _CACHE_BLOCK_TOKENS
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.body.get("model"),
            "system_fingerprint": "fp_fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content, "refusal": refusal},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "prompt_tokens_details": {"cached_tokens": min(cached, prompt_tokens)},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }


def _common_prefix(a: str, b: str) -> int:
    limit = min(len(a), len(b))
    index = 0
    while index < limit and a[index] == b[index]:
        index += 1
    return index


def _error(status: int, code: str, message: str) -> _Reply:
    return _Reply(
        status,
        {"error": {"message": message, "type": code, "param": None, "code": code}},
    )
