"""Build the vendor executors that have credentials, keyed by the source they answer.

``ExecutorRouter(fallback, by_source=build_vendor_executors(...))`` then sends a Zendesk item's
action to Zendesk, a Stripe item's refund to Stripe, and everything else (including sources whose
executor is disabled) to the fallback: the generic action sink or the log-only executor.
"""

from __future__ import annotations

import httpx

from bot.action_sink import Executor
from bot.vendors.hubspot import HubSpotExecutor
from bot.vendors.intercom import IntercomExecutor
from bot.vendors.settings import VendorSettings
from bot.vendors.stripe import StripeExecutor
from bot.vendors.zendesk import ZendeskExecutor


def build_vendor_executors(
    settings: VendorSettings, http: httpx.AsyncClient
) -> dict[str, Executor]:
    """One executor per vendor whose API credentials are all set; the rest are left out (and
    ``VendorSettings.disabled_lines`` says why)."""
    executors: dict[str, Executor] = {}
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


__all__ = ["build_vendor_executors"]
