"""CLI errors are one line and a non-zero exit; --help works without Redis."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis

from tests.support.processes import ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "functions.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}, **env},
    )


@pytest.mark.parametrize("command", ["api", "worker", "dev"])
def test_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "usage: spillway" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["bogus"], {}, "invalid choice: 'bogus'"),
        ([], {}, "required: command"),
        (["api", "--port", "x"], {}, "not a whole number"),
        (["dev", "--port", "99999"], {}, "must be a port number from 1 to 65535, not 99999"),
        (["api"], {"PORT": "nope"}, "invalid setting PORT"),
        (["worker"], {"SPILLWAY_QUEUES": "nowhere"}, "names queues no function uses"),
        (["worker"], {"SPILLWAY_FUNCTION_MODULES": "no_such_mod"}, "cannot import function module"),
        (["worker"], {"REDIS_URL": "http://x"}, "invalid setting REDIS_URL"),
        (["api"], {"SPILLWAY_QUEUE_ROUTES": "ghost=q"}, "unknown functions: ghost"),
        (["api"], {"SPILLWAY_FUNCTION_MODULES": "no_such_mod"}, "cannot import function module"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spillway: error:") and message in lines[0]
    assert "Traceback" not in result.stderr


def test_acl_prints_rules_a_real_redis_loads(redis_client: redis.Redis) -> None:
    """`spillway acl` for this environment's settings (a prefix, a pool, the database in
    REDIS_URL): one `user` line per component, without passwords, that `ACL SETUSER` takes."""
    major, minor = str(redis_client.info("server")["redis_version"]).split(".")[:2]
    result = run(
        "acl", "--redis-version", f"{major}.{minor}",
        SPILLWAY_KEY_PREFIX="t1:", SPILLWAY_POOL="long", REDIS_URL="redis://h:6379/3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[1] for line in lines] == ["default", "api", "worker", "keda", "sender"]
    keda = lines[3].split()
    assert "~t1:unacked:long" in keda and "+select" in keda and "#" not in result.stdout
    try:
        for line in lines[1:]:
            _, name, *rules = line.split()
            assert redis_client.acl_setuser(f"cli-{name}", reset=True) is True
            redis_client.execute_command("ACL", "SETUSER", f"cli-{name}", *rules)  # type: ignore[no-untyped-call]
            assert redis_client.acl_getuser(f"cli-{name}") is not None
    finally:
        for line in lines[1:]:
            redis_client.acl_deluser(f"cli-{line.split()[1]}")
