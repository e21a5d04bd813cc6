"""API keys in Redis, for `spillway keys` (redis-py): create, list, revoke, rotate.

One hash per key (`spillway:auth:key:<id>`, functions/keys.py) and a set of the ids. The API
reads the hash on its own (functions/api/auth.py) and holds what it read for at most
SPILLWAY_AUTH_CACHE seconds, which is how long a revocation or rotation takes to reach every
replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import redis

from functions import keys
from functions.apikeys.errors import KeysError, StoreUnavailable, UnknownKey
from functions.apikeys.model import KEY_ID, ApiKey, new_id, new_secret, token
from functions.settings import redact_url


class KeyStore:
    def __init__(self, client: redis.Redis, prefix: str, url: str = "") -> None:
        self.client = client
        self.prefix = prefix
        self.url = url

    @classmethod
    def connect(cls, url: str, prefix: str) -> KeyStore:
        client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        return cls(client, prefix, url)

    @contextmanager
    def _redis(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            raise StoreUnavailable(
                f"cannot reach Redis at {redact_url(self.url)} (REDIS_URL): {exc}"
            ) from None
        except redis.RedisError as exc:
            raise StoreUnavailable(f"Redis refused: {exc}") from None

    def put(self, key: ApiKey) -> None:
        record = keys.api_key_key(self.prefix, key.id)
        with self._redis():
            pipe = self.client.pipeline(transaction=True)
            pipe.delete(record)
            pipe.hset(record, mapping=dict[Any, Any](key.to_fields()))
            pipe.sadd(keys.api_key_index(self.prefix), key.id)
            pipe.execute()

    def create(self, template: ApiKey) -> tuple[ApiKey, str]:
        """Store a new key with `template`'s tenant, scopes and limits; (key, token)."""
        secret = new_secret()
        key = replace(template, id=new_id(), created_at=time.time()).rotated(secret)
        self.put(key)
        return key, token(key.id, secret)

    def get(self, key_id: str) -> ApiKey:
        raw: Any = {}
        if KEY_ID.match(key_id):
            with self._redis():
                raw = self.client.hgetall(keys.api_key_key(self.prefix, key_id))
        if not raw:
            raise UnknownKey(f"no API key with id {key_id!r} (`spillway keys list` lists them)")
        return ApiKey.from_fields(key_id, raw)

    def list(self) -> list[ApiKey]:
        with self._redis():
            members: set[Any] = self.client.smembers(keys.api_key_index(self.prefix))
            ids = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
            pipe = self.client.pipeline(transaction=False)
            for key_id in ids:
                pipe.hgetall(keys.api_key_key(self.prefix, key_id))
            raws = pipe.execute()
        found = [ApiKey.from_fields(i, raw) for i, raw in zip(ids, raws, strict=True) if raw]
        return sorted(found, key=lambda k: (k.tenant, k.created_at, k.id))

    def revoke(self, key_id: str) -> ApiKey:
        key = self.get(key_id)
        with self._redis():
            self.client.hset(keys.api_key_key(self.prefix, key_id), "revoked", "1")
        return key

    def rotate(self, key_id: str) -> tuple[ApiKey, str]:
        """A new secret for the same id, tenant, scopes and limits: the old one stops working."""
        key = self.get(key_id)
        if key.revoked:
            raise KeysError(f"key {key_id} is revoked: create a new one instead")
        secret = new_secret()
        rotated = key.rotated(secret)
        with self._redis():
            self.client.hset(keys.api_key_key(self.prefix, key_id), "sha256", rotated.sha256)
        return rotated, token(key_id, secret)

    def close(self) -> None:
        self.client.close()
