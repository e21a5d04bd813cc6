"""Standard Webhooks signatures for callbacks (standard-webhooks spec/standard-webhooks.md, v1).

`webhook-signature` is a space-separated list of `v1,<base64 HMAC-SHA256>` over the bytes
`<webhook-id>.<webhook-timestamp>.<body>`, keyed with the secret's bytes: the secret is written
`whsec_<base64>` and the reference library (libraries/python/standardwebhooks/webhooks.py,
Webhook.__init__) strips the prefix and base64-decodes the rest. During a rotation every secret
configured signs, so a receiver that knows either the old or the new one accepts (the spec's
"Signature scheme" section: consumers accept if any signature matches).

Secrets come from `secrets_for(tenant)`: today every tenant shares SPILLWAY_CALLBACK_SECRET; per-
tenant secrets (API keys and tenants, issue 12) plug in there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

from functions.errors import ConfigError
from functions.settings import Settings

PREFIX = "whsec_"
# The spec's symmetric scheme recommends random secrets of 24 to 64 bytes.
MIN_BYTES, MAX_BYTES = 24, 64
_SEPARATORS = re.compile(r"[\s,]+")


def parse_secrets(raw: str) -> list[bytes]:
    """The keys in SPILLWAY_CALLBACK_SECRET (space- or comma-separated `whsec_<base64>`);
    ConfigError naming the first bad one by position, never by value."""
    keys: list[bytes] = []
    for position, text in enumerate(filter(None, _SEPARATORS.split(raw.strip())), 1):
        body = text.removeprefix(PREFIX)
        try:
            key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(
                f"SPILLWAY_CALLBACK_SECRET: secret {position} is not whsec_ followed by base64"
            ) from None
        if not MIN_BYTES <= len(key) <= MAX_BYTES:
            raise ConfigError(
                f"SPILLWAY_CALLBACK_SECRET: secret {position} is {len(key)} bytes; Standard "
                f"Webhooks secrets are {MIN_BYTES} to {MAX_BYTES} random bytes"
            )
        keys.append(key)
    if not keys:
        raise ConfigError("SPILLWAY_CALLBACK_SECRET is empty")
    return keys


class Secrets:
    """The signing keys, read once from the settings."""

    def __init__(self, settings: Settings) -> None:
        raw = settings.CALLBACK_SECRET
        if raw is None:
            raise ConfigError(
                "SPILLWAY_CALLBACK_SECRET is not set: callbacks are signed (Standard Webhooks); "
                "set it to whsec_ followed by 24 to 64 random bytes in base64, e.g. "
                '"whsec_$(head -c 32 /dev/urandom | base64)"'
            )
        self._shared = parse_secrets(raw.get_secret_value())

    def secrets_for(self, tenant: str | None) -> list[bytes]:
        """The keys that sign a callback of `tenant`'s invocation, newest first; every one signs
        (rotation). One shared set until tenants have their own."""
        return self._shared


def sign(keys: list[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: one `v1,<base64>` per key, space-separated."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )
