"""Vendor credentials from the environment and ``.env``, kept apart from the core settings.

Every vendor is optional. A source (inbound webhook) is enabled by its signing secret alone; an
executor (outbound API calls) by its API credentials alone, so a team can receive Zendesk tickets
before it lets Signoff answer them. Whatever is missing is said once at start, one line per
disabled source or executor, naming the exact setting to add, because "why is nothing arriving?"
should be answered by the log rather than by reading code.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigurationError
from bot.secret_rules import blank_is_unset, refuse_short_secret
from bot.vendors import SOURCES

DEFAULT_INTERCOM_API_URL = "https://api.intercom.io"
DEFAULT_HUBSPOT_API_URL = "https://api.hubapi.com"
DEFAULT_STRIPE_API_URL = "https://api.stripe.com"

# Zendesk ticket statuses an agent may set with a reply (``closed`` is set by Zendesk itself).
ZENDESK_STATUSES = frozenset({"new", "open", "pending", "hold", "solved"})

_URL_FIELDS = (
    "zendesk_api_url",
    "intercom_api_url",
    "hubspot_api_url",
    "hubspot_webhook_url",
    "stripe_api_url",
)


# The setting that holds each source's webhook signing secret.
SOURCE_SECRET_SETTINGS: dict[str, str] = {
    "zendesk": "ZENDESK_WEBHOOK_SECRET",
    "intercom": "INTERCOM_CLIENT_SECRET",
    "hubspot": "HUBSPOT_CLIENT_SECRET",
    "stripe": "STRIPE_WEBHOOK_SECRET",
}


class VendorSettings(BaseSettings):
    """Per-vendor secrets, credentials and base URLs (tests point the base URLs at local fakes)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    zendesk_webhook_secret: SecretStr | None = Field(default=None, alias="ZENDESK_WEBHOOK_SECRET")
    zendesk_api_url: str | None = Field(default=None, alias="ZENDESK_API_URL")
    zendesk_email: str | None = Field(default=None, alias="ZENDESK_EMAIL")
    zendesk_api_token: SecretStr | None = Field(default=None, alias="ZENDESK_API_TOKEN")
    zendesk_reply_status: str = Field(default="pending", alias="ZENDESK_REPLY_STATUS")

    intercom_client_secret: SecretStr | None = Field(default=None, alias="INTERCOM_CLIENT_SECRET")
    intercom_access_token: SecretStr | None = Field(default=None, alias="INTERCOM_ACCESS_TOKEN")
    intercom_admin_id: str | None = Field(default=None, alias="INTERCOM_ADMIN_ID")
    intercom_api_url: str = Field(default=DEFAULT_INTERCOM_API_URL, alias="INTERCOM_API_URL")

    hubspot_client_secret: SecretStr | None = Field(default=None, alias="HUBSPOT_CLIENT_SECRET")
    hubspot_access_token: SecretStr | None = Field(default=None, alias="HUBSPOT_ACCESS_TOKEN")
    hubspot_api_url: str = Field(default=DEFAULT_HUBSPOT_API_URL, alias="HUBSPOT_API_URL")
    hubspot_webhook_url: str | None = Field(default=None, alias="HUBSPOT_WEBHOOK_URL")

    stripe_webhook_secret: SecretStr | None = Field(default=None, alias="STRIPE_WEBHOOK_SECRET")
    stripe_api_key: SecretStr | None = Field(default=None, alias="STRIPE_API_KEY")
    stripe_api_url: str = Field(default=DEFAULT_STRIPE_API_URL, alias="STRIPE_API_URL")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # ``ZENDESK_API_TOKEN=`` in a .env template means "not configured", not "empty token".
        return blank_is_unset(value)

    @field_validator(
        "zendesk_webhook_secret",
        "intercom_client_secret",
        "hubspot_client_secret",
        "stripe_webhook_secret",
    )
    @classmethod
    def _shared_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Webhook signing keys both sides hold; API tokens have the vendor's own format.
        return refuse_short_secret(value)

    @field_validator(*_URL_FIELDS)
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError("must be an http:// or https:// URL")
        return value

    @field_validator("zendesk_api_url", "intercom_api_url", "hubspot_api_url", "stripe_api_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        """API base URLs have paths appended; ``HUBSPOT_WEBHOOK_URL`` is not stripped because
        HubSpot signs the target URL exactly as configured, trailing slash included."""
        return value.rstrip("/") if value is not None else None

    @field_validator("zendesk_reply_status")
    @classmethod
    def _zendesk_status(cls, value: str) -> str:
        status = value.lower()
        if status not in ZENDESK_STATUSES:
            raise ValueError(f"must be one of {', '.join(sorted(ZENDESK_STATUSES))}")
        return status

    # --- what is enabled ------------------------------------------------------------------------

    def source_enabled(self, source: str) -> bool:
        return not self.missing_source_settings(source)

    def executor_enabled(self, source: str) -> bool:
        return not self.missing_executor_settings(source)

    def source_secret(self, source: str) -> SecretStr | None:
        """The secret that signs a source's webhooks (None: the webhook answers 503)."""
        secrets = {
            "zendesk": self.zendesk_webhook_secret,
            "intercom": self.intercom_client_secret,
            "hubspot": self.hubspot_client_secret,
            "stripe": self.stripe_webhook_secret,
        }
        return secrets[source]

    def missing_source_settings(self, source: str) -> list[str]:
        """The settings a source's webhook still needs (empty when it is enabled)."""
        return _missing({SOURCE_SECRET_SETTINGS[source]: self.source_secret(source)})

    def missing_executor_settings(self, source: str) -> list[str]:
        """The settings a vendor's executor still needs (empty when it is enabled)."""
        required: dict[str, dict[str, object]] = {
            "zendesk": {
                "ZENDESK_API_URL": self.zendesk_api_url,
                "ZENDESK_EMAIL": self.zendesk_email,
                "ZENDESK_API_TOKEN": self.zendesk_api_token,
            },
            "intercom": {
                "INTERCOM_ACCESS_TOKEN": self.intercom_access_token,
                "INTERCOM_ADMIN_ID": self.intercom_admin_id,
            },
            "hubspot": {"HUBSPOT_ACCESS_TOKEN": self.hubspot_access_token},
            "stripe": {"STRIPE_API_KEY": self.stripe_api_key},
        }
        return _missing(required[source])

    def disabled_lines(self) -> list[str]:
        """One log line per disabled source or executor, naming what to set to enable it."""
        lines: list[str] = []
        for source in SOURCES:
            missing = self.missing_source_settings(source)
            if missing:
                lines.append(
                    f"{source} webhook disabled: {_names(missing)} not set "
                    f"(POST /webhooks/{source} answers 503)"
                )
            missing = self.missing_executor_settings(source)
            if missing:
                lines.append(
                    f"{source} executor disabled: {_names(missing)} not set "
                    f"(approved {source} actions fall back to SIGNOFF_ACTION_URL "
                    "or are only logged)"
                )
        return lines

    def enabled_lines(self) -> list[str]:
        """One log line per enabled source or executor, so the start-up log shows both halves."""
        lines: list[str] = []
        for source in SOURCES:
            if self.source_enabled(source):
                lines.append(f"{source} webhook enabled at POST /webhooks/{source}")
            if self.executor_enabled(source):
                lines.append(f"{source} executor enabled")
        return lines

    def secret_values(self) -> list[str]:
        """Every configured vendor secret, for the log scrubber."""
        secrets = [
            self.zendesk_webhook_secret,
            self.zendesk_api_token,
            self.intercom_client_secret,
            self.intercom_access_token,
            self.hubspot_client_secret,
            self.hubspot_access_token,
            self.stripe_webhook_secret,
            self.stripe_api_key,
        ]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]


def _missing(required: dict[str, object]) -> list[str]:
    return [name for name, value in required.items() if value is None]


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def load_vendor_settings(**overrides: Any) -> VendorSettings:
    """Read and validate vendor settings; problems become one line each, like ``load_settings``."""
    try:
        return VendorSettings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "vendor settings"
            problems.append(f"{name}: {error['msg']}")
        raise ConfigurationError(problems) from None


__all__ = ["SOURCE_SECRET_SETTINGS", "ZENDESK_STATUSES", "VendorSettings", "load_vendor_settings"]
