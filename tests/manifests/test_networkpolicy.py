"""The NetworkPolicies admit what the platform components really use, and follow the cluster
facts in platform/cluster.yaml."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.manifests import knative_revision as kr
from tests.manifests import manifest_utils as mu

KNATIVE_NAMESPACE = "knative-serving"


def _admitted(policy: mu.Doc, namespace: str) -> set[int]:
    ports: set[int] = set()
    for rule in policy["spec"].get("ingress", []):
        names = {
            peer.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            for peer in rule.get("from", [])
        }
        if namespace in names:
            ports.update(int(p["port"]) for p in rule.get("ports", []))
    return ports


def test_activator_and_gateway_reach_every_queue_proxy_serving_port(root: list[mu.Doc]) -> None:
    """queue-proxy serves on 8012, 8013 (h2c) and, with system-internal-tls, 8112
    (knative/serving pkg/networking/constants.go BackendHTTPPort, BackendHTTP2Port,
    BackendHTTPSPort at knative-v1.15.0; queue.go makeQueueContainer declares all of them)."""
    policy = mu.find(root, "NetworkPolicy", "spillway-api")
    serving = {kr.QUEUE_HTTP_PORT, kr.QUEUE_HTTP2_PORT, kr.QUEUE_HTTPS_PORT}
    assert serving <= _admitted(policy, KNATIVE_NAMESPACE)
    assert serving <= _admitted(policy, mu.CLUSTER["ingress-namespace"])
    # The autoscaler scrapes queue-proxy's concurrency (AutoscalingQueueMetricsPort).
    assert kr.AUTOSCALING_METRICS_PORT in _admitted(policy, KNATIVE_NAMESPACE)


def test_keda_reaches_redis(root: list[mu.Doc]) -> None:
    policy = mu.find(root, "NetworkPolicy", "spillway-redis")
    assert 6379 in _admitted(policy, mu.CLUSTER["keda-namespace"])


def test_monitoring_is_admitted_only_to_scraped_ports(renders: dict[str, list[mu.Doc]]) -> None:
    """A port opened to Prometheus that no prometheus.io/port annotation names is never
    scraped: either scrape it or close it."""
    docs = renders["root"]
    monitoring = mu.CLUSTER["monitoring-namespace"]
    for policy in mu.of_kind(docs, "NetworkPolicy"):
        admitted = _admitted(policy, monitoring)
        if not admitted:
            continue
        selector = policy["spec"]["podSelector"]["matchLabels"]
        scraped = {
            int(t.metadata["annotations"]["prometheus.io/port"])
            for t in mu.pod_templates(docs)
            if selector.items() <= t.metadata.get("labels", {}).items()
            and "prometheus.io/port" in t.metadata.get("annotations", {})
        }
        assert admitted == scraped, f"{mu.ident(policy)}: admits {admitted}, scraped {scraped}"


def _render_with(kubectl: str, credentials: Path, tmp_path: Path, **facts: str) -> list[mu.Doc]:
    mu.copy_root(tmp_path)
    shutil.copytree(credentials, tmp_path / "platform" / "secrets")
    cluster = tmp_path / "platform" / "cluster.yaml"
    text = cluster.read_text()
    for key, value in facts.items():
        text = text.replace(f"  {key}: {mu.CLUSTER[key]}\n", f"  {key}: {value}\n")
    cluster.write_text(text)
    return mu.render(kubectl, tmp_path)


def test_cluster_facts_reach_every_copy(kubectl: str, credentials: Path, tmp_path: Path) -> None:
    """One edit in platform/cluster.yaml moves KEDA's admission (OpenShift's openshift-keda),
    the gateway, Prometheus and the cluster DNS domain of KEDA's Redis host."""
    docs = _render_with(
        kubectl, credentials, tmp_path, **{"keda-namespace": "openshift-keda",
        "ingress-namespace": "istio-system", "monitoring-namespace": "obs",
        "cluster-domain": "corp.example"},
    )  # fmt: skip
    assert 6379 in _admitted(mu.find(docs, "NetworkPolicy", "spillway-redis"), "openshift-keda")
    api: Any = mu.find(docs, "NetworkPolicy", "spillway-api")
    assert kr.QUEUE_HTTPS_PORT in _admitted(api, "istio-system")
    assert _admitted(api, "obs") and _admitted(
        mu.find(docs, "NetworkPolicy", "spillway-worker"), "obs"
    )
    for so in mu.of_kind(docs, "ScaledObject", mu.KEDA_GROUP):
        for trigger in so["spec"]["triggers"]:
            assert trigger["metadata"]["host"] == "spillway-redis.spillway.svc.corp.example"
