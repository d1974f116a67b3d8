"""Settings from the environment and ``.env``, validated once at start.

pydantic-settings reads ``.env`` through python-dotenv and reports every problem at once;
``load_settings`` turns those into one line per problem so a misconfigured deploy fails with a
message an operator can act on rather than a traceback.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.durations import MAX_DURATION, parse_duration
from bot.errors import ConfigurationError
from bot.secret_rules import GENERATE_ONE, blank_is_unset, refuse_short_secret
from policies.weekly_schedule import weekly_time_or_off

DEFAULT_SQLITE_PATH = Path("signoff.db")
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# The longest duration anyone means (ten years): longer is a typo, and ``now`` plus or minus a
# longer span can leave the calendar (``99999999999d`` overflowed into a traceback).
_MAX_SECONDS = MAX_DURATION.total_seconds()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        # "inf" and "nan" are no number of seconds, fraction or amount anyone means.
        allow_inf_nan=False,
    )

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default=DEFAULT_SLACK_API_URL, alias="SLACK_API_URL")
    review_channel: str | None = Field(default=None, alias="SIGNOFF_REVIEW_CHANNEL")

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    openai_model: str = Field(default="gpt-4o-mini", alias="OPENAI_MODEL")
    openai_timeout_seconds: float = Field(
        default=20.0, alias="OPENAI_TIMEOUT", gt=0, le=_MAX_SECONDS
    )
    openai_max_retries: int = Field(default=2, alias="OPENAI_MAX_RETRIES", ge=0, le=10)
    llm_concurrency: int = Field(default=8, alias="SIGNOFF_LLM_CONCURRENCY", ge=1, le=256)

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}", alias="DATABASE_URL", min_length=1
    )
    webhook_secret: SecretStr | None = Field(default=None, alias="SIGNOFF_WEBHOOK_SECRET")
    action_url: str | None = Field(default=None, alias="SIGNOFF_ACTION_URL")
    action_secret: SecretStr | None = Field(default=None, alias="SIGNOFF_ACTION_SECRET")
    # Optional bearer token for GET /metrics; unset, /metrics is open (keep it off the internet).
    metrics_token: SecretStr | None = Field(default=None, alias="SIGNOFF_METRICS_TOKEN")
    reviewers: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), alias="SIGNOFF_REVIEWERS"
    )
    leads: Annotated[frozenset[str], NoDecode] = Field(default=frozenset(), alias="SIGNOFF_LEADS")
    # A Slack user group whose members are reviewers too (usergroups.users.list, cached).
    reviewer_group: str | None = Field(default=None, alias="SIGNOFF_REVIEWER_GROUP")
    reviewer_group_ttl_seconds: float = Field(
        default=300.0, alias="SIGNOFF_REVIEWER_GROUP_TTL", gt=0, le=_MAX_SECONDS
    )
    # Count a reviewer as away while Slack says so (a status that expires later, or Do Not
    # Disturb): users.profile.get and dnd.info, cached per user.
    respect_slack_status: bool = Field(default=False, alias="SIGNOFF_RESPECT_SLACK_STATUS")
    # Seed: refunds and credits above this need two distinct approvers (leads change it later).
    default_quorum_amount: Decimal = Field(
        default=Decimal("500"), alias="SIGNOFF_QUORUM_AMOUNT", ge=0
    )
    # Seed: how many distinct approvers those refunds and credits need.
    quorum_approvers: int = Field(default=2, alias="SIGNOFF_QUORUM_APPROVERS", ge=2, le=5)
    # The currency the refund limit and the quorum amount are in; money in any other currency
    # always goes to a human (two approvers), since the amounts cannot be compared.
    currency: str = Field(default="USD", alias="SIGNOFF_CURRENCY", pattern=r"^[A-Z]{3}$")
    post_auto: bool = Field(default=False, alias="SIGNOFF_POST_AUTO")
    # Approve a cluster: this many near-identical waiting items get one extra card with
    # "Approve all" (0 turns cluster cards off).
    cluster_min_size: int = Field(default=3, alias="SIGNOFF_CLUSTER_MIN_SIZE", ge=0, le=100)
    port: int = Field(default=3000, alias="PORT", ge=1, le=65535)
    host: str = Field(default="0.0.0.0", alias="HOST")  # noqa: S104 - a server must listen

    # Seeds for the thresholds table; leads change the stored values later.
    default_auto_max_risk: str = Field(default="low", alias="SIGNOFF_AUTO_MAX_RISK")
    default_refund_auto_limit: Decimal = Field(
        default=Decimal("50"), alias="SIGNOFF_REFUND_AUTO_LIMIT", ge=0
    )
    # Seeds for the budgets of money executed without a human (in SIGNOFF_CURRENCY): per
    # customer over a rolling 30 days, and for everyone together per UTC day.
    default_auto_money_per_customer: Decimal = Field(
        default=Decimal("50"), alias="SIGNOFF_AUTO_MONEY_PER_CUSTOMER", ge=0
    )
    default_auto_money_per_day: Decimal = Field(
        default=Decimal("500"), alias="SIGNOFF_AUTO_MONEY_PER_DAY", ge=0
    )

    # Earned autonomy (seeds; leads change them with `/signoff autonomy set`): a bucket of work is
    # auto-executed once the 95% Wilson lower bound on "approved unchanged" reaches the target
    # over at least min_reviews reviews; a share of its items still goes to a human.
    autonomy_min_reviews: int = Field(default=20, alias="SIGNOFF_AUTONOMY_MIN_REVIEWS", ge=1)
    autonomy_target: float = Field(default=0.95, alias="SIGNOFF_AUTONOMY_TARGET", gt=0, lt=1)
    autonomy_sample: float = Field(default=0.05, alias="SIGNOFF_AUTONOMY_SAMPLE", ge=0, le=1)
    autonomy_window: int = Field(default=200, alias="SIGNOFF_AUTONOMY_WINDOW", ge=1)
    spot_check_share: float = Field(default=0.03, alias="SIGNOFF_SPOT_CHECK_SHARE", ge=0, le=1)
    # How many similar past edits the LLM prompt shows as examples (0: none).
    draft_examples: int = Field(default=3, alias="SIGNOFF_DRAFT_EXAMPLES", ge=0, le=10)
    # With the OpenAI classifier: rerank those examples by embeddings from this model (redacted).
    embeddings_model: str | None = Field(default=None, alias="SIGNOFF_EMBEDDINGS_MODEL")

    # Worker tuning: how often the sweep runs, how long a claim lasts, how often to retry.
    sweep_interval_seconds: float = Field(
        default=5.0, alias="SIGNOFF_SWEEP_INTERVAL", gt=0, le=_MAX_SECONDS
    )
    lease_seconds: float = Field(default=90.0, alias="SIGNOFF_LEASE_SECONDS", gt=0, le=_MAX_SECONDS)
    max_execution_attempts: int = Field(default=5, alias="SIGNOFF_MAX_ATTEMPTS", ge=1)
    action_timeout_seconds: float = Field(
        default=10.0, alias="SIGNOFF_ACTION_TIMEOUT", gt=0, le=_MAX_SECONDS
    )
    max_webhook_bytes: int = Field(default=1_048_576, alias="SIGNOFF_MAX_WEBHOOK_BYTES", gt=0)
    inprocess_worker: bool = Field(default=True, alias="SIGNOFF_INPROCESS_WORKER")
    # Items one worker process advances at once; unset, twice SIGNOFF_LLM_CONCURRENCY (at most
    # 64). An item holds its slot for routing and execution too, about a third of its time, so
    # with equal numbers the LLM calls sat unused that share of the time (8 slots: 0.79 of the
    # 16/s ceiling; 16 slots: 0.90, 200-300 tickets, fake LLM at 0.5 s).
    worker_concurrency: int | None = Field(
        default=None, alias="SIGNOFF_WORKER_CONCURRENCY", ge=1, le=64
    )

    @property
    def worker_slots(self) -> int:
        return self.worker_concurrency or min(64, 2 * self.llm_concurrency)

    # Follow-up on pending items: reminders at fractions of the time to escalation, escalation to
    # leads, then expiry ("expire": the item expires, never executed; "keep_waiting": it stays).
    escalate_after: timedelta = Field(default=timedelta(hours=2), alias="SIGNOFF_ESCALATE_AFTER")
    expire_after: timedelta = Field(default=timedelta(hours=24), alias="SIGNOFF_EXPIRE_AFTER")
    reminder_fractions: Annotated[tuple[float, ...], NoDecode] = Field(
        default=(0.5, 0.9), alias="SIGNOFF_REMINDERS"
    )
    expiry_action: Literal["expire", "keep_waiting"] = Field(
        default="expire", alias="SIGNOFF_EXPIRY_ACTION"
    )
    # Slack posting: chat.postMessage per channel is paced (Slack allows ~1 message/s/channel);
    # when more cards than the threshold wait to be posted, one digest message lists them first.
    slack_posts_per_second: float = Field(
        default=1.0, alias="SIGNOFF_SLACK_POSTS_PER_SECOND", gt=0, le=50
    )
    slack_post_burst: int = Field(default=1, alias="SIGNOFF_SLACK_POST_BURST", ge=1, le=20)
    digest_threshold: int = Field(default=20, alias="SIGNOFF_DIGEST_THRESHOLD", ge=0)
    # "HH:MM" (UTC) for the daily digest in the review channel; empty turns it off.
    daily_digest_at: str = Field(default="09:00", alias="SIGNOFF_DAILY_DIGEST_AT")
    # The weekly picture for leads (a DM with a chart): a day and a UTC time; "off" turns it off.
    # Leads change it with `/signoff settings weekly_report_at "fri 16:00"`.
    weekly_report_at: str = Field(default="mon 09:00", alias="SIGNOFF_WEEKLY_REPORT_AT")
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # Said, not guessed from the terminal: a container's log collector and a person at a
    # terminal want different things, and a tty test picks wrongly under `docker run -t`.
    log_format: Literal["json", "console"] = Field(default="json", alias="LOG_FORMAT")
    # Decided items' personal content is erased this long after their outcome (docs/privacy.md);
    # None (the default, or "off") keeps it.
    retention: timedelta | None = Field(default=None, alias="SIGNOFF_RETENTION")

    # The audit chain's HMAC key (never stored in the database), keys it replaced (verification
    # only), and where the chain head is anchored outside the database (docs/security.md).
    audit_key: SecretStr | None = Field(default=None, alias="SIGNOFF_AUDIT_KEY")
    audit_previous_keys: Annotated[tuple[SecretStr, ...], NoDecode] = Field(
        default=(), alias="SIGNOFF_AUDIT_PREVIOUS_KEYS"
    )
    audit_channel: str | None = Field(default=None, alias="SIGNOFF_AUDIT_CHANNEL")
    audit_anchor_file: Path | None = Field(default=None, alias="SIGNOFF_AUDIT_ANCHOR_FILE")

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "openai_api_key",
        "webhook_secret",
        "action_url",
        "action_secret",
        "metrics_token",
        "audit_channel",
        "audit_anchor_file",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @field_validator("slack_signing_secret", "webhook_secret", "action_secret", "metrics_token")
    @classmethod
    def _shared_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_short_secret(value)

    @field_validator("reviewers", "leads", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("audit_key", mode="before")
    @classmethod
    def _audit_key(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            if not value.strip():
                return None
            _long_enough(value)
        return value

    @field_validator("audit_previous_keys", mode="before")
    @classmethod
    def _audit_previous_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, tuple | list):
            for key in value:
                _long_enough(key.get_secret_value() if isinstance(key, SecretStr) else str(key))
        return value

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().lower() in {"", "off", "none", "0"}:
                return None
            value = parse_duration(value)
        if isinstance(value, timedelta) and value < timedelta(hours=1):
            raise ValueError("must be at least 1h (e.g. 90d), or off")
        return value

    @field_validator("escalate_after", "expire_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("reminder_fractions", mode="before")
    @classmethod
    def _fractions(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                parts = tuple(float(p) for p in value.split(",") if p.strip())
            except ValueError:
                raise ValueError("must be comma-separated fractions such as 0.5,0.9") from None
            value = parts
        if isinstance(value, tuple) and any(not 0 < f < 1 for f in value):
            raise ValueError("each reminder fraction must be between 0 and 1")
        return tuple(sorted(value)) if isinstance(value, tuple) else value

    @field_validator("weekly_report_at")
    @classmethod
    def _weekly_time(cls, value: str) -> str:
        found = weekly_time_or_off(value)
        return str(found) if found is not None else "off"

    @field_validator("daily_digest_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", value):
            raise ValueError("must be a UTC time such as 09:00, or empty to turn it off")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        # slack_sdk joins method names with urljoin: without the slash the last segment is lost.
        return value if value.endswith("/") else value + "/"

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        """The forms hosting platforms hand out, checked the way the engine will read them, so
        a bad URL is one clear line at start rather than a traceback from the first query."""
        text = value.strip()
        head = text.split("://", 1)[0] if "://" in text else ""
        backend, _, driver = head.partition("+")
        if backend not in {"sqlite", "postgres", "postgresql"}:
            raise ValueError("must start with sqlite://, postgres:// or postgresql://")
        if driver and driver not in _DRIVERS[backend]:
            raise ValueError(f"{backend}+{driver} is not supported (use {backend}://)")
        try:
            url = make_url(text.replace("postgres://", "postgresql://", 1))
        except ArgumentError:
            raise ValueError("is not a database URL such as postgresql://user@host/db") from None
        if backend != "sqlite" and not (url.host and url.database):
            raise ValueError("needs a host and a database name: postgresql://user@host:5432/db")
        return text

    @field_validator("expiry_action", mode="before")
    @classmethod
    def _expiry_words(cls, value: object) -> object:
        """``auto_reject`` is what a support lead calls it: the item ends unexecuted, recorded
        as expired (never as a human's rejection)."""
        if isinstance(value, str) and value.strip().lower().replace("-", "_") in {
            "auto_reject",
            "reject",
        }:
            return "expire"
        return value

    @field_validator("default_auto_max_risk")
    @classmethod
    def _risk_name(cls, value: str) -> str:
        if value.lower() not in {"low", "medium", "high"}:
            raise ValueError(
                "must be one of low, medium, high (critical risk always needs a human)"
            )
        return value.lower()

    @model_validator(mode="after")
    def _lease_outlives_an_llm_call(self) -> Settings:
        """A claim must outlast the slowest LLM call (every retry timing out), or a second
        worker takes the item over mid-call and pays for the same assessment again."""
        if self.openai_api_key is not None:
            worst = self.openai_timeout_seconds * (self.openai_max_retries + 1) + 15
            if self.lease_seconds < worst:
                raise ValueError(
                    f"SIGNOFF_LEASE_SECONDS ({self.lease_seconds:g}) must be at least "
                    f"OPENAI_TIMEOUT * (OPENAI_MAX_RETRIES + 1) + 15 = {worst:g}"
                )
        return self

    @property
    def slack_configured(self) -> bool:
        return self.slack_bot_token is not None and (
            self.slack_signing_secret is not None or self.slack_app_token is not None
        )

    @property
    def socket_mode(self) -> bool:
        return self.slack_app_token is not None

    @property
    def action_signing_secret(self) -> SecretStr | None:
        """The action sink's own key. Never the webhook secret: every ticket source holds that
        one, and any of them could then sign an "approved" refund."""
        return self.action_secret

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log scrubber."""
        secrets = [
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.openai_api_key,
            self.webhook_secret,
            self.action_secret,
            self.audit_key,
            *self.audit_previous_keys,
            self.metrics_token,
        ]
        values = [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]
        # A password in DATABASE_URL, which driver and migration errors may repeat.
        try:
            password = make_url(self.database_url.replace("postgres://", "postgresql://", 1))
        except ArgumentError:
            return values
        if password.password:
            values.append(str(password.password))
        return values

    def serve_problems(self) -> list[str]:
        """What stops ``serve`` from working, one line each (empty when it can start)."""
        problems = []
        if self.slack_bot_token is None:
            problems.append("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…)")
        if self.slack_signing_secret is None and self.slack_app_token is None:
            problems.append("SLACK_SIGNING_SECRET is not set (or SLACK_APP_TOKEN for Socket Mode)")
        if not self.review_channel:
            problems.append("SIGNOFF_REVIEW_CHANNEL is not set (channel ID for review cards)")
        return problems + self.action_problems()

    def action_problems(self) -> list[str]:
        """The action endpoint must be able to tell Signoff's requests from anyone else's."""
        if self.action_url and self.action_secret is None:
            return [
                "SIGNOFF_ACTION_URL is set but SIGNOFF_ACTION_SECRET is not: actions are signed "
                "with their own secret, never SIGNOFF_WEBHOOK_SECRET, which every ticket source "
                f"holds ({GENERATE_ONE})"
            ]
        return []


_DRIVERS = {
    "sqlite": {"aiosqlite", "pysqlite"},
    "postgres": set(),
    "postgresql": {"psycopg", "psycopg2", "asyncpg"},
}
AUDIT_KEY_MIN_BYTES = 32


def _long_enough(key: str) -> None:
    """An HMAC key guessable by brute force protects nothing: at least 32 bytes, as
    ``openssl rand -base64 48`` gives."""
    if len(key.encode()) < AUDIT_KEY_MIN_BYTES:
        raise ValueError(
            f"an audit key must be at least {AUDIT_KEY_MIN_BYTES} bytes "
            "(generate one with: openssl rand -base64 48)"
        )


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings, turning validation errors into one line per problem."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigurationError(problems) from None
