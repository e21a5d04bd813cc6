"""How fast `spillway simulate run` simulates tasks: `python -m bench.simulate_speed`.

The scenario is the repository's own: keda/base/scaledobject.yaml and knative/service.yaml, a
steady Poisson load the pool can serve (30 tasks/s of 1 s mean, exponential, 2 per pod), run
until the workers are back to zero. Wall time covers generating the arrivals and service times
and the simulation itself, not reading the manifests or starting Python. The targets in issue 4
are 100k tasks under 2 s and 1M under 20 s.

    python -m bench.simulate_speed                     # 100k x 5 runs, 1M x 3 runs
    python -m bench.simulate_speed --sizes 100000 --runs 9
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

from functions.scaling import manifests
from functions.scaling.simulate import Simulation
from functions.scaling.spec import Api, RunConfig, Workers
from functions.scaling.workload import Profile, arrivals

ROOT = Path(__file__).resolve().parent.parent
RATE = 30.0  # tasks/s: 30 busy slots on average, within maxReplicaCount 20 x 2


def one_run(size: int, config: RunConfig, seed: int) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    tasks = arrivals(Profile("steady", rate=RATE, duration=size / RATE), seed)
    result = Simulation(config, tasks).run()
    return time.perf_counter() - start, result.summary


TARGETS_S = {100_000: 2.0, 1_000_000: 20.0}  # issue 4


def default_config() -> RunConfig:
    """The repository's scenario: keda/base's ScaledObject and knative's Service."""
    so_doc = manifests.select(
        manifests.load(ROOT / "keda" / "base" / "scaledobject.yaml"),
        "ScaledObject",
        manifests.KEDA_GROUP,
        None,
        "keda/base",
    )
    service = manifests.select(
        manifests.load(ROOT / "knative" / "service.yaml"),
        "Service",
        manifests.KNATIVE_GROUP,
        None,
        "knative",
    )
    return RunConfig(
        manifests.scaled_object_spec(so_doc),
        Workers(concurrency=2, task_seconds=1.0),
        Api(spec=manifests.knative_spec(service)),
    )


def default_runs(size: int) -> int:
    return 3 if size >= 1_000_000 else 5


def measure(size: int, runs: int, config: RunConfig | None = None) -> dict[str, Any]:
    """`runs` simulations of `size` tasks (seeds 0..runs-1): wall seconds and tasks simulated."""
    config = config or default_config()
    times = []
    summary: dict[str, Any] = {}
    for seed in range(runs):
        seconds, summary = one_run(size, config, seed)
        times.append(seconds)
    return {"size": size, "tasks": summary.get("tasks"), "seconds": times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100000,1000000", help="tasks per run, comma-separated")
    parser.add_argument("--runs", type=int, help="runs per size (default 5 below 1M, else 3)")
    args = parser.parse_args()
    config = default_config()
    print(f"{'tasks':>9} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'tasks/s':>10}")
    for size in (int(s) for s in args.sizes.split(",")):
        runs = args.runs or default_runs(size)
        measured = measure(size, runs, config)
        times = measured["seconds"]
        median = statistics.median(times)
        print(
            f"{measured['tasks']:>9,} {runs:>4} {median:>9.2f} {min(times):>7.2f} "
            f"{max(times):>7.2f} {measured['tasks'] / median:>10,.0f}"
        )


if __name__ == "__main__":
    main()
