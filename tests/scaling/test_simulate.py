"""The discrete-event simulation of API, queue, KEDA + HPA and worker pods."""

from __future__ import annotations

from functions.scaling.simulate import Simulation
from functions.scaling.spec import Api, KnativeSpec, RunConfig, Workers
from functions.scaling.workload import Profile, arrivals
from tests.scaling.helpers import spec_of, trigger

# The repository's shape: queue + unacked summed by scalingModifiers, 2 tasks per pod.
SPEC = spec_of(
    trigger("spillway", length=2, name="queued"),
    trigger("unacked", length=2, name="inflight"),
    modifiers={"formula": "queued + inflight", "target": "2"},
    pollingInterval=5,
    cooldownPeriod=30,
    maxReplicaCount=10,
)
NO_API = Api(spec=None)


def test_one_task_by_hand() -> None:
    """Arrival at t=1; KEDA's poll at 5 activates; the pod is ready at 5 + 10; the task (2 s)
    runs 15-17; the poll at 15 sees it in flight (last active); 15 + 30 < 50 scales to 0."""
    cfg = RunConfig(SPEC, Workers(startup=10, task_seconds=2, distribution="const"), NO_API)
    result = Simulation(cfg, [1.0]).run()
    s = result.summary
    assert s["time_to_first_worker_s"] == 14.0
    assert s["queue_wait_p50_s"] == s["queue_wait_p99_s"] == 14.0
    assert s["drained_at_s"] == 17.0
    assert s["pod_seconds"] == 45.0  # created at 5, deleted at 50
    assert s["end_s"] == 50.0 and s["end_replicas"] == 0
    assert [(d.t, d.replicas) for d in result.decisions] == [(5, 1), (50, 0)]


def test_same_seed_same_run_and_every_task_completes() -> None:
    tasks = arrivals(Profile("bursts", duration=900, burst_size=60, every=120), seed=3)
    cfg = RunConfig(SPEC, Workers(task_seconds=3), Api(KnativeSpec(total_target=20)), seed=3)
    a, b = Simulation(cfg, tasks).run(), Simulation(cfg, tasks).run()
    assert a.summary == b.summary and a.timeline == b.timeline
    assert a.summary["completed"] == a.summary["tasks"] == len(tasks)
    assert a.summary["max_replicas"] <= 10 and a.summary["end_replicas"] == 0
    assert a.summary["api_cold_starts"] >= 1


def test_queue_length_alone_scales_in_busy_pods_and_restarts_their_tasks() -> None:
    """notes 6.4 and keda/base/scaledobject.yaml: a trigger on the queue list alone reads 0 once
    every task runs, so the HPA scales in and KEDA, after the cooldown, scales to zero while pods
    are busy. The ReplicaSet deletes busy pods too (kedacore/keda#3674); after the soft-shutdown
    window their tasks are requeued and start over. Counting `unacked` as well keeps them."""
    queue_only = spec_of(
        trigger("spillway", length=1),
        pollingInterval=5,
        cooldownPeriod=30,
        maxReplicaCount=10,
        behavior={"scaleDown": {"stabilizationWindowSeconds": 0}},
    )
    workers = Workers(concurrency=1, startup=5, grace=5, task_seconds=120, distribution="const")
    cfg = RunConfig(queue_only, workers, NO_API, max_time=2000)
    s = Simulation(cfg, [0.5] * 8).run().summary
    assert s["requeued_tasks"] > 8 and s["completed"] < 8  # 120 s tasks never get 120 s
    both = spec_of(
        trigger("spillway", length=1, name="queued"),
        trigger("unacked", length=1, name="inflight"),
        modifiers={"formula": "queued + inflight", "target": "1"},
        pollingInterval=5,
        cooldownPeriod=30,
        maxReplicaCount=10,
        behavior={"scaleDown": {"stabilizationWindowSeconds": 0}},
    )
    s = Simulation(RunConfig(both, workers, NO_API, max_time=2000), [0.5] * 8).run().summary
    assert s["requeued_tasks"] == 0 and s["completed"] == 8


def test_api_cold_start_buffers_requests_in_the_activator() -> None:
    """frontend.py: with the API at zero the first request pokes the KPA; requests wait for the
    first pod (api_startup) and enter the queue together."""
    cfg = RunConfig(SPEC, Workers(), Api(KnativeSpec(), startup=4))
    s = Simulation(cfg, [0.0, 1.0, 2.0]).run().summary
    assert s["api_cold_starts"] == 1 and s["api_buffered_requests"] == 3
    assert s["api_buffer_wait_max_s"] == 4.0


def test_progress_callback_reaches_one() -> None:
    seen: list[float] = []
    cfg = RunConfig(SPEC, Workers(), NO_API)
    Simulation(cfg, arrivals(Profile(rate=2, duration=60), 0), seen.append).run()
    assert seen[-1] == 1.0
