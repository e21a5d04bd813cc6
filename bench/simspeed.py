"""Simulator speed as a suite section: bench/simulate_speed.py's measurement (same scenario,
same timing: generating the arrivals and service times plus the simulation, seeds 0..runs-1),
for 100k and 1M tasks against issue 4's targets (< 2 s and < 20 s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.harness.cpus import Cpus
from bench.harness.stats import summary
from bench.simulate_speed import RATE, TARGETS_S, default_config, measure


@dataclass(frozen=True)
class Config:
    runs_100k: int = 5
    runs_1m: int = 3


def run(config: Config, cpus: Cpus, log: Any = print) -> dict[str, Any]:
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
