"""`python -m bench.authtiming`: does the time of a 401 tell whether a key id exists?

Against one uvicorn with SPILLWAY_AUTH=required on a private Redis, it sends refused requests
whose key id exists (wrong secret) and whose id does not, interleaved so both see the same
machine, and prints their latency distributions side by side:

  warm   the same two ids again and again: what an attacker probing one id sees (each process
         holds the key it read, found or not, for SPILLWAY_AUTH_CACHE, so both are served
         from memory between reads)
  cold   a fresh id every request (many existing keys, many made-up ids): both read Redis

Writes bench/results/<date>-<host>-authtiming.json.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import statistics
import time
from typing import Any

import httpx
import redis

from bench.harness.cpus import Cpus
from bench.harness.machine import machine
from bench.harness.probes import wait_ok
from bench.harness.processes import ROOT, Proc, child_env
from bench.harness.redisserver import redis_server
from bench.submit import uvicorn_argv
from functions.apikeys.model import ApiKey, new_secret
from functions.apikeys.store import KeyStore
from functions.localredis import free_port

PATH = "/v1/functions/echo/invocations"


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def q(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))]

    return {
        "n": len(values),
        "p10_us": q(0.10),
        "p50_us": statistics.median(values),
        "p90_us": q(0.90),
        "p99_us": q(0.99),
        "mean_us": statistics.fmean(values),
    }


def timed(client: httpx.Client, key_id: str) -> float:
    headers = {"authorization": f"Bearer spw_{key_id}_{new_secret()}"}
    started = time.perf_counter()
    answer = client.post(PATH, content=b"{}", headers=headers)
    elapsed = (time.perf_counter() - started) * 1e6
    if answer.status_code != 401:
        raise SystemExit(f"expected 401, got {answer.status_code}: {answer.text}")
    return elapsed


def run(samples: int, cpus: Cpus) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with redis_server(cpus.load) as server:
        client = redis.Redis.from_url(server.url)
        store = KeyStore(client, "")
        existing = [store.create(ApiKey(id="", tenant="t", sha256=""))[0].id
                    for _ in range(samples)]  # fmt: skip
        port = free_port()
        env = child_env(
            REDIS_URL=server.url, SPILLWAY_AUTH="required", SPILLWAY_LOG_LEVEL="WARNING"
        )
        with Proc("authtiming", uvicorn_argv("functions.api.main:app", port, cpus), env) as proc:
            wait_ok(port, "/readyz", proc)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
                for _ in range(200):  # warm up the connection and the process
                    timed(http, existing[0])
                made_up = [f"{random.getrandbits(64):016x}" for _ in range(samples)]
                warm_known, warm_unknown = existing[0], made_up[0]
                series: dict[str, list[float]] = {
                    "warm_existing_id": [], "warm_unknown_id": [],
                    "cold_existing_id": [], "cold_unknown_id": [],
                }  # fmt: skip
                for i in range(samples):
                    pairs = [
                        ("warm_existing_id", warm_known),
                        ("warm_unknown_id", warm_unknown),
                        ("cold_existing_id", existing[i]),
                        ("cold_unknown_id", made_up[i]),
                    ]
                    random.shuffle(pairs)
                    for name, key_id in pairs:
                        series[name].append(timed(http, key_id))
        client.close()
    for name, values in series.items():
        results[name] = quantiles(values)
    for kind in ("warm", "cold"):
        known, unknown = results[f"{kind}_existing_id"], results[f"{kind}_unknown_id"]
        results[f"{kind}_median_difference_us"] = known["p50_us"] - unknown["p50_us"]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.authtiming", description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="requests per series")
    args = parser.parse_args()
    cpus = Cpus.detect()
    results = run(args.samples, cpus)
    for name in ("warm_existing_id", "warm_unknown_id", "cold_existing_id", "cold_unknown_id"):
        r = results[name]
        print(f"{name:18s} n={r['n']:5d}  p10 {r['p10_us']:7.0f}  p50 {r['p50_us']:7.0f}  "
              f"p90 {r['p90_us']:7.0f}  p99 {r['p99_us']:7.0f} us")  # fmt: skip
    for kind in ("warm", "cold"):
        print(f"{kind}: median(existing) - median(unknown) = "
              f"{results[f'{kind}_median_difference_us']:+.0f} us")  # fmt: skip
    day = datetime.date.today().isoformat()
    out = ROOT / "bench" / "results" / f"{day}-{machine()['host']}-authtiming.json"
    out.write_text(json.dumps({"machine": machine(), "cpus": cpus.describe(), **results}, indent=1))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
