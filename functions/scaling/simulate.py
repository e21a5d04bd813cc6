"""Discrete-event simulation of the whole system: API (KPA), queue, KEDA + HPA, worker pods.

What is modelled (docs/scaling.md has the sources and the limits):
- Tasks arrive at the API (frontend.py: Knative pods, the activator's buffer at zero).
- The queue is FIFO. Its length is the trigger on the queue key; running tasks are the trigger
  on the `unacked` key (acks_late + prefetch disabled: each running task is unacked, none is
  held back, keda/base/scaledobject.yaml).
- Worker pods consume once ready (`startup` s after creation), `concurrency` tasks at a time.
- Scale-in: the ReplicaSet deletes pods that are not ready first (controller_utils.go
  ActivePodsWithRanks: "Not ready < ready"), else a random ready pod: busy or idle does not
  matter (kedacore/keda#3674). SIGTERM starts Celery's soft shutdown: the pod stops consuming;
  an idle pod exits at once; a busy one sleeps the whole `grace` window (running tasks may
  finish meanwhile), then its unfinished tasks are requeued at the consumer end and run again
  from the start elsewhere (Celery worker_soft_shutdown_timeout; keda/second-pool/config.yaml).
"""

from __future__ import annotations

import heapq
import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from functions.scaling.controller import Decision, ScalingController
from functions.scaling.frontend import Frontend
from functions.scaling.spec import RunConfig, ScaledObjectSpec
from functions.scaling.stats import Stats
from functions.scaling.workload import draw_service_times

INF = math.inf
STARTING, READY, TERMINATING, GONE = range(4)
PROGRESS_EVERY = 1 << 15  # arrivals between progress callbacks
TIMELINE_HEADER = ("t", "arrivals", "queued", "inflight", "replicas", "ready_workers", "api_pods")


class _Pod:
    __slots__ = ("created", "state", "busy", "cancelled")

    def __init__(self, created: float) -> None:
        self.created = created
        self.state = STARTING
        self.busy = 0
        self.cancelled: list[tuple[float, float]] = []  # (enqueued, service) to requeue


Running = tuple[float, int, _Pod, float, float, float]  # (done, seq, pod, enq, start, service)
Row = tuple[float, int, int, int, int, int, int]


@dataclass
class Result:
    summary: dict[str, Any]
    timeline: list[Row]
    decisions: list[Decision]


def _is_unacked(key: str) -> bool:
    # functions/keys.py: <prefix>unacked, or <prefix>unacked:<pool> for a pool's own hash.
    return key.endswith("unacked") or "unacked:" in key


def _keys(spec: ScaledObjectSpec) -> tuple[list[str], list[str]]:
    """Trigger keys read as in-flight (an `unacked` hash) and as the queue (the first other)."""
    inflight = [t.key for t in spec.triggers if _is_unacked(t.key)]
    others = [t.key for t in spec.triggers if not _is_unacked(t.key)]
    return inflight, others[:1]


class Simulation:
    def __init__(
        self,
        cfg: RunConfig,
        arrivals: list[float],
        progress: Callable[[float], None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.arr = arrivals
        self.progress = progress
        w = cfg.workers
        self.services = draw_service_times(
            w.distribution, w.task_seconds, w.cv, random.Random(cfg.seed), len(arrivals)
        )
        self.k = 0  # fresh tasks started so far = index of the next one's service time
        self.pick = random.Random(cfg.seed + 1)  # which ready pod a scale-in deletes
        so = cfg.scaled_object
        self.ctl = ScalingController(so, replicas=0, hpa_offset=cfg.hpa_offset)
        self.inflight_keys, self.queue_keys = _keys(so)
        self.floor = so.idle_replicas if so.idle_replicas is not None else so.min_replicas
        self.stats = Stats(arrivals)
        last = arrivals[-1] if arrivals else 0.0
        self.max_time = cfg.max_time if cfg.max_time is not None else last + 6 * 3600
        self.dt = cfg.sample_every or max(1.0, float(math.ceil((last + so.cooldown + 900) / 5000)))
        # The queue: requeued tasks (at the consumer end: next out) before fresh ones; the
        # fresh ones are the window [head, len) of their enqueue times.
        self.requeued: deque[tuple[float, float]] = deque()
        self.enq: list[float] = []
        self.head = 0
        self.heap: list[Running] = []
        self.cancelled: set[int] = set()  # seq of running tasks a soft shutdown will requeue
        self.events: list[tuple[float, int, int, _Pod]] = []  # (t, seq, kind, pod)
        self.seq = 0
        self.idle: list[_Pod] = []  # one entry per free slot of a ready pod
        self.pods: list[_Pod] = []  # worker pods not gone yet, terminating ones included
        self.running = 0
        self.ready = 0
        self.timeline: list[Row] = []
        self.decisions: list[Decision] = []
        self.i = 0
        self.next_sample = 0.0
        self.api: Frontend | None = None
        if (kn := cfg.api.spec) is not None:
            a = cfg.api
            self.api = Frontend(
                kn,
                startup=a.startup,
                latency=a.latency,
                timeout=kn.response_timeout,
                enqueue=self.enqueue,
                horizon=last,
            )
        if cfg.start_replicas:
            self.ctl.replicas = cfg.start_replicas
            self.resize(0.0, cfg.start_replicas, startup=0.0)  # already running at t = 0

    @property
    def queued(self) -> int:
        return len(self.enq) - self.head + len(self.requeued)

    # ---- tasks (the hot path is inlined in run(); these serve the rarer paths) -------------
    def enqueue(self, t: float) -> None:
        if self.idle:  # a free slot means an empty queue: start at once
            self.start(t, self.idle.pop(), t, self.services[self.k])
            self.k += 1
            return
        self.enq.append(t)
        self.stats.max_queue = max(self.stats.max_queue, self.queued)

    def start(self, t: float, pod: _Pod, enq: float, service: float) -> None:
        pod.busy += 1
        self.running += 1
        self.seq += 1
        heapq.heappush(self.heap, (t + service, self.seq, pod, enq, t, service))

    def dispatch(self, t: float) -> None:
        while self.idle and (self.requeued or self.head < len(self.enq)):
            pod = self.idle.pop()
            if self.requeued:
                enq, service = self.requeued.popleft()
                self.start(t, pod, enq, service)
            else:
                self.start(t, pod, self.enq[self.head], self.services[self.k])
                self.head += 1
                self.k += 1

    # ---- pods --------------------------------------------------------------------------------
    def push(self, t: float, kind: int, pod: _Pod) -> None:
        self.seq += 1
        heapq.heappush(self.events, (t, self.seq, kind, pod))

    def resize(self, t: float, replicas: int, *, startup: float | None = None) -> None:
        active = [p for p in self.pods if p.state in (STARTING, READY)]
        delay = self.cfg.workers.startup if startup is None else startup
        for _ in range(replicas - len(active)):
            self.stats.pods_changed(t, len(self.pods))
            pod = _Pod(t)
            self.pods.append(pod)
            self.push(t + delay, READY, pod)
        surplus = len(active) - replicas
        if surplus > 0:
            starting = sorted((p for p in active if p.state == STARTING), key=lambda p: -p.created)
            ready = [p for p in active if p.state == READY]
            self.pick.shuffle(ready)
            for pod in (starting + ready)[:surplus]:
                self.terminate(t, pod)
        self.stats.max_replicas = max(self.stats.max_replicas, replicas)

    def terminate(self, t: float, pod: _Pod) -> None:
        if pod.state == READY:
            self.ready -= 1
            self.idle[:] = [p for p in self.idle if p is not pod]
        if pod.state == STARTING or pod.busy == 0:
            self.gone(t, pod)
            return
        pod.state = TERMINATING
        kill_at = t + self.cfg.workers.grace
        for done, seq, owner, enq, _, service in self.heap:
            if owner is pod and done > kill_at:
                self.cancelled.add(seq)
                pod.cancelled.append((enq, service))
        self.push(kill_at, GONE, pod)

    def gone(self, t: float, pod: _Pod) -> None:
        self.stats.pods_changed(t, len(self.pods))
        pod.state = GONE
        self.pods.remove(pod)
        if pod.cancelled:
            self.running -= len(pod.cancelled)
            self.stats.requeued += len(pod.cancelled)
            self.requeued.extend(pod.cancelled)
            pod.cancelled = []
            self.dispatch(t)

    # ---- control: pod events, the API's KPA, KEDA + HPA, timeline ---------------------------
    def control(self, t: float) -> None:
        while self.events and self.events[0][0] <= t:
            _, _, kind, pod = heapq.heappop(self.events)
            if kind == READY and pod.state == STARTING:
                pod.state = READY
                self.ready += 1
                self.stats.worker_ready(t)
                self.idle.extend([pod] * self.cfg.workers.concurrency)
                self.dispatch(t)
            elif kind == GONE and pod.state == TERMINATING:
                self.gone(t, pod)
        if self.api is not None:
            self.api.control(t)
        if self.ctl.next_due <= t:
            metrics = {k: float(self.running) for k in self.inflight_keys}
            metrics.update({k: float(self.queued) for k in self.queue_keys})
            for d in self.ctl.step(t, metrics, ready=self.ready):
                if d.changed:
                    self.decisions.append(d)
                    self.resize(t, d.replicas)
        if self.next_sample <= t:
            api_pods = self.api.pods if self.api is not None else 0
            arrived = self.stats.take_arrivals(t)
            row = (t, arrived, self.queued, self.running, self.ctl.replicas, self.ready, api_pods)
            self.timeline.append(row)
            self.next_sample = t + self.dt

    def next_control(self) -> float:
        nxt = min(self.ctl.next_due, self.next_sample)
        if self.events:
            nxt = min(nxt, self.events[0][0])
        if self.api is not None:
            nxt = min(nxt, self.api.next_due)
        return nxt

    def finished(self, t: float) -> bool:
        return t >= self.max_time or (
            self.i >= len(self.arr)
            and not self.heap
            and self.queued == 0
            and (self.api is None or not self.api.buffer)
            and self.ctl.replicas == self.floor
            and len(self.pods) == self.floor
        )

    def run(self) -> Result:
        arr, n, services = self.arr, len(self.arr), self.services
        heap, enq, idle, requeued, cancelled = (
            self.heap,
            self.enq,
            self.idle,
            self.requeued,
            self.cancelled,
        )
        waits, stats, api = self.stats.waits, self.stats, self.api
        acc = api.acc if api is not None else []
        latency = api.latency if api is not None else 0.0
        push, pop = heapq.heappush, heapq.heappop
        nc, i, t = self.next_control(), 0, 0.0
        while True:
            ta = arr[i] if i < n else INF
            td = heap[0][0] if heap else INF
            if td <= ta and td <= nc:  # a task completes
                t, seq, pod, e, s, _ = pop(heap)
                if cancelled and seq in cancelled:
                    cancelled.discard(seq)  # its pod's soft shutdown will requeue it
                    continue
                self.running -= 1
                pod.busy -= 1
                waits.append(s - e)
                stats.last_done = t
                if pod.state != READY:
                    continue
                if requeued or self.head < len(enq):  # the freed slot takes the next task
                    if requeued:
                        e, svc = requeued.popleft()
                    else:
                        e, svc = enq[self.head], services[self.k]
                        self.head += 1
                        self.k += 1
                    pod.busy += 1
                    self.running += 1
                    self.seq += 1
                    push(heap, (t + svc, self.seq, pod, e, t, svc))
                else:
                    idle.append(pod)
            elif ta < td and ta <= nc:  # a task arrives
                t = ta
                i += 1
                if api is not None:
                    if not api.ready:  # the activator holds it (rare: cold starts)
                        self.i = i
                        api.arrive(t)
                        nc = self.next_control()  # a poke may have started an API pod
                        continue
                    acc[int(t)] += latency
                if idle:
                    pod = idle.pop()
                    svc = services[self.k]
                    self.k += 1
                    pod.busy += 1
                    self.running += 1
                    self.seq += 1
                    push(heap, (t + svc, self.seq, pod, t, t, svc))
                else:
                    enq.append(t)
                    depth = len(enq) - self.head + len(requeued)
                    if depth > stats.max_queue:
                        stats.max_queue = depth
                if self.progress is not None and i % PROGRESS_EVERY == 0:
                    self.progress(i / n)
            else:  # polls, syncs, KPA ticks, pod events, timeline rows
                t = nc
                self.i = i
                self.control(t)
                if self.finished(t):
                    break
                nc = self.next_control()
        return self._result(t)

    def _result(self, end: float) -> Result:
        self.stats.pods_changed(end, len(self.pods))
        extra: dict[str, Any] = {"end_replicas": self.ctl.replicas}
        if self.api is not None:
            self.api.finish(end)
            extra.update(self.api.summary())
        if self.progress is not None:
            self.progress(1.0)
        return Result(self.stats.summary(end, extra), self.timeline, self.decisions)
