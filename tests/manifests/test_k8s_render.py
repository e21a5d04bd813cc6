"""`kubectl kustomize` renders every kustomization into a complete, self-consistent set."""

from __future__ import annotations

import manifest_utils as mu
import pytest


@pytest.mark.parametrize("kustomization", sorted(mu.KUSTOMIZATIONS))
def test_kustomization_renders(renders: dict[str, list[mu.Doc]], kustomization: str) -> None:
    docs = renders[kustomization]
    assert docs, f"{kustomization} rendered nothing"
    idents = [f"{mu.group(d)}/{mu.ident(d)}" for d in docs]
    assert len(idents) == len(set(idents)), "an object is rendered twice"


def test_root_deploys_everything(root: list[mu.Doc]) -> None:
    kinds = {(mu.group(d), d["kind"]) for d in root}
    expected = {
        ("", "Namespace"),
        ("", "ServiceAccount"),
        ("", "ConfigMap"),
        ("", "Secret"),
        ("", "Service"),
        ("apps", "StatefulSet"),
        ("apps", "Deployment"),
        ("policy", "PodDisruptionBudget"),
        ("networking.k8s.io", "NetworkPolicy"),
        (mu.KNATIVE_GROUP, "Service"),
        (mu.KEDA_GROUP, "ScaledObject"),
        (mu.KEDA_GROUP, "TriggerAuthentication"),
    }
    assert expected <= kinds, f"missing from `kubectl apply -k .`: {sorted(expected - kinds)}"
    dashboard = mu.find(root, "ConfigMap", "spillway-grafana-dashboard")
    assert dashboard["metadata"]["labels"].get("grafana_dashboard") == "1"


@pytest.mark.parametrize("kustomization", sorted(mu.KUSTOMIZATIONS))
def test_one_namespace(renders: dict[str, list[mu.Doc]], kustomization: str) -> None:
    namespace = mu.namespace_of(renders[kustomization])
    for ns in mu.of_kind(renders[kustomization], "Namespace"):
        assert mu.name(ns) == namespace


def test_second_pool_reuses_the_platform(renders: dict[str, list[mu.Doc]]) -> None:
    """The overlay adds a pool; the Redis, Secret and namespace it relies on come from root."""
    root, pool = renders["root"], renders["second-pool"]
    assert mu.namespace_of(pool) == mu.namespace_of(root)
    assert not mu.of_kind(pool, "StatefulSet") and not mu.of_kind(pool, "Namespace")
    for _, container in mu.spillway_containers(pool):
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                mu.find(root, "Secret", ref["name"])


def test_keda_owns_worker_replicas(all_docs: list[tuple[str, mu.Doc]]) -> None:
    for _, so in all_docs:
        if so["kind"] != "ScaledObject":
            continue
        target = so["spec"]["scaleTargetRef"]["name"]
        deployments = [d for _, d in all_docs if d["kind"] == "Deployment" and mu.name(d) == target]
        assert deployments, f"{mu.ident(so)} targets a Deployment that is not rendered"
        for deployment in deployments:
            assert "replicas" not in deployment["spec"], (
                f"{mu.ident(deployment)} sets replicas, which would fight KEDA on every apply"
            )


def test_spillway_image_is_set_by_kustomize(all_docs: list[tuple[str, mu.Doc]]) -> None:
    docs = [doc for _, doc in all_docs]
    images = {c["image"] for _, c in mu.spillway_containers(docs)}
    assert images, "no container runs the spillway image"
    for image in images:
        assert ":" in image.rsplit("/", 1)[-1] or "@" in image, f"{image} has no tag or digest"
        assert not image.endswith(":latest")
