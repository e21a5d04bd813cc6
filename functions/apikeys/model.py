"""An API key: its token, its record in Redis, and how a presented token is checked.

A token is `spw_<id>_<secret>`: the id (16 hex digits, not secret) names the record, so the API
finds it with one HGETALL instead of hashing against every key; the secret is 32 random bytes
(base64url). Only SHA-256 of the secret is stored: the secret is high-entropy, so a fast hash
is enough (a password hash defends low-entropy inputs against guessing), and a stolen database
yields no usable key. The check compares digests with `hmac.compare_digest`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

PREFIX = "spw_"
SCOPES = ("invoke", "read", "admin")
DEFAULT_SCOPES = ("invoke", "read")
TOKEN = re.compile(r"^spw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$")
KEY_ID = re.compile(r"^[0-9a-f]{16}$")
TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
FUNCTION = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
# A record's fields, in the order the API reads them (one HMGET).
FIELDS = ("tenant", "sha256", "scopes", "functions", "rate", "burst", "max_backlog", "expires",
          "revoked", "created_at", "source", "spec")  # fmt: skip
# Compared against when the id is unknown, so that both refusals cost one hash and one compare.
_NO_DIGEST = hashlib.sha256(b"no such key").hexdigest()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id() -> str:
    return secrets.token_hex(8)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def token(key_id: str, secret: str) -> str:
    return f"{PREFIX}{key_id}_{secret}"


def parse(text: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    match = TOKEN.match(text)
    return (match[1], match[2]) if match else None


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's record. Limits left None take the API's defaults (SPILLWAY_KEY_RATE, ...);
    `rate` 0 means no rate limit, `max_backlog` 0 no share limit."""

    id: str
    tenant: str
    sha256: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    functions: tuple[str, ...] | None = None  # None: every function
    rate: float | None = None  # invocations per second
    burst: int | None = None
    max_backlog: int | None = None  # the tenant's queued + running invocations
    expires: float | None = None  # Unix seconds
    revoked: bool = False
    created_at: float = 0.0
    source: str = "cli"  # "cli", or "file" for keys from the bootstrap file
    spec: str = field(default="", compare=False)  # digest of the file entry it came from

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(digest(secret), self.sha256)

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    def rotated(self, secret: str) -> ApiKey:
        return replace(self, sha256=digest(secret))

    def to_fields(self) -> dict[str, str]:
        return {
            "tenant": self.tenant,
            "sha256": self.sha256,
            "scopes": ",".join(self.scopes),
            "functions": "*" if self.functions is None else ",".join(self.functions),
            "rate": _text(self.rate),
            "burst": _text(self.burst),
            "max_backlog": _text(self.max_backlog),
            "expires": _text(self.expires),
            "revoked": "1" if self.revoked else "0",
            "created_at": f"{self.created_at:.3f}",
            "source": self.source,
            "spec": self.spec,
        }

    @classmethod
    def from_fields(cls, key_id: str, raw: Mapping[Any, Any]) -> ApiKey:
        f = {_str(k): _str(v) for k, v in raw.items() if v is not None}
        functions = f.get("functions", "*")
        return cls(
            id=key_id,
            tenant=f.get("tenant", ""),
            sha256=f.get("sha256", ""),
            scopes=tuple(s for s in f.get("scopes", "").split(",") if s),
            functions=None if functions == "*" else tuple(x for x in functions.split(",") if x),
            rate=float(f["rate"]) if f.get("rate") else None,
            burst=int(f["burst"]) if f.get("burst") else None,
            max_backlog=int(f["max_backlog"]) if f.get("max_backlog") else None,
            expires=float(f["expires"]) if f.get("expires") else None,
            revoked=f.get("revoked") == "1",
            created_at=float(f.get("created_at") or 0),
            source=f.get("source", "cli"),
            spec=f.get("spec", ""),
        )

    def public(self) -> dict[str, object]:
        """What `keys list` shows: everything but the digest."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "scopes": list(self.scopes),
            "functions": None if self.functions is None else list(self.functions),
            "rate": self.rate,
            "burst": self.burst,
            "max_backlog": self.max_backlog,
            "expires": self.expires,
            "revoked": self.revoked,
            "created_at": self.created_at,
            "source": self.source,
        }


def check(record: ApiKey | None, secret: str) -> bool:
    """Whether `secret` is the record's, in the same time whether or not the record exists."""
    expected = record.sha256 if record is not None else _NO_DIGEST
    ok = hmac.compare_digest(digest(secret), expected)
    return ok and record is not None


def _text(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _str(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
