"""Build the vendor executors that have credentials, keyed by the source they answer.

``ExecutorRouter(fallback, by_source=build_vendor_executors(...))`` then sends a Zendesk item's
action to Zendesk, a Stripe item's refund to Stripe, and everything else to the fallback: the
generic action sink or the log-only executor. A source whose webhook is enabled but whose
executor is not, with no generic sink either, gets an executor that refuses: an approved Stripe
refund must end "failed: STRIPE_API_KEY not set", never "executed" by a log line.
"""

from __future__ import annotations

from typing import Any

import httpx

from bot.actions.sink import ActionRequest, Executor
from bot.errors import PermanentError
from bot.vendors import SOURCES
from bot.vendors.hubspot import HubSpotExecutor
from bot.vendors.intercom import IntercomExecutor
from bot.vendors.settings import VendorSettings
from bot.vendors.stripe import StripeExecutor
from bot.vendors.zendesk import ZendeskExecutor


class UnconfiguredVendorExecutor:
    """Stands in for a vendor executor that lacks credentials when nothing else could act."""

    resends_safely = True  # it never sends anything

    def __init__(self, source: str, missing: list[str]) -> None:
        self.name = f"{source}:not-configured"
        self._reason = (
            f"the {source} executor is disabled ({', '.join(missing)} not set) and "
            "SIGNOFF_ACTION_URL is not set: the action was not carried out"
        )

    async def execute(self, request: ActionRequest) -> dict[str, Any]:
        raise PermanentError(self._reason)


def unconfigured_sources(settings: VendorSettings, *, fallback_configured: bool) -> list[str]:
    """Sources that receive webhooks but whose approved actions nothing can carry out."""
    if fallback_configured:
        return []
    return [
        source
        for source in SOURCES
        if settings.source_enabled(source) and not settings.executor_enabled(source)
    ]


def build_vendor_executors(
    settings: VendorSettings, http: httpx.AsyncClient, *, fallback_configured: bool = True
) -> dict[str, Executor]:
    """One executor per vendor whose API credentials are all set; a refusing stand-in for
    sources listed by :func:`unconfigured_sources`; the rest are left out (and
    ``VendorSettings.disabled_lines`` says why)."""
    executors: dict[str, Executor] = {}
    for source in unconfigured_sources(settings, fallback_configured=fallback_configured):
        executors[source] = UnconfiguredVendorExecutor(
            source, settings.missing_executor_settings(source)
        )
    if (
        settings.zendesk_api_url
        and settings.zendesk_email
        and settings.zendesk_api_token is not None
    ):
        executors["zendesk"] = ZendeskExecutor(
            api_url=settings.zendesk_api_url,
            email=settings.zendesk_email,
            api_token=settings.zendesk_api_token.get_secret_value(),
            client=http,
            reply_status=settings.zendesk_reply_status,
        )
    if settings.intercom_access_token is not None and settings.intercom_admin_id:
        executors["intercom"] = IntercomExecutor(
            api_url=settings.intercom_api_url,
            access_token=settings.intercom_access_token.get_secret_value(),
            admin_id=settings.intercom_admin_id,
            client=http,
        )
    if settings.hubspot_access_token is not None:
        executors["hubspot"] = HubSpotExecutor(
            api_url=settings.hubspot_api_url,
            access_token=settings.hubspot_access_token.get_secret_value(),
            client=http,
        )
    if settings.stripe_api_key is not None:
        executors["stripe"] = StripeExecutor(
            api_url=settings.stripe_api_url,
            api_key=settings.stripe_api_key.get_secret_value(),
            client=http,
        )
    return executors


__all__ = ["UnconfiguredVendorExecutor", "build_vendor_executors", "unconfigured_sources"]
