"""The API side of a simulation: Knative pods driven by the KPA, and the activator's buffer.

A new pod serves once `startup` s (app start) have passed and its readiness has reached the
activator (knative.ready_after: probed directly, or through the kubelet when the Service has a
startup probe). Each submit occupies the API for `latency` s; the KPA is fed the revision's
concurrency per second (request-seconds in that second), including requests the activator is
holding, and a second counts as scraped while any API pod is ready or a request is in flight
(bucketing.go: no write for a whole window restarts the average)."""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from typing import Any

from functions.scaling.knative import TICK, KnativeAutoscaler, KpaDecision, ready_after
from functions.scaling.spec import KnativeSpec

ACTIVATOR_QUEUE = 10_000  # pkg/activator/net/throttler.go breakerQueueDepth


class Frontend:
    def __init__(
        self,
        spec: KnativeSpec,
        *,
        startup: float,
        latency: float,
        timeout: float,
        enqueue: Callable[[float], None],
        horizon: float,
    ) -> None:
        self.kpa = KnativeAutoscaler(spec)
        self.startup = startup
        self.latency = latency
        self.timeout = timeout
        self.enqueue = enqueue
        self.acc = [0.0] * (int(horizon) + 2)  # request-seconds per second
        self.recorded = 0  # the next second to hand to the KPA
        self.next_tick = 0.0
        self.ready = 0
        self.starting: list[tuple[float, int]] = []  # (ready at, pod id) of pods starting
        self._ids = 0
        self.buffer: list[float] = []  # arrival times held by the activator
        self._mark = 0.0  # buffered request-seconds are counted up to here
        self.pod_seconds = 0.0
        self._pods_since = 0.0
        self.cold_starts = 0
        self.buffered = 0
        self.rejected = 0  # 503: activator queue full
        self.timed_out = 0  # 504: buffered longer than the response-start timeout
        self.buffer_wait_max = 0.0
        self.max_pods = 0
        self.panic_ticks = 0

    @property
    def pods(self) -> int:
        return self.ready + len(self.starting)

    @property
    def next_due(self) -> float:
        return min(self.next_tick, self.starting[0][0]) if self.starting else self.next_tick

    def _grow(self, second: int) -> None:
        if second >= len(self.acc):
            self.acc.extend([0.0] * (second + 1 - len(self.acc)))

    def arrive(self, t: float) -> None:
        if self.ready:
            self.acc[int(t)] += self.latency
            self.enqueue(t)
            return
        self._integrate(t)
        if len(self.buffer) >= ACTIVATOR_QUEUE:
            self.rejected += 1
            return
        self.buffer.append(t)
        self.buffered += 1
        if self.kpa.replicas == 0:
            decision = self.kpa.poke(t, self.ready)
            if decision is not None:
                self._apply(t, decision)

    def _integrate(self, t: float) -> None:
        """Add the buffered requests' concurrency from the last mark up to t."""
        n = len(self.buffer)
        a, self._mark = self._mark, t
        if n == 0 or t <= a:
            return
        self._grow(int(t))
        s = int(a)
        while s < t:
            e = min(float(s + 1), t)
            self.acc[s] += n * (e - max(a, s))
            s += 1

    def _apply(self, t: float, d: KpaDecision) -> None:
        self._count_pod_seconds(t)
        want = d.replicas
        while self.pods < want:
            self._ids += 1
            ready = t + ready_after(self.kpa.spec, self.startup)
            heapq.heappush(self.starting, (ready, self._ids))
            if self.ready == 0 and len(self.starting) == 1:
                self.cold_starts += 1
        while self.pods > want:
            if self.starting:  # not-ready pods go first
                self.starting.remove(max(self.starting))
                heapq.heapify(self.starting)
            else:
                self.ready -= 1
        self.max_pods = max(self.max_pods, self.pods)

    def control(self, t: float) -> None:
        while self.starting and self.starting[0][0] <= t:
            heapq.heappop(self.starting)
            self.ready += 1
            if self.ready == 1 and self.buffer:
                self._flush(t)
        if self.next_tick <= t:
            self._integrate(t)
            self._grow(int(t))
            upto = math.ceil(t)
            for s in range(self.recorded, upto):
                value = self.acc[s] if s < len(self.acc) else 0.0
                if value > 0 or self.ready > 0:
                    self.kpa.record(s, value)
            self.recorded = max(self.recorded, upto)
            decision = self.kpa.tick(t, self.ready)
            self.panic_ticks += decision.panicking
            if decision.changed:
                self._apply(t, decision)
            self.next_tick += TICK

    def _flush(self, t: float) -> None:
        """The first pod is ready: the activator forwards what it holds."""
        self._integrate(t)
        for arrived in self.buffer:
            wait = t - arrived
            if wait > self.timeout:
                self.timed_out += 1
                continue
            self.buffer_wait_max = max(self.buffer_wait_max, wait)
            self.enqueue(t)
        self.buffer = []

    def _count_pod_seconds(self, t: float) -> None:
        """Call just before the number of API pods changes (and at the end)."""
        self.pod_seconds += self.pods * (t - self._pods_since)
        self._pods_since = t

    def finish(self, end: float) -> None:
        self._count_pod_seconds(end)

    def summary(self) -> dict[str, Any]:
        return {
            "api_pod_seconds": round(self.pod_seconds, 1),
            "api_max_pods": self.max_pods,
            "api_cold_starts": self.cold_starts,
            "api_buffered_requests": self.buffered,
            "api_buffer_wait_max_s": round(self.buffer_wait_max, 3),
            "api_rejected_503": self.rejected,
            "api_timed_out_504": self.timed_out,
            "api_panic_ticks": self.panic_ticks,
        }
