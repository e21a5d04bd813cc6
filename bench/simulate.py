"""Simulator speed (section `simulate`): how fast `spillway simulate run` simulates tasks.

The scenario is the repository's own: keda/base/scaledobject.yaml and knative/service.yaml, a
steady Poisson load the pool can serve (RATE tasks/s of 1 s mean, exponential, 2 per pod), run
until the workers are back to zero. Wall time covers generating the arrivals and service times
and the simulation itself, not reading the manifests or starting Python. The targets and the
latest figures are in docs/benchmarks.md.

    python -m bench.simulate                     # 100k x 5 runs, 1M x 3 runs
    python -m bench.simulate --sizes 100000 --runs 9
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass
from typing import Any

from bench.harness.cpus import Cpus
from bench.harness.processes import ROOT
from bench.harness.stats import summary
from functions.scaling import manifests
from functions.scaling.simulate import Simulation
from functions.scaling.spec import Api, RunConfig, Workers
from functions.scaling.workload import Profile, arrivals

RATE = 30.0  # tasks/s: 30 busy slots on average, within maxReplicaCount 20 x 2
TARGETS_S = {100_000: 2.0, 1_000_000: 20.0}  # median wall seconds per size


@dataclass(frozen=True)
class Config:
    runs_100k: int = 5
    runs_1m: int = 3


def one_run(size: int, config: RunConfig, seed: int) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    tasks = arrivals(Profile("steady", rate=RATE, duration=size / RATE, process="poisson"), seed)
    result = Simulation(config, tasks).run()
    return time.perf_counter() - start, result.summary


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


def measure(size: int, runs: int, config: RunConfig | None = None) -> dict[str, Any]:
    """`runs` simulations of `size` tasks (seeds 0..runs-1): wall seconds and tasks simulated."""
    config = config or default_config()
    times = []
    result: dict[str, Any] = {}
    for seed in range(runs):
        seconds, result = one_run(size, config, seed)
        times.append(seconds)
    return {"size": size, "tasks": result.get("tasks"), "seconds": times}


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
    """The suite's section: 100k and 1M tasks against their targets."""
    sim_config = default_config()
    sizes: dict[str, Any] = {}
    for size, runs in ((100_000, config.runs_100k), (1_000_000, config.runs_1m)):
        measured = measure(size, runs, sim_config)
        stat = summary(measured["seconds"])
        sizes[str(size)] = {
            "tasks": measured["tasks"],
            "seconds": stat,
            "tasks_per_s": measured["tasks"] / stat["median"],
            "target_s": TARGETS_S[size],
        }
        log(
            f"  {measured['tasks']:,} tasks x {runs}: median {stat['median']:.2f} s "
            f"({stat['min']:.2f}-{stat['max']:.2f}), target < {TARGETS_S[size]:g} s"
        )
    return {"config": {**config.__dict__, "rate_per_s": RATE}, "sizes": sizes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100000,1000000", help="tasks per run, comma-separated")
    parser.add_argument("--runs", type=int, help="runs per size (default 5 below 1M, else 3)")
    args = parser.parse_args()
    config = default_config()
    print(f"{'tasks':>9} {'runs':>4} {'median s':>9} {'min s':>7} {'max s':>7} {'tasks/s':>10}")
    for size in (int(s) for s in args.sizes.split(",")):
        runs = args.runs or (Config.runs_1m if size >= 1_000_000 else Config.runs_100k)
        measured = measure(size, runs, config)
        times = measured["seconds"]
        median = statistics.median(times)
        print(
            f"{measured['tasks']:>9,} {runs:>4} {median:>9.2f} {min(times):>7.2f} "
            f"{max(times):>7.2f} {measured['tasks'] / median:>10,.0f}"
        )


if __name__ == "__main__":
    main()
