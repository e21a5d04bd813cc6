"""The local scaler: KEDA's and the HPA's decisions (functions/scaling) applied to live Redis.

It reads the ScaledObject from keda/, observes the same Redis keys its triggers name, and feeds
the decision engine that `spillway simulate` uses; every change of replicas starts or stops real
`spillway worker` processes. `--fast` runs the engine's clock faster than real time, which
shortens pollingInterval, cooldownPeriod, the HPA sync and every HPA window by the same factor,
so a demo shows the whole 0 -> N -> 0 cycle in a minute while the rules stay KEDA's.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from functions.dev.clock import DevClock
from functions.dev.observe import Observation, Observer
from functions.dev.pool import WorkerPool
from functions.dev.state import ScalingEvent, StatePublisher
from functions.dev.view import View
from functions.scaling import manifests, overrides
from functions.scaling.controller import ScalingController
from functions.scaling.errors import ManifestError
from functions.scaling.spec import ScaledObjectSpec

FAST_FACTOR = 10.0
TICK = 0.1  # seconds of real time between observations


def load_spec(
    path: Path, *, max_workers: int, fallback: Path | None = None
) -> tuple[ScaledObjectSpec, str]:
    """The ScaledObject at `path` (a kustomization directory or a YAML file), capped locally;
    `fallback`, a plain YAML file, when `path` cannot be rendered (no kubectl)."""
    source = str(path)
    if path.is_dir() and not (path / "kustomization.yaml").exists():
        path = path / "scaledobject.yaml"
    try:
        docs = manifests.load(path)
    except ManifestError:
        if fallback is None or not fallback.is_file():
            raise
        docs, source = manifests.load(fallback), str(fallback)
    doc = manifests.select(docs, "ScaledObject", manifests.KEDA_GROUP, None, source)
    doc = overrides.apply(doc, [("maxReplicaCount", str(max_workers))])
    return manifests.scaled_object_spec(doc), source


class LocalScaler:
    def __init__(
        self,
        spec: ScaledObjectSpec,
        pool: WorkerPool,
        observer: Observer,
        publisher: StatePublisher,
        view: View,
        *,
        fast: bool,
        worker_concurrency: int,
    ) -> None:
        self.spec = spec
        self.pool = pool
        self.observer = observer
        self.publisher = publisher
        self.view = view
        self.fast = fast
        self.factor = FAST_FACTOR if fast else 1.0
        self.worker_concurrency = worker_concurrency
        self.controller = ScalingController(spec, replicas=0)
        self.trigger_keys = [t.key for t in spec.triggers]
        self.clock = DevClock(self.factor)
        self._last_publish = 0.0

    def engine_time(self) -> float:
        return self.clock.engine_now()

    def tick(self) -> None:
        observation = self.observer.observe(self.trigger_keys)
        metrics = {key: float(observation.lengths.get(key, 0)) for key in self.trigger_keys}
        self.pool.poll()
        running = len(self.pool.running)
        decisions = self.controller.step(
            self.engine_time(), metrics, status=running, ready=self.pool.ready_count
        )
        for decision in decisions:
            if decision.changed:
                event = ScalingEvent(
                    self.clock.wall(decision.t),
                    decision.before,
                    decision.replicas,
                    self.clock.explain(f"{decision.source}: {decision.reason}"),
                )
                self.publisher.record(event)
                self.view.event(event)
        self.pool.scale_to(self.controller.replicas)
        self.view.rates.add(
            observation.at, observation.submitted, observation.queue_depth + observation.in_flight
        )
        state = self.state(observation)
        now = time.monotonic()
        if now - self._last_publish >= 0.5:
            self.publisher.publish(state)
            self._last_publish = now
        self.view.update(state)

    def state(self, observation: Observation) -> dict[str, Any]:
        return {
            "updated_at": observation.at,
            "fast": self.fast,
            "fast_factor": self.factor,
            "worker_concurrency": self.worker_concurrency,
            "min": self.spec.min_replicas,
            "max": self.spec.max_replicas,
            "desired": self.controller.replicas,
            "running": len(self.pool.running),
            "ready": self.pool.ready_count,
            "terminating": len(self.pool.terminating),
            "queue_depth": observation.queue_depth,
            "in_flight": observation.in_flight,
        }

    def run_forever(self, alive: Any) -> None:
        """Tick until `alive()` turns false (the API died) or Ctrl-C."""
        while alive():
            started = time.monotonic()
            self.tick()
            time.sleep(max(0.0, TICK - (time.monotonic() - started)))
