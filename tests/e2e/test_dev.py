"""`spillway dev`: the README's run command brings up the whole system and Ctrl-C stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from functions.localredis import free_port, reachable
from tests.support.processes import ROOT, wait_until

pytestmark = pytest.mark.e2e


def test_dev_starts_redis_api_and_worker_and_stops_cleanly() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing there: dev starts its own
    env["SPILLWAY_SOFT_SHUTDOWN_TIMEOUT"] = "2"
    proc = subprocess.Popen(
        [sys.executable, "-m", "functions.cli", "dev", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 60, "spillway dev to serve")
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
