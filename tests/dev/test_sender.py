"""`spillway dev` runs a sender: a callback to a local receiver arrives, signed with the secret
dev made for the session and wrote to a file only its user can read."""

from __future__ import annotations

import os
import re
import signal
import stat
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from functions.localredis import RedisServer
from tests.support.processes import get_ok, spawn_dev, wait_until
from tests.support.receiver import receiving

pytestmark = pytest.mark.e2e


def test_dev_delivers_callbacks_signed_with_its_session_secret(own_redis: RedisServer) -> None:
    proc, base = spawn_dev(own_redis.url, "--workers", "1")
    lines: list[str] = []
    try:
        with receiving() as receiver:
            assert proc.stdout is not None
            while not any("Spillway is up" in line for line in lines):
                line = proc.stdout.readline()
                assert line, "".join(lines)
                lines.append(line)
            while not any("made for this session" in line for line in lines):
                lines.append(proc.stdout.readline())
            wait_until(lambda: get_ok(f"{base}/readyz"), 60, "spillway dev to serve")
            found = re.search(r"made for this session: (\S+)", "".join(lines))
            assert found, "".join(lines)
            path = Path(found.group(1))
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            secret = path.read_text().strip()
            assert secret not in "".join(lines)
            response = httpx.post(
                f"{base}/v1/functions/echo/invocations",
                json={"hello": "dev"},
                headers={"X-Callback-Url": receiver.answer("/hook", 200)},
                timeout=10,
            )
            assert response.status_code == 202, response.text
            (got,) = receiver.wait_for("/hook", timeout=60)
            assert Webhook(secret).verify(got.body, got.headers)["result"] == {"hello": "dev"}
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, "".join(lines) + output
