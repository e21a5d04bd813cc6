"""Key specs from a file (functions/apikeys/specs.py) loaded into Redis by the API at start
(functions/api/keyfile.py): idempotent, a CLI revocation holds until the file changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from functions.api.keyfile import load
from functions.api.main import redis_client as resp_client
from functions.api.main import registry
from functions.api.submit import Submitter
from functions.apikeys import specs
from functions.apikeys.errors import BadSpec
from functions.apikeys.model import ApiKey, check, digest
from functions.settings import Settings

pytestmark = pytest.mark.anyio

KEY_ID = "0123456789abcdef"
LINE = {"id": KEY_ID, "tenant": "acme", "sha256": digest("s" * 43), "scopes": ["invoke"],
        "functions": ["echo"], "rate": 2, "burst": 4, "max_backlog": 10,
        "expires": "2099-01-01T00:00:00Z"}  # fmt: skip


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _load(redis_url: str, path: Path) -> None:
    settings = Settings(REDIS_URL=redis_url)
    client = resp_client(redis_url, 1.0)
    try:
        await load(Submitter(client, settings, registry), specs.read(str(path)))
    finally:
        await client.aclose()


async def test_loading_is_idempotent_and_respects_a_later_revocation(
    tmp_path: Path, redis_url: str, redis_client: redis.Redis
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [LINE]}))
    await _load(redis_url, path)
    record = f"spillway:auth:key:{KEY_ID}"
    key = ApiKey.from_fields(KEY_ID, redis_client.hgetall(record))
    assert check(key, "s" * 43) and key.functions == ("echo",) and key.rate == 2.0
    assert key.source == "file" and redis_client.sismember("spillway:auth:keys", KEY_ID)
    redis_client.hset(record, "revoked", "1")  # `spillway keys revoke`
    await _load(redis_url, path)  # another replica starts: the same file changes nothing
    assert redis_client.hget(record, "revoked") == b"1"
    path.write_text(json.dumps({"keys": [{**LINE, "sha256": digest("t" * 43)}]}))
    await _load(redis_url, path)  # the file changed this key: it is written again
    key = ApiKey.from_fields(KEY_ID, redis_client.hgetall(record))
    assert check(key, "t" * 43) and not key.revoked


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("[", "is not JSON"),
        ('{"keys": 1}', 'expected {"keys": [...]}'),
        (json.dumps([{**LINE, "id": "x"}]), "id must be 16 hex digits"),
        (json.dumps([{**LINE, "secret": "x"}]), "unknown fields ['secret']"),
        (json.dumps([{**LINE, "scopes": ["root"]}]), "scopes must be a list"),
        (json.dumps([{**LINE, "sha256": "abc"}]), "sha256 must be 64"),
        (json.dumps([{**LINE, "burst": 0}]), "burst must be at least 1"),
        (json.dumps([{**LINE, "expires": "2099-01-01T00:00:00"}]), "needs its offset"),
        (json.dumps([LINE, LINE]), "appears twice"),
    ],
)
def test_a_broken_file_is_refused_with_one_line(tmp_path: Path, document: str, words: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(document)
    with pytest.raises(BadSpec, match=None) as caught:
        specs.read(str(path))
    assert words in str(caught.value) and "\n" not in str(caught.value)
