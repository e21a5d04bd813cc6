"""Where the sampler looks: Redis (queue, in-flight, the local scaler's state), a Kubernetes
Deployment, and the API's /metrics. Each `read` fills in what it can and raises nothing: a source
that fails leaves its fields None and reports its first error once.
"""

from __future__ import annotations

import importlib
import json
import time
from typing import Any

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from functions import keys
from functions.checkout import install_hint
from functions.dev.state import state_key
from functions.loadtest.errors import KubeUnavailable
from functions.loadtest.records import Sample

# A state older than this is from a scaler that has stopped (the key itself lives 30 s).
SCALER_STATE_MAX_AGE = 5.0


class Source:
    name = "source"

    def __init__(self) -> None:
        self.errors: list[str] = []

    def read(self, sample: Sample) -> None:
        try:
            self._read(sample)
        except Exception as exc:  # a sampler must outlive any one source's failure
            if not self.errors:
                self.errors.append(f"{self.name}: {type(exc).__name__}: {exc}"[:300])

    def _read(self, sample: Sample) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class RedisSource(Source):
    """LLEN of the queue list, HLEN of the pool's `unacked` hash, and the dev scaler's state."""

    name = "redis"

    def __init__(self, url: str, prefix: str, queue: str, replicas: bool, pool: str = "") -> None:
        super().__init__()
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.prefix, self.queue, self.replicas, self.pool = prefix, queue, replicas, pool
        self.scaler: dict[str, Any] | None = None  # the local scaler's last state, if any

    def _read(self, sample: Sample) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(keys.queue_key(self.prefix, self.queue))
        pipe.hlen(keys.unacked_key(self.prefix, self.pool))
        if self.replicas:  # the local scaler of `spillway dev`: only when replicas come from it
            pipe.get(state_key(self.prefix))
        depth, unacked, *state = pipe.execute()
        sample.queue_depth, sample.in_flight = int(depth), int(unacked)
        if state and state[0]:
            self._scaler(sample, json.loads(state[0]))

    def _scaler(self, sample: Sample, state: dict[str, Any]) -> None:
        if time.time() - float(state.get("updated_at", 0)) > SCALER_STATE_MAX_AGE:
            return
        self.scaler = state
        sample.replicas = int(state["ready"])
        sample.desired = int(state["desired"])
        sample.running = int(state["running"])

    def close(self) -> None:
        self.client.close()


class KubeSource(Source):
    """A Deployment's desired (spec.replicas), ready and running replica counts."""

    name = "kubernetes"

    def __init__(self, namespace: str, deployment: str) -> None:
        super().__init__()
        self.namespace, self.deployment = namespace, deployment
        self.api = kube_apps_api()

    def _read(self, sample: Sample) -> None:
        scale = self.api.read_namespaced_deployment(self.deployment, self.namespace)
        sample.desired = int(scale.spec.replicas or 0)
        sample.replicas = int(scale.status.ready_replicas or 0)
        sample.running = int(scale.status.replicas or 0)


def kube_missing() -> str:
    return f"--kube-deployment needs the Kubernetes client, the kube extra: {install_hint('kube')}"


def kube_apps_api() -> Any:
    """An AppsV1Api from the in-cluster config or ~/.kube/config (the `kube` extra)."""
    try:
        # Typed as Any on purpose: the client ships no type information, and it is optional.
        client: Any = importlib.import_module("kubernetes.client")
        config: Any = importlib.import_module("kubernetes.config")
    except ImportError:
        raise KubeUnavailable(kube_missing()) from None
    try:
        config.load_incluster_config()
    except config.ConfigException:
        try:
            config.load_kube_config()
        except (config.ConfigException, OSError) as exc:
            raise KubeUnavailable(f"no Kubernetes configuration: {exc}") from None
    return client.AppsV1Api()


class ApiMetricsSource(Source):
    """The API's own view from /metrics (one pod's, when Knative runs several)."""

    name = "api /metrics"

    def __init__(self, url: str, function: str, queue: str) -> None:
        super().__init__()
        self.client = httpx.Client(base_url=url, timeout=2.0)
        self.function, self.queue = function, queue

    def _read(self, sample: Sample) -> None:
        response = self.client.get("/metrics")
        response.raise_for_status()
        values = parse_metrics(response.text, self.function, self.queue)
        sample.api_submitted = values.get("submitted")
        sample.api_rejected = values.get("rejected")
        sample.api_queue_depth = values.get("queue_depth")
        sample.api_in_flight = values.get("in_flight")

    def close(self) -> None:
        self.client.close()


def parse_metrics(text: str, function: str, queue: str) -> dict[str, float]:
    """The few series `spillway load` charts, summed over the labels that do not matter."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = s.labels
            if s.name == "spillway_invocations_submitted_total":
                key = "submitted" if labels.get("function") == function else ""
            elif s.name == "spillway_invocations_rejected_total":
                key = "rejected" if labels.get("function") == function else ""
            elif s.name == "spillway_queue_depth":
                key = "queue_depth" if labels.get("queue") == queue else ""
            elif s.name == "spillway_in_flight":
                key = "in_flight"
            else:
                key = ""
            if key:
                found[key] = found.get(key, 0.0) + float(s.value)
    return found
