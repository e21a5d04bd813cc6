"""The NetworkPolicies admit what the platform components really use, and follow the cluster
facts in platform/cluster.yaml."""

from __future__ import annotations

import ipaddress
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
        "cluster-domain": "corp.example", "dns-namespace": "dns-system"},
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
    egress: Any = mu.find(docs, "NetworkPolicy", "spillway-egress")
    dns = egress["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchLabels"]
    assert dns == {"kubernetes.io/metadata.name": "dns-system"}


# Instance metadata services, which hand the node's cloud credentials to any pod that asks:
# AWS (IPv4, IPv6), GCP, Azure, OpenStack and ECS task metadata, Azure's wireserver, Alibaba.
METADATA = [
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "168.63.129.16", "100.100.100.200",
    "169.254.0.1", "fe80::1",
]  # fmt: skip
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:2800:220:1:248:1893:25c8:1946", "10.0.0.7"]


def _egress_for(docs: list[mu.Doc], labels: dict[str, str]) -> list[dict[str, Any]]:
    """Every egress rule of every policy that selects pods with `labels`."""
    rules: list[dict[str, Any]] = []
    for policy in mu.of_kind(docs, "NetworkPolicy"):
        if "Egress" not in policy["spec"].get("policyTypes", []):
            continue
        selector = policy["spec"]["podSelector"]
        if not _selects(selector, labels):
            continue
        rules += policy["spec"].get("egress", [])
    return rules


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Label selector semantics (matchLabels and `In` expressions, the kinds used here)."""
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def _ip_admitted(rules: list[dict[str, Any]], address: str) -> bool:
    """Whether some rule's ipBlock admits `address` (cidr minus its excepts), on any port:
    networking.k8s.io/v1 IPBlock semantics."""
    ip = ipaddress.ip_address(address)
    for rule in rules:
        for peer in rule.get("to", []):
            block = peer.get("ipBlock")
            if block is None:
                continue
            net = ipaddress.ip_network(block["cidr"])
            if ip.version != net.version or ip not in net:
                continue
            if not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])):
                return True
    return False


def test_api_and_workers_reach_dns_redis_and_the_internet_but_no_metadata(
    renders: dict[str, list[mu.Doc]],
) -> None:
    """Functions may call the internet, but never the node's instance metadata service (cloud
    credentials for the asking): every render's API and worker pods have an egress policy
    that admits DNS, Redis and public addresses, and keeps the metadata endpoints out."""
    for render_name, docs in renders.items():
        for template in mu.pod_templates(docs):
            labels = template.metadata.get("labels", {})
            if labels.get("app.kubernetes.io/component") not in ("api", "worker"):
                continue
            rules = _egress_for(docs, labels)
            assert rules, f"{render_name} {template.ident}: no egress policy"
            for address in METADATA:
                assert not _ip_admitted(rules, address), (render_name, template.ident, address)
            for address in PUBLIC:
                assert _ip_admitted(rules, address), (render_name, template.ident, address)
            dns = [r for r in rules if {(p["protocol"], p["port"]) for p in r.get("ports", [])}
                   == {("UDP", 53), ("TCP", 53)}]  # fmt: skip
            assert dns and dns[0]["to"][0]["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": mu.CLUSTER["dns-namespace"]
            }
            redis_rules = [
                r for r in rules if r.get("ports") == [{"protocol": "TCP", "port": 6379}]
            ]
            redis_pod = mu.find(docs, "StatefulSet", "spillway-redis")["spec"]["template"]
            assert any(
                _selects(peer["podSelector"], redis_pod["metadata"]["labels"])
                for r in redis_rules
                for peer in r["to"]
            ), (render_name, template.ident)


def test_monitoring_never_reaches_the_api_around_queue_proxy(root: list[mu.Doc]) -> None:
    """Prometheus gets the API's metrics-only port, not 8080, where the app serves every route
    (knative/serving: user traffic goes activator/gateway -> queue-proxy :8012 -> app)."""
    policy = mu.find(root, "NetworkPolicy", "spillway-api")
    admitted = _admitted(policy, mu.CLUSTER["monitoring-namespace"])
    assert admitted == {9180}
    assert kr.DEFAULT_USER_PORT not in admitted
