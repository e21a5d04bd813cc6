"""KEDA's polls and the HPA's syncs on one clock, each decision with the rule that made it.

Conventions (docs/scaling.md, "Conventions"): the ScaledObject is created at t = 0; KEDA polls
at 0, P, 2P... (its loop checks at once, then every pollingInterval: scale_handler.go
startScaleLoop); the HPA syncs at offset+15k; on a tie KEDA goes first.
Both write the Deployment's spec.replicas, which is all this object tracks; status replicas and
ready pods default to it.

Use it step by step, in real time or simulated time:

    ctl = ScalingController(spec)
    for d in ctl.step(now, {"spillway": 12, "unacked": 2}):
        if d.changed:
            print(d.t, d.before, "->", d.replicas, d.reason)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from functions.scaling.hpa import SYNC_PERIOD, HorizontalPodAutoscaler
from functions.scaling.keda import Keda, Metrics
from functions.scaling.spec import ScaledObjectSpec


@dataclass(frozen=True)
class Decision:
    t: float
    source: Literal["keda", "hpa"]
    before: int
    replicas: int
    reason: str

    @property
    def changed(self) -> bool:
        return self.replicas != self.before


class ScalingController:
    def __init__(
        self,
        spec: ScaledObjectSpec,
        *,
        replicas: int = 0,
        hpa_offset: float = 0.0,
        hpa_period: float = SYNC_PERIOD,
    ) -> None:
        self.spec = spec
        self.replicas = replicas
        self.keda = Keda(spec, created_at=0.0)
        self.hpa = HorizontalPodAutoscaler(spec.hpa_min, spec.hpa_max, spec.behavior)
        self.hpa_offset = hpa_offset
        self.hpa_period = hpa_period
        self._polls = 0
        self._syncs = 0
        self._cached: Metrics | None = None  # the last poll's values, for useCachedMetrics

    @property
    def next_poll(self) -> float:
        # Computed from the count, not accumulated, so long runs do not drift.
        return self._polls * self.spec.polling_interval

    @property
    def next_sync(self) -> float:
        return self.hpa_offset + self._syncs * self.hpa_period

    @property
    def next_due(self) -> float:
        return min(self.next_poll, self.next_sync)

    def step(
        self, now: float, metrics: Metrics, *, status: int | None = None, ready: int | None = None
    ) -> list[Decision]:
        """Run every poll and sync due at or before `now`, in time order, on these metrics."""
        out: list[Decision] = []
        while True:
            poll, sync = self.next_poll, self.next_sync
            if min(poll, sync) > now:
                return out
            if poll <= sync:
                out.append(self.keda_poll(poll, metrics))
            else:
                out.append(self.hpa_sync(sync, metrics, status=status, ready=ready))

    def keda_poll(self, now: float, metrics: Metrics) -> Decision:
        self._polls += 1
        self._cached = dict(metrics)
        replicas, reason = self.keda.poll(now, metrics, self.replicas)
        return self._apply(Decision(now, "keda", self.replicas, replicas, reason))

    def hpa_sync(
        self, now: float, metrics: Metrics, *, status: int | None = None, ready: int | None = None
    ) -> Decision:
        self._syncs += 1
        external = self.keda.hpa_metrics(metrics, self._cached)
        replicas, reason = self.hpa.sync(now, self.replicas, external, status=status, ready=ready)
        return self._apply(Decision(now, "hpa", self.replicas, replicas, reason))

    def _apply(self, decision: Decision) -> Decision:
        self.replicas = decision.replicas
        return decision
