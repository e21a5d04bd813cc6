"""The HorizontalPodAutoscaler's sync for KEDA's External metrics.

Sources: Kubernetes `pkg/controller/podautoscaler/horizontal.go` (reconcileAutoscaler,
stabilizeRecommendation, convertDesiredReplicasWithRules, stabilizeRecommendationWithBehaviors,
convertDesiredReplicasWithBehaviorRate, calculateScale{Up,Down}Limit*, storeScaleEvent),
`replica_calculator.go` (GetExternalPerPodMetricReplicas, GetExternalMetricReplicas) and the flag
defaults in `config/v1alpha1/defaults.go`; see docs/scaling.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from functions.scaling.keda import ExternalMetric
from functions.scaling.spec import Behavior, Rules

SYNC_PERIOD = 15.0  # --horizontal-pod-autoscaler-sync-period
TOLERANCE = 0.1  # --horizontal-pod-autoscaler-tolerance
DOWNSCALE_STABILIZATION = 300.0  # --horizontal-pod-autoscaler-downscale-stabilization
# Legacy path (behavior nil): at most max(2 x current, 4) per sync (scaleUpLimitFactor/Minimum).
SCALE_UP_LIMIT_FACTOR = 2
SCALE_UP_LIMIT_MINIMUM = 4

Events = list[tuple[float, int]]  # (timestamp, replicas added or removed)


def _within(ratio: float, up: float, down: float) -> bool:
    # Tolerances.isWithin: (1 - scaleDown) <= ratio <= (1 + scaleUp).
    return (1 - down) <= ratio <= (1 + up)


def proposal(
    m: ExternalMetric, *, spec: int, status: int, ready: int, up: float, down: float
) -> tuple[int, str]:
    """One metric's replica proposal and a short formula for the reason."""
    if m.metric_type == "AverageValue":
        # Usage ratio against statusReplicas; outside the band: ceil(usage / target), which
        # does not depend on the current count at all.
        ratio = m.value / (m.target * status) if status > 0 else math.inf
        if _within(ratio, up, down):
            return status, f"{m.value:g}/({m.target:g}x{status}) within tolerance"
        return math.ceil(m.value / m.target), f"ceil({m.value:g}/{m.target:g})"
    ratio = m.value / m.target
    if spec == 0:
        return math.ceil(ratio), f"ceil({m.value:g}/{m.target:g})"
    if _within(ratio, up, down):
        return spec, f"{m.value:g}/{m.target:g} within tolerance"
    return math.ceil(ratio * ready), f"ceil({m.value:g}/{m.target:g}x{ready} ready)"


def _period_start(current: int, ups: Events, downs: Events, period: float, now: float) -> int:
    # Period start = current - added + removed within (now - period, now].
    return current - _changed(ups, period, now) + _changed(downs, period, now)


def _limit_up(current: int, rules: Rules, ups: Events, downs: Events, now: float) -> int:
    if rules.select == "Disabled" or not rules.policies:
        return current
    allowed = []
    for p in rules.policies:
        start = _period_start(current, ups, downs, p.period, now)
        if p.kind == "Pods":
            allowed.append(start + p.value)
        else:
            allowed.append(math.ceil(start * (1 + p.value / 100)))
    return max(allowed) if rules.select == "Max" else min(allowed)


def _limit_down(current: int, rules: Rules, ups: Events, downs: Events, now: float) -> int:
    if rules.select == "Disabled" or not rules.policies:
        return current
    allowed = []
    for p in rules.policies:
        start = _period_start(current, ups, downs, p.period, now)
        if p.kind == "Pods":
            allowed.append(start - p.value)
        else:
            allowed.append(int(start * (1 - p.value / 100)))  # truncated, as int32(...) in Go
    # "Max" = the biggest change = the lowest count
    return min(allowed) if rules.select == "Max" else max(allowed)


def _changed(events: Events, period: float, now: float) -> int:
    # getReplicasChangePerPeriod: events with timestamp.After(now - period).
    return sum(delta for ts, delta in events if ts > now - period)


class HorizontalPodAutoscaler:
    """The HPA KEDA creates: minReplicas = max(minReplicaCount, 1), behavior passed through."""

    def __init__(self, min_replicas: int, max_replicas: int, behavior: Behavior | None) -> None:
        self.min = min_replicas
        self.max = max_replicas
        self.behavior = behavior
        # Scale events older than the longest policy period are never read again.
        rules = (behavior.up, behavior.down) if behavior is not None else ()
        self._longest_period = max((p.period for r in rules for p in r.policies), default=0)
        self.recommendations: list[tuple[float, int]] | None = None
        self.up_events: Events = []
        self.down_events: Events = []

    def sync(
        self,
        now: float,
        current: int,
        metrics: Sequence[ExternalMetric],
        *,
        status: int | None = None,
        ready: int | None = None,
    ) -> tuple[int, str]:
        """reconcileAutoscaler: `current` is the target's spec.replicas."""
        if self.recommendations is None:
            # recordInitialRecommendation: the first sync records the current count.
            self.recommendations = [(now, current)]
        if current == 0 and self.min != 0:
            return 0, "HPA idle: scaling disabled at 0 replicas (KEDA does 0 -> 1)"
        if current > self.max:
            return self._store(now, current, self.max), f"HPA: above maxReplicas {self.max}"
        if current < self.min:
            return self._store(now, current, self.min), f"HPA: below minReplicas {self.min}"
        b = self.behavior
        up_tol = b.up.tolerance if b and b.up.tolerance is not None else TOLERANCE
        down_tol = b.down.tolerance if b and b.down.tolerance is not None else TOLERANCE
        st = current if status is None else status
        rd = st if ready is None else ready
        raw, why = -1, ""
        for m in metrics:  # several metrics: the largest proposal wins
            p, text = proposal(m, spec=current, status=st, ready=rd, up=up_tol, down=down_tol)
            if p > raw:
                raw, why = p, text
        raw = max(raw, 0)
        if b is None:
            desired, rule = self._legacy(now, current, raw)
        else:
            desired, rule = self._with_behavior(now, current, raw, b)
        self._store(now, current, desired)
        verb = "HPA" if desired != current else "HPA holds"
        return desired, f"{verb}: {why} = {raw}{rule}"

    def _store(self, now: float, current: int, desired: int) -> int:
        # storeScaleEvent: only kept when behavior is set (the legacy path never reads them).
        if self.behavior is not None and desired != current:
            events = self.up_events if desired > current else self.down_events
            events.append((now, abs(desired - current)))
            events[:] = [(ts, d) for ts, d in events if ts > now - self._longest_period]
        return desired

    def _legacy(self, now: float, current: int, raw: int) -> tuple[int, str]:
        recs = self.recommendations or []
        cutoff = now - DOWNSCALE_STABILIZATION
        # stabilizeRecommendation: max over recommendations not Before(now - 5 min).
        kept = [(ts, r) for ts, r in recs if ts >= cutoff]
        stabilized = max([raw] + [r for _, r in kept])
        self.recommendations = kept + [(now, raw)]
        rule = ""
        if stabilized != raw:
            rule = f", held at {stabilized} by the {DOWNSCALE_STABILIZATION:g} s scale-down window"
        # convertDesiredReplicasWithRules: [minReplicas, min(maxReplicas, max(2 x cur, 4))].
        limit = max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM)
        if stabilized < self.min:
            return self.min, rule + f", raised to minReplicas {self.min}"
        if stabilized > min(self.max, limit):
            if self.max <= limit:
                return self.max, rule + f", capped at maxReplicas {self.max}"
            return limit, rule + f", capped at {limit} = max(2x{current}, 4) (legacy rate)"
        return stabilized, rule

    def _with_behavior(self, now: float, current: int, raw: int, b: Behavior) -> tuple[int, str]:
        recs = self.recommendations or []
        up_cut, down_cut = now - b.up.window, now - b.down.window
        # stabilizeRecommendationWithBehaviors: timestamps strictly After the cutoffs.
        up_rec = min([raw] + [r for ts, r in recs if ts > up_cut])
        down_rec = max([raw] + [r for ts, r in recs if ts > down_cut])
        rec, rule = current, ""
        if rec < up_rec:
            rec = up_rec
        if rec > down_rec:
            rec = down_rec
        if rec != raw:
            side = "scale-up" if raw > current else "scale-down"
            win = b.up.window if raw > current else b.down.window
            rule = f", stabilized to {rec} by the {win:g} s {side} window"
        oldest = min(up_cut, down_cut)
        self.recommendations = [(ts, r) for ts, r in recs if ts > oldest] + [(now, raw)]
        if rec > current:
            limit = max(_limit_up(current, b.up, self.up_events, self.down_events, now), current)
            if rec > min(self.max, limit):
                if self.max <= limit:
                    return self.max, rule + f", capped at maxReplicas {self.max}"
                return limit, rule + f", capped at {limit} by scaleUp policies ({b.up.select})"
        elif rec < current:
            limit = min(
                _limit_down(current, b.down, self.up_events, self.down_events, now), current
            )
            if rec < max(self.min, limit):
                if self.min >= limit:
                    return self.min, rule + f", raised to minReplicas {self.min}"
                return limit, rule + f", limited to {limit} by scaleDown policies ({b.down.select})"
        return rec, rule
