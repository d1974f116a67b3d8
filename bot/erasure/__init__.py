"""Forgetting a customer on request, and keeping decided items' content no longer than
``SIGNOFF_RETENTION`` (docs/privacy.md)."""
