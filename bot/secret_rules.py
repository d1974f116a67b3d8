"""Rules every shared secret follows, in the core settings and the vendors' alike.

Why: a blank value in ``.env`` must mean "not configured", never "an empty key" (a request signed
with an empty key was once accepted), and a short HMAC key can be guessed offline from one
captured request.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_core import PydanticUseDefault

# A shared secret (an HMAC key both sides hold) shorter than this is refused at start: a short key
# can be guessed offline from one captured request. API keys whose format the provider sets
# (xoxb-…, sk-…) are not ours to judge and are not checked.
MIN_SECRET_BYTES = 16
GENERATE_ONE = "generate one with `openssl rand -hex 32`"


def blank_is_unset(value: object) -> object:
    """``SIGNOFF_WEBHOOK_SECRET=`` (or spaces) in a .env means "not configured", never "an empty
    key": a request signed with an empty key must not be accepted. Other text is stripped."""
    if isinstance(value, str):
        if not value.strip():
            raise PydanticUseDefault()
        return value.strip()
    if isinstance(value, SecretStr) and not value.get_secret_value().strip():
        raise PydanticUseDefault()
    return value


def refuse_short_secret(value: SecretStr | None) -> SecretStr | None:
    """Refuse a shared secret shorter than :data:`MIN_SECRET_BYTES` (the message names no
    value, only the rule; pydantic puts the setting's name in front of it)."""
    if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"is shorter than {MIN_SECRET_BYTES} bytes; a shared secret that short can be "
            f"guessed ({GENERATE_ONE})"
        )
    return value
