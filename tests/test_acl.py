"""The ACL rules functions/acl/ generates: syntax every supported Redis loads, patterns built
from functions/keys.py, and a glob matcher that agrees with Redis's own."""

from __future__ import annotations

import redis

from functions import acl, keys

PREFIXES = ["", "tenant-a:", "we*ird[1]?\\:"]


def test_rules_use_only_syntax_redis_6_2_loads() -> None:
    """No `%R~`/`%W~` key permissions and no `(...)` selectors, which are Redis 7.0+
    (redis 7.0 src/acl.c ACLSetSelector); every list is reset so the line says it all."""
    for layout in (acl.Layout(), acl.Layout(prefix="p:", pools=("", "long"), db=2)):
        for user in acl.users(layout):
            rules = user.rules()
            assert "%" not in rules and "(" not in rules, rules
            assert rules.startswith("resetkeys ") and " resetchannels" in rules
            assert " -@all " in rules


def test_keda_may_run_only_its_scaler_script() -> None:
    """kedacore/keda pkg/scalers/redis_scaler.go (NewRedisScaler, getRedisClient): PING, then
    EVAL of a script that runs TYPE and a length read."""
    keda = next(u for u in acl.users(acl.Layout(redis_version=(7, 0))) if u.name == "keda")
    assert keda.commands == ("ping", "eval", "type", "llen", "hlen", "zcard")
    assert keda.keys == ("spillway", "unacked", "spillway:scheduled")
    assert keda.channels == ()


def test_select_only_for_another_database() -> None:
    for user in acl.users(acl.Layout()):
        assert "select" not in user.commands
    api = next(u for u in acl.users(acl.Layout(db=3)) if u.name == "api")
    assert "select" in api.commands


def test_api_keys_belong_to_the_api_alone() -> None:
    """Issue 12: the worker runs user code, so it must not read API keys; neither may KEDA or
    the callback sender."""
    for prefix in PREFIXES:
        layout = acl.Layout(prefix=prefix)
        key = keys.auth_pattern("").replace("*", "key:abc")
        assert acl.owners(layout, prefix + key) == ["api"]


def test_a_prefix_keeps_deployments_apart() -> None:
    """With SPILLWAY_KEY_PREFIX, every pattern is anchored on the (escaped) prefix: no user of
    one deployment reaches another's keys, even when the prefix holds glob characters."""
    for prefix in PREFIXES[1:]:
        layout = acl.Layout(prefix=prefix)
        for key in ("spillway", "unacked", "spillway:inv:1", "_kombu.binding.spillway"):
            assert acl.owners(layout, prefix + key), (prefix, key)
            assert acl.owners(layout, key) == [], (prefix, key)
            assert acl.owners(layout, "x" + prefix + key) == [], (prefix, key)


def test_remote_control_adds_pidbox_only_when_asked() -> None:
    off = next(u for u in acl.users(acl.Layout()) if u.name == "worker")
    on = next(u for u in acl.users(acl.Layout(remote_control=True)) if u.name == "worker")
    assert not any("pidbox" in k for k in off.keys + off.channels)
    assert "psubscribe" not in off.commands and "psubscribe" in on.commands
    assert any("pidbox" in c for c in on.channels)


def test_passwords_are_stored_as_hashes_and_users_without_one_are_left_out() -> None:
    lines = acl.acl_lines(acl.Layout(), {"api": [acl.password_hash("s3cret")], "keda": []})
    assert len(lines) == 1 and lines[0].startswith("user api on resetpass #")
    assert "s3cret" not in lines[0]
    assert acl.password_hash("s3cret") in lines[0]


def test_matcher_agrees_with_redis(redis_client: redis.Redis) -> None:
    """`acl.matches` decides the orphan check (tests/e2e/test_acl.py) where Redis has no ACL
    DRYRUN; KEYS uses the same matcher as ACL key patterns (redis src/util.c stringmatchlen)."""
    names = [
        "spillway",
        "spillway\x06\x163",
        "spillway\x06\x164",
        "spillway:inv:1",
        "we*ird[1]?\\:spillway:inv:1",
        "weXird1a:spillway:inv:1",
        "_kombu.binding.spillway",
        "unacked:long",
    ]
    for name in names:
        redis_client.set(name, "1")
    patterns = {
        p for prefix in PREFIXES for u in acl.users(acl.Layout(prefix=prefix)) for p in u.keys
    }
    for pattern in patterns:
        found = {k.decode() if isinstance(k, bytes) else k for k in redis_client.keys(pattern)}
        assert found == {n for n in names if acl.matches(pattern, n)}, pattern
