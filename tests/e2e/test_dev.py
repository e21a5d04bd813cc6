"""`spillway dev`: the README's run command brings up the whole system and Ctrl-C stops it."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx
import pytest
import redis

from functions.localredis import RedisServer, free_port, reachable
from tests.support.processes import get_ok, spawn_dev, wait_until

pytestmark = pytest.mark.e2e


def test_dev_starts_redis_api_and_worker_and_stops_cleanly() -> None:
    # Nothing answers at this REDIS_URL: dev starts its own Redis.
    proc, base = spawn_dev(f"redis://127.0.0.1:{free_port()}/0")
    port = base.rsplit(":", 1)[1]
    try:
        wait_until(lambda: get_ok(f"{base}/readyz"), 60, "spillway dev to serve")
        deadline = time.monotonic() + 60
        while True:
            response = httpx.post(
                f"{base}/v1/functions/echo/invocations?wait=5", json={"ping": 1}, timeout=10
            )
            if response.status_code == 200 or time.monotonic() > deadline:
                break
        assert response.status_code == 200, response.text
        assert response.json()["result"] == {"ping": 1}

        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, output
    assert "starting a private one" in output
    assert f"Spillway is up: http://127.0.0.1:{port}" in output
    # Nothing it started is left behind: the process group is empty and its Redis is gone.
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)
    started = [line for line in output.splitlines() if line.startswith("started Redis at ")]
    assert len(started) == 1
    assert not reachable(started[0].removeprefix("started Redis at "))


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
            proc.wait()
    assert "FAST mode" in output
    assert proc.returncode == 0, output[-3000:]
