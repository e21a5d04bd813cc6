"""The API's pods as Knative would really create them, checked with Kubernetes' semantic rules.

A Knative Service is not what runs: the revision reconciler turns its template into a Deployment
(tests/manifests/knative_revision.py follows deploy.go and queue.go at knative-v1.15.0), and the
API server then defaults and validates that Deployment (tests/manifests/k8s_semantics.py). A
Service whose Deployment is rejected never gets a Ready revision, although the Service itself
applies cleanly; JSON-schema checks of the Service cannot see that.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.manifests import k8s_semantics as k8s
from tests.manifests import knative_revision as kr
from tests.manifests import manifest_utils as mu


def _services(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, mu.Doc]]:
    return [
        (k, d) for k, d in all_docs if (mu.group(d), d["kind"]) == (mu.KNATIVE_GROUP, "Service")
    ]


def _containers(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def _service(**container: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "app",
        "image": "example/app:1",
        "ports": [{"name": "http1", "containerPort": 8080}],
        "readinessProbe": {"httpGet": {"path": "/readyz"}},
        "livenessProbe": {"httpGet": {"path": "/healthz"}, "periodSeconds": 10},
    }
    base.update(container)
    return {
        "apiVersion": "serving.knative.dev/v1",
        "kind": "Service",
        "metadata": {"name": "svc", "namespace": "ns"},
        "spec": {"template": {"spec": {"containers": [base]}}},
    }


def test_revision_deployments_pass_kubernetes_semantic_rules(
    all_docs: list[tuple[str, mu.Doc]],
) -> None:
    """Knative's Deployment for each shipped Service is one the API server accepts and whose
    probes the kubelet can run (k8s_semantics.py cites validation.go and pkg/probe/util.go)."""
    services = _services(all_docs)
    assert services
    for kustomization, service in services:
        deployment = kr.revision_deployment(service)
        errors = k8s.pod_spec_errors(deployment["spec"]["template"]["spec"], mu.ident(service))
        assert not errors, f"{kustomization}:\n" + "\n".join(errors)


def test_every_pod_template_passes_kubernetes_semantic_rules(
    all_docs: list[tuple[str, mu.Doc]],
) -> None:
    """The workers and Redis meet the same rules (kubernetes-validate checks only the schema)."""
    checked = 0
    for kustomization, doc in all_docs:
        if doc["kind"] in mu.WORKLOAD_KINDS:
            claims = frozenset(
                t["metadata"]["name"] for t in doc["spec"].get("volumeClaimTemplates", [])
            )
            errors = k8s.pod_spec_errors(doc["spec"]["template"]["spec"], mu.ident(doc), claims)
            assert not errors, f"{kustomization}:\n" + "\n".join(errors)
            checked += 1
    assert checked >= 2


def test_reconciler_rewrites_as_deploy_go_does() -> None:
    """deploy.go makeServingContainer/makeContainer/rewriteUserLivenessProbe and queue.go
    makeQueueContainer at knative-v1.15.0: the port is renamed, readiness moves to queue-proxy
    (as its own kubelet probe on :8012 and as the JSON it runs against the app), liveness gets
    the user port, the startup probe is left as written."""
    startup = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 1}
    deployment = kr.revision_deployment(_service(startupProbe=startup))
    containers = _containers(deployment)
    app, queue = containers["app"], containers["queue-proxy"]
    assert app["ports"] == [{"name": "user-port", "containerPort": 8080}]
    assert {"name": "PORT", "value": "8080"} in app["env"]
    assert "readinessProbe" not in app
    assert app["livenessProbe"]["httpGet"]["port"] == 8080
    assert app["startupProbe"] == startup
    assert app["lifecycle"]["preStop"]["httpGet"] == {"port": 8022, "path": "/wait-for-drain"}
    assert queue["readinessProbe"]["httpGet"] == {
        "port": 8012,
        "httpHeaders": [{"name": "K-Network-Probe", "value": "queue"}],
    }
    env = {e["name"]: e.get("value") for e in queue["env"]}
    assert json.loads(env["SERVING_READINESS_PROBE"])["httpGet"] == {
        "path": "/readyz", "host": "127.0.0.1", "port": 8080, "scheme": "HTTP",
    }  # fmt: skip
    assert {p["containerPort"] for p in queue["ports"]} == {8022, 9090, 9091, 8012, 8112}
    assert deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 300
    assert k8s.pod_spec_errors(deployment["spec"]["template"]["spec"]) == []


@pytest.mark.parametrize(
    ("port", "error"),
    [
        (None, "must be between 1 and 65535"),  # nothing defaults it: port 0 reaches the API
        ("http1", "port 'http1' not found"),  # renamed to user-port, only liveness rewritten
    ],
)
def test_startup_probe_port_is_not_rewritten(port: str | None, error: str) -> None:
    """deploy.go at knative-v1.15.0 rewrites only the liveness probe's port
    (rewriteUserLivenessProbe); a startup probe without a port, or naming the Service's port,
    reaches the Deployment unusable. The check below catches both."""
    handler: dict[str, Any] = {"path": "/healthz"}
    if port is not None:
        handler["port"] = port
    deployment = kr.revision_deployment(_service(startupProbe={"httpGet": handler}))
    errors = k8s.pod_spec_errors(deployment["spec"]["template"]["spec"])
    assert any("startupProbe.httpGet.port" in e and error in e for e in errors), errors


def test_semantic_rules_catch_what_the_schema_allows() -> None:
    """validation.go: duplicate port names in a container, a liveness successThreshold other
    than 1, a mount of a volume that does not exist, two containers binding one port."""
    spec: dict[str, Any] = {
        "containers": [
            {
                "name": "a",
                "image": "x",
                "ports": [
                    {"name": "web", "containerPort": 80},
                    {"name": "web", "containerPort": 81},
                ],
                "livenessProbe": {"tcpSocket": {"port": "web"}, "successThreshold": 2},
                "volumeMounts": [{"name": "missing", "mountPath": "/m"}],
            },
            {"name": "b", "image": "x", "ports": [{"containerPort": 80}]},
        ]
    }
    errors = "\n".join(k8s.pod_spec_errors(spec))
    for expected in ("duplicate 'web'", "successThreshold: must be 1", "'missing' not found",
                     "80 is also bound by a"):  # fmt: skip
        assert expected in errors, errors


def test_cold_starts_keep_the_activator_probing_pods_directly(
    all_docs: list[tuple[str, mu.Doc]],
) -> None:
    """knative/serving pkg/activator/net/revision_backends.go (getOrCreateRevisionWatcher, from
    knative-v1.15.0 to knative-v1.23.0): an exec readiness probe or *any* startup probe on the
    user container turns enableProbeOptimisation off, and the activator then waits for the
    kubelet to mark the pod Ready and the endpoints to say so, instead of routing as soon as its
    own 200 ms probe of queue-proxy succeeds. The API keeps the fast path: an HTTP readiness
    probe run by queue-proxy (aggressive, 50 ms) and no startup probe."""
    for kustomization, service in _services(all_docs):
        for container in service["spec"]["template"]["spec"]["containers"]:
            where = f"{kustomization}: {mu.ident(service)}/{container['name']}"
            assert "startupProbe" not in container, f"{where}: disables the activator's probing"
            readiness = container["readinessProbe"]
            assert "exec" not in readiness, f"{where}: exec readiness disables it too"
            assert not readiness.get("periodSeconds"), f"{where}: keep queue-proxy's 50 ms probe"


def test_knative_copies_user_probe_timing_to_queue_proxy(
    all_docs: list[tuple[str, mu.Doc]],
) -> None:
    """queue.go makeQueueContainer copies the user's readiness probe for the kubelet's probe of
    queue-proxy; with periodSeconds unset the API server defaults it to 10 s
    (SetDefaults_Probe). That only matters when the activator cannot probe pods itself."""
    for _, service in _services(all_docs):
        deployment = kr.revision_deployment(copy.deepcopy(service))
        queue = _containers(deployment)["queue-proxy"]
        spec = k8s.with_defaults({"containers": [queue]})
        assert spec["containers"][0]["readinessProbe"]["periodSeconds"] == 10
