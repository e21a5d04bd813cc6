"""The Knative Pod Autoscaler (docs/scaling.md, "Knative")."""

from __future__ import annotations

import pytest

from functions.scaling import manifests
from functions.scaling.frontend import Frontend
from functions.scaling.knative import TICK, KnativeAutoscaler, probed_by_activator, ready_after
from functions.scaling.manifests import KNATIVE_GROUP
from functions.scaling.spec import KnativeSpec
from tests.support.processes import ROOT

# target 10 x utilization 1.0 = 10 concurrent requests per pod.
SPEC = KnativeSpec(total_target=10, utilization=1.0)


def feed(kpa: KnativeAutoscaler, seconds: range, concurrency: float) -> None:
    for s in seconds:
        kpa.record(s, concurrency)


def zero_time(kpa: KnativeAutoscaler, start: float, end: float) -> float | None:
    """Tick every 2 s with one ready pod (0 s scrapes); when does the revision reach 0 pods?"""
    t = start
    while t <= end:
        feed(kpa, range(int(t - TICK), int(t)), 0.0)
        if kpa.tick(t, kpa.replicas).replicas == 0:
            return t
        t += TICK
    return None


def test_stable_mode_targets_concurrency_over_target_times_utilization() -> None:
    """autoscaler.go Scale: desired = ceil(stable average / TargetValue), TargetValue = target x
    utilization (resources/target.go)."""
    kpa = KnativeAutoscaler(KnativeSpec(total_target=20, utilization=0.7), replicas=1)
    feed(kpa, range(0, 60), 30.0)
    assert kpa.tick(60, 1).replicas == 3  # ceil(30 / 14)


def test_panic_mode_scales_up_on_the_panic_window_and_never_down() -> None:
    """autoscaler.go: panic when ceil(panic average / target) / readyPods >= 2 (200 %); while
    panicking desired = max(stable, panic) and never decreases; un-panic only after a full stable
    window without crossing (panicTime + StableWindow < now)."""
    kpa = KnativeAutoscaler(SPEC, replicas=1)
    feed(kpa, range(0, 60), 5.0)
    feed(kpa, range(60, 66), 50.0)  # the 6 s panic window sees 50 in flight
    d = kpa.tick(66, 1)
    assert d.panicking and d.replicas == 5  # the stable average (9.5) says 1, panic says 5
    feed(kpa, range(66, 80), 0.0)
    assert kpa.tick(80, 5).replicas == 5  # load gone, still panicking: no scale-down
    feed(kpa, range(80, 126), 0.0)
    assert kpa.tick(126, 5).panicking  # 66 + 60 < 126 is false
    feed(kpa, range(126, 128), 0.0)
    d = kpa.tick(128, 5)
    assert not d.panicking and d.replicas == 2  # max-scale-down-rate 2: floor(5 / 2)


def test_scale_to_zero_after_stable_window_plus_grace_period() -> None:
    """kpa/scaler.go handleScaleToZero: an Active PA with desired 0 is first marked inactive
    (the activator takes over); the last pod goes once inactive for max(grace, retention) = 30 s.
    With target-burst-capacity 0 the activator was not in the path before."""
    kpa = KnativeAutoscaler(KnativeSpec(total_target=10, target_burst_capacity=0), replicas=1)
    feed(kpa, range(0, 10), 1.0)
    # The stable window (60 s) still holds second 9 until t = 69; inactive at 70, zero at 100.
    assert zero_time(kpa, 12, 300) == 100


def test_scale_to_zero_fast_path_when_the_activator_is_in_the_path() -> None:
    """handleScaleToZero "Fast path scaling to 0": SKS in proxy mode for >= the grace period.
    With the default target-burst-capacity 211 a small revision keeps the activator in the path
    (kpa.go: Serve only when excess burst capacity >= 0), so zero comes one tick after
    deactivation (knative/serving#13671: pod Terminating 68 s after start)."""
    kpa = KnativeAutoscaler(KnativeSpec(total_target=10), replicas=1)
    feed(kpa, range(0, 10), 1.0)
    assert zero_time(kpa, 12, 300) == 72


def test_a_request_at_zero_pokes_the_autoscaler() -> None:
    """multiscaler.go Poke: at scale 0 the activator's report runs the decider at once; R = 1 so
    desired >= 1; the PA is Activating until a pod is ready (kpa.go computeActiveCondition)."""
    kpa = KnativeAutoscaler(SPEC)
    d = kpa.poke(5.3, 0)
    assert d is not None and d.replicas == 1 and kpa.state == "activating"
    assert kpa.poke(6.0, 0) is None  # already scaling
    feed(kpa, range(5, 8), 1.0)
    assert kpa.tick(8, 1).replicas == 1
    assert kpa.state_since == 8  # Active from the tick that saw the pod ready


def test_window_average_restarts_after_a_window_without_scrapes() -> None:
    """bucketing.go Record: no write for a whole window resets firstWrite, and WindowAverage
    divides by the buckets since then: a burst after idling is not diluted over 60 s."""
    kpa = KnativeAutoscaler(SPEC)
    kpa.record(100, 30.0)
    stable, panic = kpa.observed(101)
    assert stable == 30.0 and panic == 30.0
    kpa.record(101, 0.0)
    assert kpa.observed(102) == (15.0, 15.0)


def test_min_and_max_scale_bound_the_decision() -> None:
    """kpa/scaler.go applyBounds: max-scale caps, min-scale floors (0 = unbounded max)."""
    kpa = KnativeAutoscaler(KnativeSpec(total_target=10, utilization=1.0, max_scale=3), replicas=1)
    feed(kpa, range(0, 60), 100.0)
    assert kpa.tick(60, 1).replicas == 3


def _held_for(spec: KnativeSpec, app_start: float) -> float:
    """How long the activator holds a request that arrives at t = 0 with the revision at zero."""
    delivered: list[float] = []
    front = Frontend(
        spec, startup=app_start, latency=0.01, timeout=300, enqueue=delivered.append, horizon=60
    )
    front.arrive(0.0)
    t = 0.0
    while not delivered and t < 60:
        t = front.next_due
        front.control(t)
    return front.buffer_wait_max


def test_cold_start_without_a_startup_probe_waits_for_the_activators_probe() -> None:
    """revision_backends.go (defaultProbeFrequency 200 ms) and pkg/queue/readiness/probe.go
    (retryInterval 50 ms), knative-v1.15.0: the pod is routed at the first 200 ms activator
    probe after queue-proxy's 50 ms poll sees the app ready."""
    spec = KnativeSpec()
    assert probed_by_activator(spec)
    assert ready_after(spec, 3.0) == pytest.approx(3.0)
    assert ready_after(spec, 3.01) == pytest.approx(3.2)
    assert _held_for(spec, 3.01) == pytest.approx(3.2)


def test_a_startup_probe_makes_cold_starts_wait_for_the_kubelet() -> None:
    """revision_backends.go getOrCreateRevisionWatcher: a startup probe turns the activator's
    probing off; the pod is Ready at the startup probe's next tick and reaches the activator
    through the endpoints (endpoint_lag)."""
    spec = KnativeSpec(startup_probe_period=1.0, endpoint_lag=0.5)
    assert not probed_by_activator(spec)
    assert ready_after(spec, 3.01) == pytest.approx(4.5)
    delayed = KnativeSpec(startup_probe_period=2.0, startup_probe_delay=5.0, endpoint_lag=0.5)
    assert ready_after(delayed, 3.01) == pytest.approx(5.5)
    assert _held_for(spec, 3.01) > _held_for(KnativeSpec(), 3.01)


def test_the_shipped_service_keeps_the_fast_cold_start() -> None:
    """knative/service.yaml as the simulator reads it: no startup probe, HTTP readiness."""
    docs = manifests.load(ROOT / "knative" / "service.yaml")
    spec = manifests.knative_spec(manifests.select(docs, "Service", KNATIVE_GROUP, None, "api"))
    assert spec.startup_probe_period is None and not spec.exec_readiness
    assert probed_by_activator(spec)
    with_probe = manifests.knative_spec(
        {"spec": {"template": {"spec": {"containers": [{"startupProbe": {"periodSeconds": 2}}]}}}}
    )
    assert with_probe.startup_probe_period == 2 and not probed_by_activator(with_probe)
