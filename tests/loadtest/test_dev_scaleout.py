"""Against `spillway dev --fast`: a burst scales real workers above one, and nothing is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.processes import ROOT, spawn_dev, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def dev() -> Iterator[tuple[str, str]]:
    # No REDIS_URL: dev starts its own private Redis.
    proc, base = spawn_dev(None, "--fast")
    lines: list[str] = []
    stdout = proc.stdout
    assert stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stdout.readline, "")))
    reader.start()

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError("spillway dev exited:\n" + "".join(lines)[-3000:])
        try:
            return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(ready, 60, "spillway dev --fast to serve")
        started = [x for x in lines if x.startswith("started Redis at ")]
        assert started, "".join(lines)
        yield base, started[0].removeprefix("started Redis at ").strip()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: dev stops its workers and Redis
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        reader.join(5)
        stdout.close()


def test_burst_scales_workers_above_one_and_loses_nothing(
    dev: tuple[str, str], tmp_path: Path
) -> None:
    url, redis_url = dev
    out = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "functions.cli", "load", "--url", url, "--profile", "burst",
         "--count", "30", "--payload", '{"seconds": 1}', "--redis-url", redis_url,
         "--out", str(out), "--drain-timeout", "90"],
        capture_output=True, text=True, cwd=ROOT, timeout=110,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["accepted"] == 30 and summary["succeeded"] == 30 and summary["lost"] == 0
    assert summary["replicas_source"].startswith("spillway dev (local scaler")
    assert summary["peak_replicas"] > 1
    assert summary["time_to_first_worker_s"] is not None
    assert summary["replica_seconds"] > 0
    for chart in ("rates.png", "queue.png", "replicas.png", "latency.png"):
        assert (out / chart).stat().st_size > 5_000
