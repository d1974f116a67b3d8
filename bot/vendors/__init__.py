"""Vendor sources and executors: Zendesk, Intercom, HubSpot and Stripe.

Each vendor module is pure where it can be: a signature verifier that takes bytes and headers, a
``normalise`` that maps the vendor's documented payload onto ``TicketIn``, and an executor class
that talks to the vendor's REST API through an injected ``httpx.AsyncClient``. The HTTP edge lives
in ``handlers.webhooks.vendors``; credentials live in ``bot.vendors.settings``.
"""

from __future__ import annotations

SOURCES: tuple[str, ...] = ("zendesk", "intercom", "hubspot", "stripe")

__all__ = ["SOURCES"]
