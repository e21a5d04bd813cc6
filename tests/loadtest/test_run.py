"""`spillway load` end to end against a real API and worker: the run folder and its figures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis

from functions.apikeys.model import ApiKey
from functions.apikeys.store import KeyStore
from functions.loadtest.config import LoadConfig
from functions.loadtest.profiles import Profile
from functions.loadtest.run import NO_REDIS_URL, _sources, execute
from functions.loadtest.summary import ComparedSummary
from tests.support.processes import ROOT, Proc

pytestmark = pytest.mark.e2e

PNG = b"\x89PNG\r\n\x1a\n"
CHARTS = ("rates.png", "queue.png", "replicas.png", "latency.png")


def load(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env.pop("REDIS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "functions.cli", "load", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=90,
    )


def test_burst_run_writes_the_folder_with_lost_zero(
    load_api: Proc, load_worker: Proc, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = load(
        "--url", load_api.url, "--profile", "burst", "--count", "16",
        "--payload", '{"seconds": 0.6}', "--out", str(out),
        "--redis-url", redis_url, "--key-prefix", key_prefix, "--drain-timeout", "60",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "accepted 16, rejected 0, succeeded 16, failed 0, lost 0" in result.stdout
    assert "\x1b[" not in result.stdout  # not a terminal: no progress bars

    summary = json.loads((out / "summary.json").read_text())
    assert summary["accepted"] == 16 and summary["succeeded"] == 16
    assert summary["rejected"] == 0 and summary["failed"] == 0 and summary["lost"] == 0
    for key in ("peak_replicas", "time_to_first_worker_s", "drain_time_s"):
        assert key in summary
    assert summary["drain_time_s"] > 0
    # 4 slots for 16 tasks of 0.6 s: a sample a second sees at least 4 of them waiting.
    assert summary["peak_queue_depth"] >= 4
    assert summary["run_s"]["p50"] == pytest.approx(0.6, abs=0.15)
    assert summary["queue_wait_s"]["max"] > 0.5
    assert summary["replicas_source"] is None  # no scaler here: said so, not invented
    assert any("no replica data" in w for w in summary["warnings"])

    for chart in CHARTS:
        data = (out / chart).read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, chart
    report = (out / "report.md").read_text()
    assert "| lost (accepted, never finished) | 0 |" in report
    assert all(f"![{c}]({c})" in report for c in CHARTS)

    with (out / "invocations.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 16 and {r["status"] for r in rows} == {"succeeded"}
    assert all(float(r["queue_wait_s"]) >= 0 and float(r["run_s"]) > 0.55 for r in rows)
    with (out / "samples.csv").open() as f:
        samples = list(csv.DictReader(f))
    assert len(samples) >= 2 and max(int(s["queue_depth"]) for s in samples) >= 4
    assert max(float(s["api_submitted"] or 0) for s in samples) >= 16  # read from /metrics
    assert (out / "arrivals.txt").read_text().splitlines() == ["0.000000"] * 16


def test_steady_batches_in_process(
    load_api: Proc, load_worker: Proc, redis_url: str, key_prefix: str, tmp_path: Path
) -> None:
    config = LoadConfig(
        url=load_api.url,
        profile=Profile("steady", rate=20, duration=1),
        out=tmp_path / "steady",
        function="echo",
        payload={"hello": "world"},
        batch=5,
        redis_url=redis_url,
        key_prefix=key_prefix,
        drain_timeout=30,
        compare_sim=True,  # the real `spillway simulate run`, on the same arrivals
        scaledobject=ROOT / "keda" / "base" / "scaledobject.yaml",
        sim_args=["--no-api", "--concurrency", "4"],
    )
    summary = execute(config)
    assert summary["accepted"] == 20 and summary["succeeded"] == 20 and summary["lost"] == 0
    assert summary["requests"] == 4  # 20 arrivals in batches of 5
    assert summary["offered_rate_per_s"] == pytest.approx(20 / 0.95, rel=0.01)
    with (config.out / "requests.csv").open() as f:
        sent = [float(r["sent_t"]) for r in csv.DictReader(f)]
    # Each batch leaves when its fifth arrival is due: 0.2, 0.45, 0.7, 0.95 s.
    assert sorted(sent) == pytest.approx([0.2, 0.45, 0.7, 0.95], abs=0.15)

    simulated = cast(ComparedSummary, summary)["simulator"]  # --compare-sim adds it
    assert "error" not in simulated, simulated
    assert simulated["task_seconds"] == summary["run_s"]["mean"]  # measured, then predicted
    assert set(simulated["errors"]) >= {"queue_depth", "in_flight"}
    assert simulated["scalars"]["queue_wait_p95_s"]["measured"] == summary["queue_wait_p95_s"]
    assert (config.out / "compare.png").read_bytes().startswith(PNG)
    assert (config.out / "sim" / "timeline.csv").exists()
    assert "## Simulator vs measured" in (config.out / "report.md").read_text()


def test_unreachable_redis_is_a_note_not_a_failure(tmp_path: Path) -> None:
    config = LoadConfig(
        url="http://127.0.0.1:9",
        profile=Profile("burst", count=3),
        out=tmp_path / "no-redis",
        redis_url="redis://127.0.0.1:1/0",
    )
    sources, notes = _sources(config, "spillway")
    assert [type(s).__name__ for s in sources] == ["ApiMetricsSource"]
    assert len(notes) == 1 and "not reachable" in notes[0] and "no queue or in-flight" in notes[0]
    for source in sources:
        source.close()


def test_a_payload_outside_the_schema_is_refused_before_anything_is_sent(
    load_api: Proc, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = load(
        "--url", load_api.url, "--profile", "burst", "--count", "5",
        "--payload", '{"seconds": -1}', "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr == (
        "spillway: error: --payload does not fit 'sleep''s input schema (GET /v1/functions): "
        "/seconds: -1 is less than the minimum of 0\n"
    )
    assert not out.exists()
    metrics = httpx.get(f"{load_api.url}/metrics").text
    assert 'spillway_invocations_rejected_total{function="sleep"' not in metrics  # none sent


def test_rejections_are_counted_by_reason_with_the_problem_detail(
    load_api: Proc, tmp_path: Path
) -> None:
    """A rule the schema does not carry: only the API's 422 tells, and the run says what it was."""
    out = tmp_path / "run"
    result = load(
        "--url", load_api.url, "--profile", "burst", "--count", "3", "--function", "even-only",
        "--payload", '{"n": 3}', "--out", str(out), "--drain-timeout", "5",
    )  # fmt: skip
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.splitlines()[-1] == (  # after the warning that no Redis is sampled
        "spillway: error: the API refused 3 invocations as invalid requests (see the warnings)"
    )
    assert "accepted 0, rejected 3" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    [rejection] = summary["rejections"]
    detail = rejection["detail"]  # the problem's detail and its first invalid field
    assert rejection == {"reason": "http-422", "detail": detail, "count": 3}
    assert "'even-only'" in detail and "n" in detail and "must be even" in detail
    assert f"warning: 3 rejected, http-422: {detail}" in result.stdout
    with (out / "invocations.csv").open() as f:
        assert {row["error"] for row in csv.DictReader(f)} == {detail}
    with (out / "requests.csv").open() as f:
        assert {row["error"] for row in csv.DictReader(f)} == {detail}


def test_without_a_redis_url_the_run_says_what_went_unsampled(
    load_api: Proc, load_worker: Proc, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = load(
        "--url", load_api.url, "--profile", "burst", "--count", "2", "--function", "echo",
        "--out", str(out), "--drain-timeout", "30",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    # Said before the run, on stderr, and again with the results.
    assert result.stderr.startswith(f"warning: {NO_REDIS_URL}\n")
    warnings = json.loads((out / "summary.json").read_text())["warnings"]
    assert NO_REDIS_URL in warnings
    assert any("no Redis to read spillway dev's scaler state from" in w for w in warnings)


def test_the_api_key_goes_to_an_api_that_requires_one(
    load_worker: Proc,
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    api_factory: Callable[..., Proc],
) -> None:
    """Against a cluster's API (SPILLWAY_AUTH=required), SPILLWAY_API_KEY is sent as a bearer."""
    client = redis.Redis.from_url(redis_url)
    scopes = ("invoke", "read")
    template = ApiKey(id="", tenant="load", sha256="", scopes=scopes, rate=0, max_backlog=0)
    key = KeyStore(client, key_prefix).create(template)[1]
    client.close()
    api = api_factory(redis_url, SPILLWAY_KEY_PREFIX=key_prefix, SPILLWAY_AUTH="required")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}
    env.pop("REDIS_URL", None)
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "functions.cli", "load", "--url", api.url, "--profile",
            "burst", "--count", "3", "--out", str(out), "--drain-timeout", "30"]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=90,
                            env={**env, "SPILLWAY_API_KEY": key})  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "accepted 3, rejected 0, succeeded 3, failed 0, lost 0" in result.stdout
    assert key not in result.stdout + result.stderr
    argv[argv.index(str(out))] = str(tmp_path / "without-key")
    refused = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=90, env=env)
    assert refused.returncode == 2
    assert "cannot read the function catalog" in refused.stderr and "401" in refused.stderr
