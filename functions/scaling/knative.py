"""The Knative Pod Autoscaler (KPA) for the API: the decider plus the PodAutoscaler reconciler.

Sources: knative/serving @ 98e5ef90, `pkg/autoscaler/scaling/autoscaler.go` (Scale),
`pkg/autoscaler/aggregation/bucketing.go` (Record, WindowAverage),
`pkg/reconciler/autoscaling/kpa/scaler.go` (scale, handleScaleToZero) and `kpa.go` (SKS mode,
computeActiveCondition); see docs/scaling.md. The decider ticks every 2 s
(multiscaler.go tickInterval) and once at once when a request reaches a revision at zero (Poke);
this model reconciles the PodAutoscaler on each of those decisions.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Literal

from functions.scaling.spec import KnativeSpec

TICK = 2.0
State = Literal["inactive", "activating", "active"]
# pkg/activator/net/revision_backends.go defaultProbeFrequency: the activator probes each new
# pod's queue-proxy this often while the revision's probe optimisation is on.
ACTIVATOR_PROBE_PERIOD = 0.2
# pkg/queue/readiness/probe.go retryInterval: queue-proxy's aggressive readiness polling of the
# app (readiness periodSeconds unset).
QUEUE_PROXY_PROBE_INTERVAL = 0.05


def _next_tick(t: float, period: float, start: float = 0.0) -> float:
    """The first tick start + k * period (k >= 0) at or after t."""
    if t <= start:
        return start
    return start + math.ceil(round((t - start) / period, 9)) * period


def probed_by_activator(spec: KnativeSpec) -> bool:
    """revision_backends.go getOrCreateRevisionWatcher (knative-v1.15.0 to v1.23.0): any startup
    probe, or an exec readiness probe, turns enableProbeOptimisation off."""
    return spec.startup_probe_period is None and not spec.exec_readiness


def ready_after(spec: KnativeSpec, app_start: float) -> float:
    """Seconds from a pod's creation until the activator routes to it, for an app that answers
    its readiness check `app_start` seconds after creation.

    Probe optimisation on: queue-proxy polls the app every 50 ms and the activator probes
    queue-proxy every 200 ms from the moment the endpoints list the pod, routing at the first
    pass. Off: the kubelet runs the startup probe at initialDelaySeconds + k x periodSeconds, the
    pod turns Ready at the first pass, and the activator learns of it only through the
    endpoints (spec.endpoint_lag)."""
    if probed_by_activator(spec):
        app_ready = _next_tick(app_start, QUEUE_PROXY_PROBE_INTERVAL)
        return _next_tick(app_ready, ACTIVATOR_PROBE_PERIOD)
    if spec.startup_probe_period is None:  # exec readiness: the kubelet's own period decides
        return app_start + spec.endpoint_lag
    started = _next_tick(app_start, spec.startup_probe_period, spec.startup_probe_delay)
    return started + spec.endpoint_lag


@dataclass(frozen=True)
class KpaDecision:
    t: float
    before: int
    replicas: int
    reason: str
    panicking: bool

    @property
    def changed(self) -> bool:
        return self.replicas != self.before


class _Window:
    """TimedFloat64Buckets with 1 s buckets: a window average that restarts after a gap."""

    def __init__(self, seconds: float) -> None:
        self.size = int(seconds)
        self.first: int | None = None
        self.last: int | None = None

    def record(self, second: int) -> None:
        # No writes for a whole window: firstWrite restarts, so a new burst is averaged over
        # the seconds since it began, not over the full window.
        if self.last is None or second - self.last >= self.size:
            self.first = second
        self.last = second

    def average(self, values: list[float], now_s: int) -> float:
        if self.last is None or self.first is None:
            return 0.0
        gap = now_s - self.last
        if gap >= self.size:
            return 0.0
        lo = max(0, now_s - self.size + 1)
        total = sum(values[lo : min(self.last, now_s) + 1])
        buckets = min(self.last - self.first + 1, self.size - max(0, gap))
        return total / buckets if buckets > 0 else 0.0


class KnativeAutoscaler:
    """One revision's KPA. Feed it per-second concurrency with `record`; call `tick` every 2 s."""

    def __init__(self, spec: KnativeSpec, *, replicas: int = 0, now: float = 0.0) -> None:
        self.spec = spec
        self.replicas = replicas
        self._values: list[float] = []
        self._stable = _Window(spec.stable_window)
        self._panic = _Window(spec.panic_window)
        self.panic_time: float | None = None
        self.max_panic_pods = 0
        self._delay: deque[tuple[float, int]] = deque()
        # The simulation starts long after the last request: PA inactive, activator in path.
        self.state: State = "active" if replicas > 0 else "inactive"
        self.state_since = now - 3600.0
        self.proxy_since: float | None = now - 3600.0

    def record(self, second: int, concurrency: float) -> None:
        """One scrape: the revision's total average concurrency during `second`."""
        if second >= len(self._values):
            self._values.extend([0.0] * (second + 1 - len(self._values)))
        self._values[second] += concurrency
        self._stable.record(second)
        self._panic.record(second)

    def observed(self, now: float) -> tuple[float, float]:
        now_s = math.ceil(now) - 1  # the last complete second before `now`
        return (
            self._stable.average(self._values, now_s),
            self._panic.average(self._values, now_s),
        )

    def _decide(self, now: float, ready: int) -> tuple[int, float, str]:
        s = self.spec
        pods = max(1, ready)  # "Use 1 if there are zero current pods."
        stable, panic = self.observed(now)
        up_cap = math.ceil(s.max_scale_up_rate * pods)
        down_cap = math.floor(pods / s.max_scale_down_rate)  # the revision is reachable
        dspc, dppc = math.ceil(stable / s.target_value), math.ceil(panic / s.target_value)
        d_stable = int(min(max(dspc, down_cap), up_cap))
        d_panic = int(min(max(dppc, down_cap), up_cap))
        if s.activation_scale > 1:
            if dspc > 0:
                d_stable = max(d_stable, s.activation_scale)
            if dppc > 0:
                d_panic = max(d_panic, s.activation_scale)
        over = dppc / pods >= s.panic_threshold
        if over:
            self.panic_time = now  # enter, or extend
        elif self.panic_time is not None and self.panic_time + s.stable_window < now:
            self.panic_time, self.max_panic_pods = None, 0
        desired = d_stable
        why = f"stable {stable:.1f} / target {s.target_value:g} -> {d_stable}"
        if self.panic_time is not None:
            # Panic mode: the larger of stable and panic, and never a decrease.
            self.max_panic_pods = max(self.max_panic_pods, desired, d_panic)
            desired = self.max_panic_pods
            why = f"panic: {s.panic_window:g} s average {panic:.1f} -> {desired}"
        if s.scale_down_delay > 0:
            self._delay.append((now, desired))
            while self._delay and self._delay[0][0] <= now - s.scale_down_delay:
                self._delay.popleft()
            held = max(v for _, v in self._delay)
            if held != desired:
                why += f", held at {held} by scale-down-delay"
            desired = held
        return desired, panic, why

    def _ebc(self, ready: int, panic: float) -> float:
        tbc = self.spec.target_burst_capacity
        if tbc == 0:
            return 0.0
        if tbc < 0:
            return -1.0
        return math.floor(ready * self.spec.total_target - tbc - panic)

    def tick(self, now: float, ready: int, *, poked: bool = False) -> KpaDecision:
        """One decider tick followed by the PodAutoscaler reconcile."""
        s = self.spec
        desired, panic, why = self._decide(now, ready)
        if poked and desired == 0:
            # The activator holds a request and R = max(1, ready) = 1: at least one pod.
            desired = max(1, s.activation_scale)
            why = f"request at the activator -> {desired}"
        want = int(min(max(desired, s.min_scale), s.max_pods))
        to: int | None = want
        if want == 0:
            want, to, why = self._to_zero(now, why)
        before = self.replicas
        if to is not None:
            self.replicas = to
        serve = want > 0 and self._ebc(ready, panic) >= 0
        if serve:
            self.proxy_since = None
        elif self.proxy_since is None:
            self.proxy_since = now
        # computeActiveCondition; want -1 (still activating) leaves the state as it is.
        state = self.state
        if want == 0:
            state = "inactive"
        elif want > 0:
            state = "activating" if ready < max(s.min_scale, 1) else "active"
        if state != self.state:
            self.state, self.state_since = state, now
        return KpaDecision(now, before, self.replicas, f"KPA: {why}", self.panic_time is not None)

    def _to_zero(self, now: float, why: str) -> tuple[int, int | None, str]:
        """handleScaleToZero: (want for the status, replicas to apply or None, reason)."""
        s = self.spec
        if not s.enable_scale_to_zero:
            return 1, 1, why + ", kept at 1 (scale to zero disabled)"
        if self.state == "activating":
            return -1, None, why + ", still activating"
        if self.state == "active":
            if now - self.state_since >= s.stable_window:
                return 0, None, why + ", marked inactive (activator takes over)"
            return 1, 1, why + f", kept at 1 until active for {s.stable_window:g} s"
        inactive_for = now - self.state_since
        if inactive_for >= max(s.grace_period, s.retention):
            return 0, 0, why + f", inactive for {inactive_for:g} s: scaled to zero"
        if s.retention > 0 and inactive_for < s.retention:
            return 0, None, why + ", retaining the last pod"
        proxied = now - self.proxy_since if self.proxy_since is not None else 0.0
        if proxied >= s.grace_period:
            return 0, 0, why + ", activator already in path: scaled to zero"
        return 0, None, why + ", waiting for the grace period"

    def poke(self, now: float, ready: int) -> KpaDecision | None:
        """A request reached the activator while at zero: decide now, not on the next tick."""
        if self.replicas > 0:
            return None
        return self.tick(now, ready, poked=True)
