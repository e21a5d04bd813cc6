"""Scale-out: `spillway load` against `spillway dev --fast` (docs/load-testing.md).

Each run starts a private redis-server and a fresh `spillway dev --fast --max-workers N` on it
(so every run scales out from zero workers), sends one burst of `count` `sleep` invocations with
`spillway load --profile burst`, waits for the drain, and reads the run folder's summary.json.
Then dev is stopped with SIGTERM to its process group when the `with` block ends (dev stops its
workers; whatever is left in the group after Proc.stop's 15 s is killed) and Redis is shut down.
The figures are in dev's --fast clock (the scaler runs 10x faster than KEDA/HPA would), not a
cluster's.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness.cpus import Cpus
from bench.harness.probes import wait_ok
from bench.harness.processes import BIN, ROOT, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.stats import summary
from functions.localredis import free_port

FIELDS = (
    "accepted",
    "lost",
    "peak_replicas",
    "time_to_first_worker_s",
    "scale_out_lag_s",
    "drain_time_s",
    "replica_seconds",
    "queue_wait_p95_s",
)


@dataclass(frozen=True)
class Config:
    runs: int = 3
    count: int = 60
    seconds: float = 1.0
    max_workers: int = 4
    drain_timeout_s: float = 120.0


def one_run(config: Config, cpus: Cpus, out: Path) -> dict[str, Any]:
    with redis_server(cpus.load) as server:
        port = free_port()
        dev = Proc(
            "scaleout-dev",
            [str(BIN / "spillway"), "dev", "--fast", "--port", str(port),
             "--max-workers", str(config.max_workers)],
            child_env(REDIS_URL=server.url, SPILLWAY_SOFT_SHUTDOWN_TIMEOUT="2"),
        )  # fmt: skip
        with dev:
            wait_ok(port, "/readyz", dev, timeout=60, interval=0.1)
            load = subprocess.run(
                [str(BIN / "spillway"), "load", "--url", f"http://127.0.0.1:{port}",
                 "--profile", "burst", "--count", str(config.count), "--function", "sleep",
                 "--payload", json.dumps({"seconds": config.seconds}),
                 "--redis-url", server.url, "--out", str(out),
                 "--drain-timeout", str(config.drain_timeout_s), "--no-progress"],
                cwd=ROOT, env=child_env(), capture_output=True, text=True,
                timeout=config.drain_timeout_s + 120,
            )  # fmt: skip
            if load.returncode != 0 or not (out / "summary.json").exists():
                tail = (load.stderr + load.stdout)[-2000:]
                raise BenchError(f"spillway load exited {load.returncode}:\n{tail}")
    data = json.loads((out / "summary.json").read_text())
    return {key: data.get(key) for key in (*FIELDS, "offered", "succeeded", "replicas_source")}


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    runs = []
    with tempfile.TemporaryDirectory(prefix="spillway-bench-scaleout-") as tmp:
        for i in range(config.runs):
            row = one_run(config, cpus, Path(tmp) / f"run{i + 1}")
            runs.append(row)
            log(
                f"  run {i + 1}/{config.runs}: "
                + ", ".join(
                    f"{k} {row[k]:.2f}" if isinstance(row[k], float) else f"{k} {row[k]}"
                    for k in FIELDS
                )
            )
    stats = {key: summary([r[key] for r in runs if r[key] is not None]) for key in FIELDS}
    return {"config": config.__dict__, "figures": stats, "runs": runs}
