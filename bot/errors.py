"""Every error Signoff raises on purpose, in one tree.

Why one tree: an edge (an HTTP route, a Slack listener, the CLI) decides what a person sees from
the kind of error, not from the module it came from. ``InputRejectedError`` carries its HTTP
status, so one FastAPI exception handler answers every webhook route; ``UserInputError`` is
shown to a person as is (their typed input could not be used, nothing changed); everything else
is Signoff's own failure and is logged.

    SignoffError
    ├── ConfigurationError            start-up refused: a setting is missing or unsafe
    ├── SchemaOutOfDateError          the database is behind the code (run ``migrate``)
    ├── HttpStartError                a worker's health endpoint could not bind its port
    ├── InputRejectedError (status)   an HTTP request refused before any work (503: not set up)
    │   ├── SignatureError      401
    │   ├── BodyTooLargeError   413
    │   └── PayloadError        400
    ├── UserInputError                a person's typed input: shown to them, nothing changed
    │   └── SettingChangeRefusedError
    ├── AssessmentUnavailableError    no usable assessment: the item goes to a human
    └── ExecutionError                an approved action did not happen
        ├── RetryableError
        ├── PermanentError
        └── ExecutionRefusedError     the last gate found no valid decision: nothing was sent

``policies`` is pure and imports nothing of ``bot``, so its one error
(``policies.thresholds.InvalidThresholdError``) stays there; ``bot.lead_settings`` turns it
into ``SettingChangeRefusedError`` where a lead's change is refused.
"""

from __future__ import annotations


class SignoffError(Exception):
    """Base class for every error Signoff raises on purpose."""


class ConfigurationError(SignoffError):
    """Settings that cannot be used; ``problems`` holds one human-readable line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class SchemaOutOfDateError(SignoffError):
    """The database schema is behind the code: run ``python -m bot migrate`` first."""


class HttpStartError(SignoffError):
    """An HTTP listener could not start (the port is taken, or the address is wrong)."""


class InputRejectedError(SignoffError):
    """A request refused before any work. ``status`` is the HTTP answer; the message, the
    ``summary`` and the ``fields`` are safe to return to the sender (one FastAPI handler does)."""

    status = 400
    #: A short, stable description; when set, the message becomes the detail under it.
    summary: str | None = None

    def __init__(
        self,
        message: str,
        *,
        summary: str | None = None,
        fields: list[dict[str, str]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        if summary is not None:
            self.summary = summary
        if status is not None:
            self.status = status
        self.fields = fields

    def answer(self) -> dict[str, object]:
        """The JSON body of the refusal: ``error`` always, ``detail`` and ``fields`` when known."""
        body: dict[str, object] = {"error": self.summary or str(self)}
        if self.summary is not None and str(self):
            body["detail"] = str(self)
        if self.fields is not None:
            body["fields"] = self.fields
        return body


class SignatureError(InputRejectedError):
    """Why a request's signature was refused (safe to return to the sender)."""

    status = 401
    summary = "invalid signature"


class BodyTooLargeError(InputRejectedError):
    """The body is over the route's limit; refused before it is read whole."""

    status = 413


class PayloadError(InputRejectedError):
    """A signed body that is not what its source sends; the message names the field."""

    status = 400


class UserInputError(SignoffError):
    """A person typed something Signoff cannot use; the message says what to type instead and is
    shown to them as is. Nothing was changed."""


class SettingChangeRefusedError(UserInputError):
    """A lead's setting change that cannot be made as asked: an invalid value, a value that was
    changed meanwhile, a change that is not waiting. The message says why and what to do."""


class AssessmentUnavailableError(SignoffError):
    """No usable assessment; ``reason`` is safe to show a reviewer. The item goes to a human."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ExecutionError(SignoffError):
    """An approved action did not happen; ``status`` is the far side's HTTP status, if any."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        # Seconds the far side asked us to wait (``Retry-After``); the retry waits at least this.
        self.retry_after = retry_after


class RetryableError(ExecutionError):
    """Worth another try with the same idempotency key (a timeout, a 5xx, a 429)."""


class PermanentError(ExecutionError):
    """Another try would fail the same way (a 4xx, a refused payload): a human must look."""


class ExecutionRefusedError(ExecutionError):
    """The last gate found no valid decision for the action: nothing was sent."""
