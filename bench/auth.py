"""`python -m bench.auth`: submit throughput with API keys and quotas on vs off, same build.

Each round runs four uvicorn processes in turn (the order rotates between rounds), on a private
Redis flushed before each run, measured with wrk as bench/submit.py measures:

  off         SPILLWAY_AUTH=off: no key, no tenant, no quota (the API as before issue 12)
  on          SPILLWAY_AUTH=required, a key whose quotas are checked on every submit (rate and
              tenant share set far above what a run reaches, so nothing is refused)
  off-batch, on-batch   the same with batches of payloads.BATCH_SIZE

Ratios are taken within a round: on/off throughput, on/off p99, and the batch-to-single ratio
with auth on vs off. Writes bench/results/<date>-<host>-auth.json and prints a summary.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
from pathlib import Path
from typing import Any

import redis

from bench import payloads
from bench.harness.cpus import Cpus
from bench.harness.interference import OthersOnCpu
from bench.harness.machine import machine
from bench.harness.probes import wait_ok
from bench.harness.processes import MAX_BACKLOG, ROOT, BenchError, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.harness.repeat import all_clean, clean_only, clean_run
from bench.harness.stats import rotate, summary
from bench.submit import Config, uvicorn_argv, write_bodies, wrk
from functions.apikeys.model import ApiKey
from functions.apikeys.store import KeyStore
from functions.localredis import free_port

VARIANTS = ("off", "on", "off-batch", "on-batch")
# Far above a run's submits: the checks run in full, and never refuse.
UNLIMITED = {"rate": 1e9, "burst": 1_000_000_000, "max_backlog": 1_000_000_000_000}


def one_run(
    variant: str, client: redis.Redis, url: str, config: Config, cpus: Cpus,
    bodies: dict[str, Path],
) -> dict[str, Any]:  # fmt: skip
    batch = variant.endswith("batch")
    auth = variant.startswith("on")
    path = payloads.BATCH_PATH if batch else payloads.SUBMIT_PATH
    body_file = bodies["batch" if batch else "single"]
    client.flushall()
    authorization = ""
    if auth:
        key = ApiKey(id="", tenant="bench", sha256="", **UNLIMITED)  # type: ignore[arg-type]
        authorization = "Bearer " + KeyStore(client, "").create(key)[1]
    port = free_port()
    env = child_env(
        REDIS_URL=url,
        SPILLWAY_MAX_BACKLOG=MAX_BACKLOG,
        SPILLWAY_LOG_LEVEL="WARNING",
        SPILLWAY_AUTH="required" if auth else "off",
    )
    per_request = payloads.BATCH_SIZE if batch else 1
    with Proc(f"auth-{variant}", uvicorn_argv("functions.api.main:app", port, cpus), env) as proc:
        wait_ok(port, "/readyz", proc)
        warm = wrk(
            port,
            path,
            body_file,
            config.warmup,
            config.connections,
            cpus,
            authorization=authorization,
        )
        if warm["status_errors"]:
            raise BenchError(f"{variant}: {warm['status_errors']} non-2xx answers in the warm-up")
        others = OthersOnCpu(proc.pid, cpus.server)
        result = wrk(
            port,
            path,
            body_file,
            config.duration,
            config.connections,
            cpus,
            authorization=authorization,
        )
        others_pct = others.pct()
    result.update(
        variant=variant,
        invocations_per_s=result["rps"] * per_request,
        others_on_server_cpu_pct=others_pct,
        tenant_backlog=int(client.get("spillway:tenant:bench:backlog") or 0) if auth else None,
    )
    return result


def run(
    config: Config, cpus: Cpus, log: Any = print, variants: tuple[str, ...] = VARIANTS
) -> dict[str, Any]:
    bodies = write_bodies()
    rounds: list[dict[str, Any]] = []
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        for r in range(config.rounds):
            current: dict[str, dict[str, Any]] = {}
            for variant in rotate(list(variants), r):
                result = clean_run(
                    f"round {r + 1} {variant}",
                    functools.partial(one_run, variant, client, server.url, config, cpus, bodies),
                    log,
                )
                current[variant] = result
                log(
                    f"  round {r + 1}/{config.rounds} {variant:10s} {result['rps']:8.0f} req/s "
                    f"{result['invocations_per_s']:9.0f} inv/s  p50 {result['p50_us'] / 1000:6.2f}"
                    f" ms  p99 {result['p99_us'] / 1000:6.2f} ms  non-2xx "
                    f"{result['status_errors']}  others-on-cpu "
                    f"{result['others_on_server_cpu_pct']:.1f}%"
                )
            entry: dict[str, Any] = {
                "runs": current,
                "non_2xx": sum(x["status_errors"] for x in current.values()),
                "clean": all_clean(current.values()),
            }
            if "on" in current:
                off, on = current["off"], current["on"]
                entry.update(
                    throughput_on_vs_off=on["rps"] / off["rps"],
                    p99_on_vs_off=on["p99_us"] / off["p99_us"],
                )
            if "on-batch" in current:
                off_batch, on_batch = current["off-batch"], current["on-batch"]
                entry.update(
                    batch_throughput_on_vs_off=on_batch["invocations_per_s"]
                    / off_batch["invocations_per_s"],
                    batch_p99_on_vs_off=on_batch["p99_us"] / off_batch["p99_us"],
                )
            if "on" in current and "on-batch" in current:
                entry.update(
                    batch_vs_single_off=current["off-batch"]["invocations_per_s"]
                    / current["off"]["rps"],
                    batch_vs_single_on=current["on-batch"]["invocations_per_s"]
                    / current["on"]["rps"],
                )
            rounds.append(entry)
        client.close()
    kept = clean_only(rounds)
    keys = ("throughput_on_vs_off", "p99_on_vs_off", "batch_vs_single_off",
            "batch_vs_single_on", "batch_throughput_on_vs_off", "batch_p99_on_vs_off")  # fmt: skip
    return {
        "config": {**config.__dict__, "batch_size": payloads.BATCH_SIZE},
        "ratios": {k: summary([r[k] for r in kept]) for k in keys if k in kept[0]},
        "rps": {v: summary([r["runs"][v]["rps"] for r in kept]) for v in variants},
        "p99_ms": {v: summary([r["runs"][v]["p99_us"] / 1000 for r in kept]) for v in variants},
        "rounds_clean": sum(1 for r in rounds if r["clean"]),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.auth", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--single", action="store_true", help="off and on only, no batches")
    parser.add_argument("--batch", action="store_true", help="the two batch variants only")
    parser.add_argument("--tag", default="", help="appended to the result file's name")
    args = parser.parse_args()
    cpus = Cpus.detect()
    print(cpus.describe())
    variants = ("off", "on") if args.single else VARIANTS
    variants = ("off-batch", "on-batch") if args.batch else variants
    results = run(Config(rounds=args.rounds, duration=args.duration), cpus, variants=variants)
    for name, s in results["ratios"].items():
        print(f"{name:28s} median {s['median']:.3f}  min {s['min']:.3f}  max {s['max']:.3f}")
    day = datetime.date.today().isoformat()
    out = ROOT / "bench" / "results" / f"{day}-{machine()['host']}-auth{args.tag}.json"
    out.write_text(json.dumps({"machine": machine(), "cpus": cpus.describe(), **results}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
