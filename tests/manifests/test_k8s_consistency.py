"""The manifests agree with the code they deploy: keys, queues, probes, settings, timeouts.

Each worker and API container's environment is rebuilt from the rendered ConfigMaps and env
entries and parsed with functions.settings.Settings, so these tests see what the pod would see.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from functions import keys
from functions.registry import Registry, load_modules
from functions.settings import Settings
from tests.manifests import manifest_utils as mu

# Seconds a worker needs after the soft-shutdown window: cancel the pool children, push their
# messages back to Redis, close connections and exit, before the kubelet's SIGKILL.
SHUTDOWN_MARGIN = 10
# Seconds of cold start (scheduling, image pull from a warm node, imports, readiness) that the
# Knative response-start timeout must leave on top of the longest long poll.
COLD_START_ALLOWANCE = 15


@dataclass
class Pod:
    kustomization: str
    docs: list[mu.Doc]
    template: mu.PodTemplate
    container: dict[str, Any]
    env: dict[str, str]
    settings: Settings

    @property
    def where(self) -> str:
        return f"{self.kustomization}: {self.template.ident}"


def _pods(renders: dict[str, list[mu.Doc]]) -> list[Pod]:
    pods = []
    for kustomization, docs in renders.items():
        for template, container in mu.spillway_containers(docs):
            env = mu.container_env(container, docs)
            pods.append(
                Pod(kustomization, docs, template, container, env, mu.settings_from_env(env))
            )
    return pods


@pytest.fixture(scope="module")
def pods(renders: dict[str, list[mu.Doc]]) -> list[Pod]:
    return _pods(renders)


@pytest.fixture(scope="module")
def workers(pods: list[Pod]) -> list[Pod]:
    found = [p for p in pods if mu.is_worker(p.container)]
    assert len({p.kustomization for p in found}) == len(mu.KUSTOMIZATIONS), "a pool per overlay"
    return found


@pytest.fixture(scope="module")
def apis(pods: list[Pod]) -> list[Pod]:
    found = [p for p in pods if mu.is_api(p.container)]
    assert found
    return found


def _registry(settings: Settings) -> Registry:
    """The functions as this pod registers them: its modules, moved by its queue routes."""
    return load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)


def _consumed(pod: Pod) -> list[str]:
    return pod.settings.QUEUES or _registry(pod.settings).queues()


def test_every_container_runs_a_known_command(pods: list[Pod]) -> None:
    for pod in pods:
        assert (
            mu.is_api(pod.container) or mu.is_worker(pod.container) or mu.is_sender(pod.container)
        ), pod.where
        assert mu.is_api(pod.container) == (pod.template.owner["kind"] == "Service"), pod.where


def test_env_vars_are_known_settings(pods: list[Pod]) -> None:
    known = mu.known_env_names()
    for pod in pods:
        # A variable that exists only to be expanded into another, like REDIS_PASSWORD into
        # REDIS_URL, is not read by the code and need not be a setting.
        helpers = mu.expansion_sources(pod.container)
        unknown = set(pod.env) - known - helpers
        assert not unknown, f"{pod.where}: not settings: {sorted(unknown)}"
        for helper in helpers:
            assert helper in pod.env, f"{pod.where}: $({helper}) expands to nothing"


def test_required_settings_are_set(pods: list[Pod]) -> None:
    for pod in pods:
        # REDIS_URL has a localhost default for development; in a cluster it must be explicit
        # and carry the password from the Secret.
        url = pod.env.get("REDIS_URL", "")
        assert url.startswith(("redis://", "rediss://")), f"{pod.where}: REDIS_URL"
        assert mu.SECRET_PLACEHOLDER in url, f"{pod.where}: REDIS_URL without the password"
        assert "$(" not in url, f"{pod.where}: unexpanded variable in REDIS_URL"
        assert pod.settings.REDIS_URL == url
        if mu.is_worker(pod.container):
            for name in ("KEY_PREFIX", "QUEUES", "POOL", "WORKER_CONCURRENCY",
                         "SOFT_SHUTDOWN_TIMEOUT", "LEASE_TTL", "WORKER_HTTP_PORT",
                         "FUNCTION_MODULES"):  # fmt: skip
                assert f"SPILLWAY_{name}" in pod.env, f"{pod.where}: SPILLWAY_{name} not set"
        if mu.is_api(pod.container):
            # API keys on every /v1 request: stated in the manifest, not left to the default.
            assert pod.env.get("SPILLWAY_AUTH") == "required", f"{pod.where}: SPILLWAY_AUTH"
            assert pod.settings.AUTH == "required"
            # Held ?wait requests must leave some of the pod's request slots to submits.
            concurrency = pod.template.spec["containerConcurrency"]
            assert pod.settings.MAX_WAITS < concurrency, f"{pod.where}: SPILLWAY_MAX_WAITS"


def test_api_and_workers_of_a_kustomization_share_keys(pods: list[Pod]) -> None:
    """The API enqueues where the workers consume: same Redis, database and key prefix."""
    for kustomization in mu.KUSTOMIZATIONS:
        group = [p for p in pods if p.kustomization == kustomization]
        assert len({mu.redis_url_target(p.settings.REDIS_URL) for p in group}) == 1
        assert len({p.settings.KEY_PREFIX for p in group}) == 1, kustomization
        assert len({tuple(p.settings.FUNCTION_MODULES) for p in group}) == 1, kustomization


def test_api_and_workers_share_queue_routes(pods: list[Pod]) -> None:
    """The API enqueues each function on the queue the workers' registry has it on."""
    for kustomization in mu.KUSTOMIZATIONS:
        routes = {
            p.where: p.settings.QUEUE_ROUTES for p in pods if p.kustomization == kustomization
        }
        assert len({tuple(sorted(r.items())) for r in routes.values()}) == 1, routes


def test_every_routed_queue_is_consumed_by_one_pool(pods: list[Pod]) -> None:
    """No function lands on a queue nobody consumes, and no queue is counted by two pools."""
    for kustomization in mu.KUSTOMIZATIONS:
        group = [p for p in pods if p.kustomization == kustomization]
        pools = [p for p in group if mu.is_worker(p.container)]
        for api in (p for p in group if mu.is_api(p.container)):
            for spec in _registry(api.settings):
                consumers = [p.where for p in pools if spec.queue in _consumed(p)]
                # Two pools on one queue would each count its whole length and both scale out.
                assert len(consumers) == 1, (
                    f"{kustomization}: {spec.name} is enqueued on {spec.queue!r}, consumed by "
                    f"{consumers or 'no pool'}"
                )


def test_every_consumed_queue_has_a_trigger(workers: list[Pod]) -> None:
    for pod in workers:
        registry = _registry(pod.settings)
        queues = _consumed(pod)
        assert set(queues) <= set(registry.queues()), f"{pod.where}: queue without functions"
        so = mu.scaled_object_for(pod.docs, mu.name(pod.template.owner))
        lists = {t["metadata"]["listName"]: t for t in so["spec"]["triggers"]}
        prefix, pool = pod.settings.KEY_PREFIX, pod.settings.POOL
        # One trigger per consumed queue list, one on the pool's own in-flight hash and one on
        # its scheduled set (functions/worker/lua/_lib.lua names the keys).
        expected = {keys.queue_key(prefix, q) for q in queues} | {
            keys.unacked_key(prefix, pool),
            keys.scheduled_key(prefix, pool),
        }
        assert set(lists) == expected, f"{pod.where}: triggers {sorted(lists)} != {expected}"
        # The formula sums queued and in-flight work, keeps one pod while retries wait, and
        # one pod takes WORKER_CONCURRENCY tasks.
        modifiers = so["spec"]["advanced"]["scalingModifiers"]
        names = {t["name"] for t in lists.values()}
        assert names == {"queued", "inflight", "scheduled"}, pod.where
        assert modifiers["formula"] == "max(queued + inflight, scheduled > 0 ? 1 : 0)", pod.where
        assert float(modifiers["target"]) == pod.settings.WORKER_CONCURRENCY, pod.where
        for trigger in lists.values():
            assert int(trigger["metadata"]["listLength"]) == pod.settings.WORKER_CONCURRENCY


def test_triggers_read_the_workers_redis(
    renders: dict[str, list[mu.Doc]], workers: list[Pod]
) -> None:
    root = renders["root"]
    for pod in workers:
        target = mu.redis_url_target(pod.settings.REDIS_URL)
        service = mu.find(root, "Service", target.host, "")
        assert any(p["port"] == target.port for p in service["spec"]["ports"])
        namespace = mu.namespace_of(pod.docs)
        so = mu.scaled_object_for(pod.docs, mu.name(pod.template.owner))
        for trigger in so["spec"]["triggers"]:
            meta = trigger["metadata"]
            # KEDA resolves the host from its own namespace: it must be fully qualified, in the
            # cluster's DNS domain (platform/cluster.yaml).
            assert meta["host"] == f"{target.host}.{namespace}.svc.{mu.CLUSTER['cluster-domain']}"
            assert int(meta["port"]) == target.port
            assert int(meta.get("databaseIndex", "0")) == target.db, pod.where
            tls = meta.get("enableTLS", "false") == "true"
            assert tls == pod.settings.REDIS_URL.startswith("rediss://"), pod.where


def test_pools_count_only_their_own_work(workers: list[Pod]) -> None:
    """No two pools share an in-flight hash: each names its pool (or prefix, or database)."""
    for kustomization in mu.KUSTOMIZATIONS:
        seen: dict[tuple[Any, str], str] = {}
        for pod in (p for p in workers if p.kustomization == kustomization):
            target = mu.redis_url_target(pod.settings.REDIS_URL)
            key = (target, keys.unacked_key(pod.settings.KEY_PREFIX, pod.settings.POOL))
            assert key not in seen, f"{pod.where} shares its unacked hash with {seen.get(key)}"
            seen[key] = pod.where


def test_disruption_budgets_select_one_pool_each(renders: dict[str, list[mu.Doc]]) -> None:
    for kustomization, docs in renders.items():
        deployments = mu.of_kind(docs, "Deployment")
        for pdb in mu.of_kind(docs, "PodDisruptionBudget"):
            wanted = pdb["spec"]["selector"]["matchLabels"]
            matched = [
                mu.name(d) for d in deployments
                if wanted.items() <= d["spec"]["template"]["metadata"]["labels"].items()
            ]  # fmt: skip
            assert len(matched) == 1, (
                f"{kustomization}: {mu.ident(pdb)} selects {matched}: overlapping budgets"
            )


def test_grace_period_covers_the_soft_shutdown(workers: list[Pod]) -> None:
    for pod in workers:
        grace = pod.template.spec["terminationGracePeriodSeconds"]
        needed = pod.settings.SOFT_SHUTDOWN_TIMEOUT + SHUTDOWN_MARGIN
        assert grace >= needed, f"{pod.where}: grace {grace}s < soft shutdown + margin {needed}s"


def test_worker_port_probes_and_scrape_match_the_setting(workers: list[Pod]) -> None:
    for pod in workers:
        port = pod.settings.WORKER_HTTP_PORT
        ports = {p["name"]: p["containerPort"] for p in pod.container["ports"]}
        assert list(ports.values()) == [port], pod.where
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe_port = pod.container[probe]["httpGet"]["port"]
            assert ports.get(probe_port, probe_port) == port, f"{pod.where}: {probe}"
        annotations = pod.template.metadata.get("annotations", {})
        assert annotations.get("prometheus.io/port") == str(port), pod.where


def _serve_worker_health() -> tuple[ThreadingHTTPServer, str]:
    from functions.worker import endpoint

    server = ThreadingHTTPServer(("127.0.0.1", 0), endpoint.handler(30.0, lambda: True))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def test_worker_probe_paths_are_served(workers: list[Pod]) -> None:
    paths = {
        pod.container[probe]["httpGet"]["path"]
        for pod in workers
        for probe in ("startupProbe", "livenessProbe", "readinessProbe")
    }
    server, base = _serve_worker_health()
    try:
        for path in sorted(paths):
            try:
                status = urllib.request.urlopen(base + path, timeout=5).status
            except urllib.error.HTTPError as exc:
                status = exc.code
            # Before the consumer's first heartbeat the probe answers 503 "starting".
            assert status in (200, 503), f"worker answers {status} on {path}"
    finally:
        server.shutdown()
        server.server_close()


async def _asgi_get(app: Any, path: str) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"api")], "server": ("api", 8080),
        "client": ("127.0.0.1", 40000),
    }  # fmt: skip
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    try:
        await app(scope, receive, send)
    except Exception:  # a route that fails without Redis (no lifespan here) still exists
        statuses.append(500)
    return statuses[0]


def _api_serves(paths: set[str]) -> dict[str, int]:
    """Status of a GET on each path, without the lifespan (no Redis): 404 means no route."""
    from functions.api.main import app

    return {path: asyncio.run(_asgi_get(app, path)) for path in sorted(paths)}


def test_api_probe_and_scrape_paths_exist(apis: list[Pod]) -> None:
    paths: set[str] = set()
    for pod in apis:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if probe in pod.container:
                paths.add(pod.container[probe]["httpGet"]["path"])
        assert pod.container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert pod.container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        annotations = pod.template.metadata["annotations"]
        paths.add(annotations["prometheus.io/path"])
        port = pod.container["ports"][0]["containerPort"]
        # Prometheus scrapes the metrics-only port, never the API's own (networkpolicy.yaml).
        assert annotations["prometheus.io/port"] == str(pod.settings.API_METRICS_PORT)
        assert pod.settings.API_METRICS_PORT not in (0, port)
        # Knative injects PORT from the container port; the setting's default must agree for
        # `spillway api` outside Knative.
        assert port == Settings.model_fields["PORT"].default
    statuses = _api_serves(paths)
    missing = {path for path, status in statuses.items() if status in (404, 405)}
    assert not missing, f"the API has no GET route for {sorted(missing)}"
    # Liveness checks no dependency: it answers 200 even with no Redis at all.
    assert statuses["/healthz"] == 200
    # Probes and Prometheus send no API key (functions/api/auth.py keeps these paths open).
    assert not {path for path, status in statuses.items() if status in (401, 403)}


def test_knative_timeouts_cover_long_polls(apis: list[Pod]) -> None:
    for pod in apis:
        spec = pod.template.owner["spec"]["template"]["spec"]
        needed = pod.settings.MAX_WAIT + COLD_START_ALLOWANCE
        assert spec["responseStartTimeoutSeconds"] >= needed, pod.where
        assert spec["timeoutSeconds"] > spec["responseStartTimeoutSeconds"], pod.where


# prometheus_client's metrics, and the families a custom collector yields (CounterMetricFamily
# names its samples <name>_total as Counter does).
_METRIC_DEFINITION = re.compile(
    r"(Counter|Gauge|Histogram|Summary)(?:MetricFamily)?\(\s*\"(spillway_\w+)\""
)


def _defined_metrics() -> set[str]:
    names: set[str] = set()
    for path in (mu.REPO / "functions").rglob("*.py"):
        for kind, metric in _METRIC_DEFINITION.findall(path.read_text()):
            base = metric.removesuffix("_total")
            if kind == "Counter":
                names |= {f"{base}_total", f"{base}_created"}
            elif kind in ("Histogram", "Summary"):
                names |= {f"{base}_bucket", f"{base}_sum", f"{base}_count", f"{base}_created"}
            else:
                names.add(metric)
    return names


def test_dashboard_queries_exist_in_the_code() -> None:
    dashboard = json.loads((mu.REPO / "platform/monitoring/grafana-dashboard.json").read_text())
    defined = _defined_metrics()
    assert defined, "no metrics found in functions/"
    titles = set()
    for panel in dashboard["panels"]:
        titles.add(panel["title"])
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for metric in re.findall(r"\bspillway_\w+", target["expr"]):
                assert metric in defined, f"{panel['title']}: {metric} is not exported"
    required = {"Queue depth", "In flight", "Replicas", "Submit rate", "Queue wait", "Error rate"}
    required |= {"Dead letters", "Lost-worker recoveries"}
    assert required <= titles
