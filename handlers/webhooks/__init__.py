"""Webhook receivers: the generic signed webhook and the vendors' (Zendesk, Intercom, HubSpot,
Stripe), with one intake (size, signature, JSON, schema) and one refusal handler.
"""
