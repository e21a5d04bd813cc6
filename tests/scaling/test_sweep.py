"""The grid sweep and its recommendation."""

from __future__ import annotations

import pytest

from functions.scaling import sweep
from functions.scaling.errors import OverrideError, SweepError
from functions.scaling.spec import Api, RunConfig, ScaledObjectSpec, Workers
from functions.scaling.workload import Profile, arrivals
from tests.scaling.helpers import scaled_object, trigger


def test_parse_slo_and_axes() -> None:
    assert sweep.parse_slo("p95=30s") == sweep.Slo(95, 30.0)
    assert sweep.parse_slo("p99=2m") == sweep.Slo(99, 120.0)
    with pytest.raises(SweepError, match="p95=30s"):
        sweep.parse_slo("p90=30s")
    assert sweep.parse_axis("listLength=2,4") == ("listLength", ["2", "4"])
    with pytest.raises(OverrideError, match="unknown setting"):
        sweep.parse_axis("listLenght=2")
    grid = sweep.cells([("a", ["1", "2"]), ("b", ["x"])])
    assert grid == [[("a", "1"), ("b", "x")], [("a", "2"), ("b", "x")]]


def test_cheapest_setting_that_meets_the_slo() -> None:
    """A larger listLength needs fewer pods (cheaper) but queues longer: the sweep keeps the
    cheapest cell within the SLO."""
    doc = scaled_object(trigger("q", length=1), pollingInterval=5, maxReplicaCount=20)
    tasks = arrivals(Profile("bursts", duration=1200, burst_size=80, every=200), seed=1)

    def make(spec: ScaledObjectSpec) -> RunConfig:
        return RunConfig(spec, Workers(concurrency=1, task_seconds=2), Api(spec=None), seed=1)

    slo = sweep.Slo(95, 40.0)
    results = sweep.run_sweep(doc, [("listLength", ["1", "4", "40"])], make, tasks, slo)
    costs = [c.summary["pod_seconds"] for c in results]
    waits = [c.summary["queue_wait_p95_s"] for c in results]
    assert costs[0] > costs[1] > costs[2] and waits[0] < waits[2]
    best = sweep.recommend(results, slo)
    assert best is not None and best.meets
    assert all(c.summary["pod_seconds"] >= best.summary["pod_seconds"] for c in results if c.meets)
    assert sweep.recommend(results, sweep.Slo(95, 0.0)) is None
