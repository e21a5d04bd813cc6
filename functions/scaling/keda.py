"""KEDA's side: the redis trigger's metric and activity, and the 0 <-> 1 step on each poll.

Sources: kedacore/keda @ 8b4f083c, `pkg/scalers/redis_scaler.go`,
`pkg/scaling/scale_handler.go` (getScaledObjectState), `pkg/scaling/modifiers/formula.go`,
`pkg/scaling/executor/scale_scaledobjects.go` (RequestScale, scaleToZeroOrIdle,
scaleFromZeroOrIdle); notes in docs/scaling.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from functions.scaling.formula import compile_formula
from functions.scaling.spec import MetricType, ScaledObjectSpec, Trigger

Metrics = Mapping[str, float]  # Redis key -> LLEN / HLEN / ZCARD / SCARD


@dataclass(frozen=True)
class ExternalMetric:
    """What the HPA gets from KEDA's metrics server for one metric."""

    name: str
    value: float
    target: float
    metric_type: MetricType


def read(trigger: Trigger, metrics: Metrics) -> float:
    # The scaler's Lua script returns LLEN for a missing key ('none'), i.e. 0.
    return float(metrics.get(trigger.key, 0.0))


def _source(trigger: Trigger, live: Metrics, cached: Metrics | None) -> Metrics:
    # useCachedMetrics: the last poll's values, once there has been a poll.
    return cached if (trigger.use_cached and cached is not None) else live


def _milli(value: float) -> float:
    # The composite metric is stored with SetMilli(int64(out * 1000)): truncated to 0.001.
    if not math.isfinite(value):
        return value
    return math.trunc(value * 1000) / 1000


class Keda:
    """One ScaledObject as the KEDA operator handles it; `poll` is one pollingInterval tick."""

    def __init__(self, spec: ScaledObjectSpec, *, created_at: float = 0.0) -> None:
        self.spec = spec
        self.created_at = created_at
        self.last_active: float | None = None  # status.lastActiveTime
        self._formula = None
        if spec.modifiers is not None:
            names = {t.name for t in spec.triggers if t.name}
            self._formula = compile_formula(spec.modifiers.formula, names)

    def _values(self, live: Metrics, cached: Metrics | None) -> dict[str, float]:
        return {t.name: read(t, _source(t, live, cached)) for t in self.spec.triggers if t.name}

    def composite(self, live: Metrics, cached: Metrics | None = None) -> float:
        assert self._formula is not None
        return _milli(self._formula(self._values(live, cached)))

    def hpa_metrics(self, live: Metrics, cached: Metrics | None = None) -> list[ExternalMetric]:
        """The External metrics the HPA reads: one per trigger, or the one composite metric."""
        mods = self.spec.modifiers
        if mods is not None:
            value = self.composite(live, cached)
            return [ExternalMetric("composite-metric", value, mods.target, mods.metric_type)]
        out = []
        for i, t in enumerate(self.spec.triggers):
            name = f"s{i}-redis-{t.key}"  # redis_scaler.go metric name
            value = read(t, _source(t, live, cached))
            out.append(ExternalMetric(name, value, t.target, t.metric_type))
        return out

    def activity(self, metrics: Metrics) -> tuple[bool, str]:
        """Is the ScaledObject active, and why (one line)."""
        mods = self.spec.modifiers
        if mods is not None:
            # With scalingModifiers the per-trigger activity is discarded and replaced by
            # composite > activationTarget (scale_handler.go, "reevaluate if it's active").
            value = self.composite(metrics)
            rel = ">" if value > mods.activation_target else "<="
            text = f"{mods.formula} = {value:g} {rel} activationTarget {mods.activation_target:g}"
            return value > mods.activation_target, text
        parts = []
        for t in self.spec.triggers:
            value = read(t, metrics)
            # Strict: redis_scaler.go `listLen > ActivationListLength`; the docs: "not greater
            # than or equal to". Several triggers: active if any is (getScaledObjectState).
            if value > t.activation:
                return True, f"{t.key}={value:g} > activationListLength {t.activation:g}"
            parts.append(f"{t.key}={value:g} <= {t.activation:g}")
        return False, "; ".join(parts)

    def poll(self, now: float, metrics: Metrics, current: int) -> tuple[int, str]:
        """RequestScale on one poll: returns the new spec replicas and the reason."""
        spec = self.spec
        active, why = self.activity(metrics)
        idle = spec.idle_replicas
        if active:
            self.last_active = now
            if current == 0 or (idle is not None and current < spec.min_replicas):
                # scaleFromZeroOrIdle: minReplicaCount if > 0, else 1.
                return spec.hpa_min, f"KEDA activated ({why})"
            # Already running: the HPA does 1 <-> N; this poll only refreshes lastActiveTime,
            # which is what the cooldown is measured from.
            return current, f"KEDA active ({why}); cooldown restarts"
        if (idle is not None and current > idle) or (current > 0 and spec.min_replicas == 0):
            # scaleToZeroOrIdle: strictly after the (initial) cooldown, and only on a poll.
            if self.last_active is None:
                due = self.created_at + spec.initial_cooldown < now
                since = f"initialCooldownPeriod {spec.initial_cooldown:g} s after creation"
            else:
                due = self.last_active + spec.cooldown < now
                since = (
                    f"cooldownPeriod {spec.cooldown:g} s after the last active poll "
                    f"at t={self.last_active:g}"
                )
            target = idle if idle is not None else spec.min_replicas
            if due:
                return target, f"KEDA deactivated ({why}): {since} has passed"
            return current, f"KEDA inactive ({why}), cooling down: {since}"
        if idle is None and current < spec.min_replicas:
            return spec.min_replicas, f"KEDA raised to minReplicaCount {spec.min_replicas}"
        return current, f"KEDA inactive ({why})"
