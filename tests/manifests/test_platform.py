"""Redis sizing, the shared ServiceAccount and the API's progress deadline."""

from __future__ import annotations

from tests.manifests import knative_revision as kr
from tests.manifests import manifest_utils as mu

MIB = 1024 * 1024
# Client output buffers and Redis's own overhead, on top of the dataset and its forked copy.
OVERHEAD = 128 * MIB


def _bytes(quantity: str) -> int:
    units = {"Ki": 1024, "Mi": MIB, "Gi": 1024 * MIB, "kb": 1024, "mb": MIB, "gb": 1024 * MIB}
    for suffix, factor in units.items():
        if quantity.lower().endswith(suffix.lower()):
            return int(quantity[: -len(suffix)]) * factor
    return int(quantity)


def _redis_conf(root: list[mu.Doc]) -> dict[str, str]:
    text = mu.find(root, "ConfigMap", "spillway-redis-config")["data"]["redis.conf"]
    conf = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            conf[key] = value
    return conf


def test_redis_fits_its_memory_limit_while_forked(root: list[mu.Doc]) -> None:
    """An AOF rewrite forks; copy-on-write can duplicate the whole dataset while the child runs
    (redis.io persistence docs), so the limit must hold twice maxmemory, and no RDB snapshots
    add a second fork."""
    conf = _redis_conf(root)
    assert conf["save"] == '""', "RDB snapshots fork a second copy"
    assert conf["appendonly"] == "yes"
    statefulset = mu.find(root, "StatefulSet", "spillway-redis")
    limit = _bytes(
        statefulset["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    )
    assert 2 * _bytes(conf["maxmemory"]) + OVERHEAD <= limit


def test_every_pod_runs_under_the_shared_account(all_docs: list[tuple[str, mu.Doc]]) -> None:
    """platform/serviceaccount.yaml is the one place for imagePullSecrets: every pod uses it,
    Knative's tag-to-digest resolution too (revision.go reconcileDigest, k8schain)."""
    for kustomization, doc in all_docs:
        for template in mu.pod_templates([doc]):
            assert template.spec.get("serviceAccountName") == "spillway", (
                f"{kustomization}: {template.ident}"
            )


def test_progress_deadline_leaves_room_for_a_first_install(root: list[mu.Doc]) -> None:
    """A first revision that misses its deadline is failed for good (revision_lifecycle.go,
    knative-v1.15.0: "Initial scale was never achieved"). On a fresh install its pod waits for
    Redis, which waits for a new volume and two image pulls: keep at least Knative's default
    (config/core/configmaps/deployment.yaml progress-deadline, 600s)."""
    service = mu.find(root, "Service", "spillway-api", mu.KNATIVE_GROUP)
    deployment = kr.revision_deployment(service)
    assert deployment["spec"]["progressDeadlineSeconds"] >= kr.DEFAULT_PROGRESS_DEADLINE
