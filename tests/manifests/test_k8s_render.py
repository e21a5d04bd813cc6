"""`kubectl kustomize` renders every kustomization into a complete, self-consistent set."""

from __future__ import annotations

import pytest

from tests.manifests import manifest_utils as mu


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


def _shared_config(docs: list[mu.Doc]) -> mu.Doc:
    """The ConfigMap every spillway container reads with envFrom: one, the same for all."""
    names = {
        source["configMapRef"]["name"]
        for _, container in mu.spillway_containers(docs)
        for source in container.get("envFrom", [])
        if "configMapRef" in source
    }
    assert len(names) == 1, f"the API and the workers read different ConfigMaps: {names}"
    return mu.find(docs, "ConfigMap", names.pop())


def _without_shared_config(docs: list[mu.Doc]) -> set[str]:
    shared = mu.name(_shared_config(docs))
    return {f"{mu.group(d)}/{mu.ident(d)}" for d in docs if mu.name(d) != shared}


def test_second_pool_adds_a_pool_and_its_route(renders: dict[str, list[mu.Doc]]) -> None:
    """The component adds the -long pool and the route to it; everything else is root's."""
    root, pool = renders["root"], renders["second-pool"]
    added = _without_shared_config(pool) - _without_shared_config(root)
    assert _without_shared_config(root) <= _without_shared_config(pool)
    assert added == {
        "apps/Deployment/spillway-worker-long",
        "keda.sh/ScaledObject/spillway-worker-long",
        "keda.sh/TriggerAuthentication/spillway-redis-auth-long",
        "policy/PodDisruptionBudget/spillway-worker-long",
    }, sorted(added)
    # One API feeds both pools.
    assert len(mu.of_kind(pool, "Service", mu.KNATIVE_GROUP)) == 1
    before, after = _shared_config(root)["data"], _shared_config(pool)["data"]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed == {"SPILLWAY_QUEUE_ROUTES"}, changed
    # The default deployment routes nothing: no function waits on a queue nobody consumes.
    assert not before["SPILLWAY_QUEUE_ROUTES"]


def test_shared_config_name_follows_its_content(renders: dict[str, list[mu.Doc]]) -> None:
    """A settings change renames the ConfigMap, so the API gets a new revision and the workers
    roll: pods read envFrom only at start, and must not keep routes the others dropped."""
    names = {mu.name(_shared_config(docs)) for docs in renders.values()}
    assert len(names) == len(renders), names


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
