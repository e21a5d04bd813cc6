"""`spillway keys`: create prints the key once, list never shows a secret, revoke and rotate,
and every refusal is one `spillway: error:` line with exit 2."""

from __future__ import annotations

import json

import pytest
import redis

from functions.apikeys import specs
from functions.apikeys.cli import SCOPES as CLI_SCOPES
from functions.apikeys.model import SCOPES, digest, parse
from tests.support.apikeys import spillway_keys as keys


def test_the_cli_offers_the_models_scopes() -> None:
    assert CLI_SCOPES == SCOPES


def test_create_prints_the_key_once_and_stores_only_its_hash(
    redis_url: str, redis_client: redis.Redis
) -> None:
    done = keys(
        redis_url, "create", "--tenant", "acme", "--scope", "invoke", "--functions", "echo,sleep",
        "--rate", "5", "--burst", "10", "--max-backlog", "100",
        "--expires", "2099-01-01T00:00:00Z", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert {"id", "key", "tenant", "scopes"} <= set(created)
    assert created["tenant"] == "acme" and created["scopes"] == ["invoke"]
    key_id, secret = parse(created["key"]) or ("", "")
    assert key_id == created["id"]
    record = redis_client.hgetall(f"spillway:auth:key:{key_id}")
    assert record[b"sha256"] == digest(secret).encode()
    assert all(secret.encode() not in value for value in record.values())
    assert record[b"functions"] == b"echo,sleep" and record[b"rate"] == b"5"
    listed = keys(redis_url, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert secret not in listed.stdout and digest(secret) not in listed.stdout
    (shown,) = json.loads(listed.stdout)["keys"]
    assert shown["id"] == key_id and shown["max_backlog"] == 100 and not shown["revoked"]
    plain = keys(redis_url, "list")
    assert key_id in plain.stdout and secret not in plain.stdout + plain.stderr


def test_rotate_gives_a_new_secret_for_the_same_key_and_revoke_marks_it(
    redis_url: str, redis_client: redis.Redis
) -> None:
    created = json.loads(keys(redis_url, "create", "--tenant", "acme", "--json").stdout)
    rotated = json.loads(keys(redis_url, "rotate", created["id"], "--json").stdout)
    assert rotated["id"] == created["id"] and rotated["tenant"] == "acme"
    assert rotated["key"] != created["key"]
    stored = redis_client.hget(f"spillway:auth:key:{created['id']}", "sha256")
    assert stored == digest(rotated["key"].split("_", 2)[2]).encode()
    revoked = keys(redis_url, "revoke", created["id"])
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert redis_client.hget(f"spillway:auth:key:{created['id']}", "revoked") == b"1"
    again = keys(redis_url, "rotate", created["id"])
    assert again.returncode == 2 and "is revoked" in again.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create"], "the following arguments are required: --tenant"),
        (["create", "--tenant", "a b"], "--tenant: 1-64 letters"),
        (["create", "--tenant", "a", "--scope", "root"], "invalid choice: 'root'"),
        (["create", "--tenant", "a", "--rate", "-1"], "must be zero or more"),
        (["create", "--tenant", "a", "--burst", "0"], "must be a positive whole number"),
        (["create", "--tenant", "a", "--expires", "2020-01-01T00:00:00Z"], "in the past"),
        (["create", "--tenant", "a", "--expires", "soon"], "not an ISO 8601 time"),
        (["create", "--tenant", "a", "--functions", "Bad_Name"], "is not a function name"),
        (["revoke", "0123456789abcdef"], "no API key with id '0123456789abcdef'"),
        (["rotate", "nope"], "no API key with id 'nope'"),
    ],
)
def test_refusals_are_one_line_and_exit_2(
    redis_url: str, redis_client: redis.Redis, args: list[str], words: str
) -> None:
    done = keys(redis_url, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("spillway: error:")
    assert words in done.stderr


def test_an_unreachable_redis_is_one_line() -> None:
    done = keys("redis://:pw-123@127.0.0.1:1/0", "list")
    assert done.returncode == 1
    assert (
        done.stderr.startswith("spillway: error: cannot reach Redis")
        and "pw-123" not in done.stderr
    )
    assert done.stderr.count("\n") == 1


def test_create_spec_prints_a_line_for_the_key_file_and_stores_nothing(
    redis_url: str, redis_client: redis.Redis
) -> None:
    done = keys(redis_url, "create", "--tenant", "acme", "--rate", "3", "--spec", "--json")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    line = specs.parse(printed["spec"], "printed")
    _, secret = parse(printed["key"]) or ("", "")
    assert line.id == printed["id"] and line.sha256 == digest(secret) and line.rate == 3.0
    assert secret not in json.dumps(printed["spec"])
    assert redis_client.keys("spillway:auth:*") == []
