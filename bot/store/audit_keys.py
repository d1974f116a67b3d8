"""The audit chain's keys and the two ways a row's hash is computed.

Why a key: a plain hash chain only proves that rows are consistent with each other, and anyone
who can write to the database can recompute every hash after an edit. With HMAC-SHA256 under
``SIGNOFF_AUDIT_KEY`` (held in the environment, never in the database) a database administrator
can still edit rows, but cannot make the edit verify.

* Rows written before a key was configured (``key_id`` NULL) keep their plain SHA-256 hash
  (:func:`legacy_hash`) and stay verifiable as they are.
* Keyed rows commit to their ``detail`` through a separate keyed digest, ``detail_mac``, and the
  row's MAC covers that digest and the facts (time, item, actor, event, previous hash, key id).
* Format 1 (the first keyed rows): ``detail_mac`` is one MAC of the whole ``detail``
  (:func:`detail_mac`). Erasing such a row's content leaves its facts checkable, not the detail.
* Format 2 (every keyed row now): ``detail_mac`` is a MAC over one keyed digest per top-level
  field (:func:`field_digests`, :func:`fields_mac`). Erasure (``bot/store/audit_erasure.py``)
  replaces a personal field by its own digest under ``_erased``, so the fields kept in clear
  (who, which policy, amounts, outcome) are still checked one by one, and a rewritten one still
  fails. The row's MAC names the format (``"v"``), so a row cannot be passed off as the other.

Each key is named by ``key_id``, a fingerprint of the key (16 hex characters of a SHA-256 with a
fixed prefix): rows say which key made them, so after a rotation the old key
(``SIGNOFF_AUDIT_PREVIOUS_KEYS``) still verifies the rows it made. The fingerprint reveals
nothing useful about a key of 32 random bytes or more.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

# session.info key under which a session factory carries the keys (see ``session_factory``).
AUDIT_KEYS_INFO = "signoff_audit_keys"
_KEY_ID_PREFIX = b"signoff-audit-key-id\x00"
# Under this key an erased row's detail keeps the digests of the fields it no longer holds
# (format 2), or ``ERASED_WHOLE`` when the whole content went (format 1 and unkeyed rows).
ERASED = "_erased"
ERASED_WHOLE = "*"


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def _stamp(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditKey:
    key_id: str
    secret: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, secret: str | bytes) -> AuditKey:
        raw = secret.encode() if isinstance(secret, str) else secret
        return cls(hashlib.sha256(_KEY_ID_PREFIX + raw).hexdigest()[:16], raw)

    def mac(self, message: bytes) -> str:
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class AuditKeys:
    """The key new rows are made with (``None``: the chain is unkeyed) and the older keys that
    only verify."""

    current: AuditKey | None = None
    previous: tuple[AuditKey, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AuditKeys:
        current = settings.audit_key
        return cls(
            AuditKey.from_secret(current.get_secret_value()) if current is not None else None,
            tuple(AuditKey.from_secret(k.get_secret_value()) for k in settings.audit_previous_keys),
        )

    def find(self, key_id: str) -> AuditKey | None:
        for key in (self.current, *self.previous):
            if key is not None and key.key_id == key_id:
                return key
        return None


NO_KEYS = AuditKeys()


def legacy_hash(
    prev_hash: str, at: datetime, item_id: str | None, actor: str, event: str, detail: Any
) -> str:
    """The unkeyed SHA-256 of rows written without a key (the format before keys existed)."""
    canonical = {
        "prev": prev_hash,
        "at": _stamp(at),
        "item_id": item_id,
        "actor": actor,
        "event": event,
        "detail": detail,
    }
    return hashlib.sha256(_canonical(canonical)).hexdigest()


def detail_mac(key: AuditKey, detail: Any) -> str:
    """The keyed digest of a row's content; keyed so that short content cannot be guessed back
    from it once the content itself is gone."""
    return key.mac(b"detail\x00" + _canonical(detail))


def field_digest(key: AuditKey, name: str, value: Any) -> str:
    """The keyed digest of one top-level field: what stays of it once it is erased."""
    return key.mac(b"field\x00" + _canonical([name, value]))


def field_digests(key: AuditKey, detail: Any) -> dict[str, str] | None:
    """Every field's digest (format 2): fields in clear are digested now, erased ones bring
    the digest they left under ``_erased``. ``None`` when ``detail`` cannot be format 2."""
    if not isinstance(detail, dict):
        return None
    erased = detail.get(ERASED, {})
    if not isinstance(erased, dict) or not all(isinstance(v, str) for v in erased.values()):
        return None
    digests = {name: field_digest(key, name, value) for name, value in detail.items()}
    digests.pop(ERASED, None)
    if set(digests) & set(erased):
        return None  # a field both erased and in clear: never written so
    return digests | erased


def fields_mac(key: AuditKey, digests: dict[str, str]) -> str:
    """Format 2's ``detail_mac``: one MAC over the fields' digests."""
    return key.mac(b"fields\x00" + _canonical(digests))


def keyed_row_mac(
    key: AuditKey,
    prev_hash: str,
    at: datetime,
    item_id: str | None,
    actor: str,
    event: str,
    content_mac: str,
    *,
    version: int = 2,
) -> str:
    envelope = {
        "v": version,
        "key_id": key.key_id,
        "prev": prev_hash,
        "at": _stamp(at),
        "item_id": item_id,
        "actor": actor,
        "event": event,
        "detail_mac": content_mac,
    }
    return key.mac(b"row\x00" + _canonical(envelope))


def macs_equal(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a, b)
