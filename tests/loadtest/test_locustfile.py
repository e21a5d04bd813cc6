"""The locustfile offers the same schedules through Locust (a real `locust --headless` process)."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from functions.loadtest.sources import parse_metrics
from tests.support.processes import ROOT, Proc

pytestmark = pytest.mark.e2e

LOCUSTFILE = ROOT / "functions" / "loadtest" / "locustfile.py"


def submitted(api: Proc) -> float:
    text = httpx.get(f"{api.url}/metrics", timeout=5).text
    return parse_metrics(text, "echo", "spillway").get("submitted", 0.0)


def locust(api: Proc, profile: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPILLWAY_", "LOCUST_"))}
    env.update(SPILLWAY_PROFILE=profile, PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", api.url,
         "--only-summary", "--spillway-function", "echo", "--spillway-payload", "{}", *args],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=90,
    )  # fmt: skip


def test_spike_shape_sends_every_arrival_on_schedule_and_stops(load_api: Proc) -> None:
    before = submitted(load_api)
    result = locust(
        load_api, "spike", "--spillway-count", "5", "--spillway-spikes", "2",
        "--spillway-period", "1.5", "--spillway-rate", "2",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert submitted(load_api) - before == 2 * 5 + 6  # two spikes and 2/s over 3 s
    assert "spillway: 16 of 16 arrivals sent" in result.stderr
    assert "POST" in result.stderr + result.stdout  # Locust's own summary table
