"""Schemas: core objects against Kubernetes' OpenAPI, CRDs against the KEDA and Knative models.

A cluster prunes unknown fields of a CRD silently, so a typo (`scalingModifier`, `listLenght`)
deploys fine and does nothing. The models are validated with extra fields forbidden, and the
redis trigger's free-form metadata is checked against the scaler's own field list.
"""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
from cloudcoil.models.keda import v1alpha1 as keda
from cloudcoil.models.knative_serving.serving import v1 as knative
from cloudcoil.models.prometheus_operator import v1 as monitoring
from pydantic import BaseModel, ValidationError

from functions.scaling.formula import compile_formula
from tests.manifests import manifest_utils as mu

# The oldest Kubernetes these manifests support, and the newest schema the validator knows.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())

CRD_MODELS: dict[tuple[str, str], type[BaseModel]] = {
    (mu.KEDA_GROUP, "ScaledObject"): keda.ScaledObject,
    (mu.KEDA_GROUP, "ScaledJob"): keda.ScaledJob,
    (mu.KEDA_GROUP, "TriggerAuthentication"): keda.TriggerAuthentication,
    (mu.KNATIVE_GROUP, "Service"): knative.Service,
    (mu.MONITORING_GROUP, "PrometheusRule"): monitoring.PrometheusRule,
}
CRD_GROUPS = {group for group, _ in CRD_MODELS}

# KEDA's redis scaler (pkg/scalers/redis_scaler.go, redisMetadata and redisConnectionInfo):
# fields read from trigger metadata, plus the `<field>FromEnv` form of those it also resolves
# from the target container's environment. Anything else is ignored without a warning.
_REDIS_FROM_ENV = {
    "address", "addresses", "host", "hosts", "port", "ports", "username", "password",
    "sentinelUsername", "sentinelPassword", "sentinelMaster",
}  # fmt: skip
REDIS_METADATA_KEYS = (
    {"listName", "listLength", "activationListLength", "databaseIndex", "enableTLS", "unsafeSsl"}
    | _REDIS_FROM_ENV
    | {f"{key}FromEnv" for key in _REDIS_FROM_ENV}
)
# Credentials belong in a TriggerAuthentication, never in the ScaledObject's plain metadata.
REDIS_SECRET_KEYS = {"username", "password", "sentinelUsername", "sentinelPassword"}

KNATIVE_RESERVED_ENV = {"PORT", "K_SERVICE", "K_CONFIGURATION", "K_REVISION"}
KNATIVE_RESERVED_PORTS = {8008, 8012, 8013, 8022, 9090, 9091}
KNATIVE_AUTOSCALING_ANNOTATIONS = {
    "class", "metric", "target", "target-utilization-percentage", "min-scale", "max-scale",
    "initial-scale", "activation-scale", "scale-down-delay", "scale-to-zero-pod-retention-period",
    "window", "panic-window-percentage", "panic-threshold-percentage", "target-burst-capacity",
    "metric-aggregation-algorithm",
}  # fmt: skip


def _core_docs(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, mu.Doc]]:
    return [(k, d) for k, d in all_docs if mu.group(d) not in CRD_GROUPS]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_core_objects_validate_strictly(all_docs: list[tuple[str, mu.Doc]], version: str) -> None:
    errors = []
    for kustomization, doc in _core_docs(all_docs):
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            errors.append(f"{kustomization}: {mu.ident(doc)}: {exc.message} at {list(exc.path)}")
    assert not errors, "\n".join(errors)


def _validate_crd(doc: mu.Doc) -> None:
    model = CRD_MODELS[(mu.group(doc), doc["kind"])]
    model.model_validate(doc, extra="forbid")


def test_crds_validate_with_unknown_fields_rejected(all_docs: list[tuple[str, mu.Doc]]) -> None:
    checked = set()
    for kustomization, doc in all_docs:
        if mu.group(doc) in CRD_GROUPS:
            key = (mu.group(doc), doc["kind"])
            assert key in CRD_MODELS, f"{kustomization}: no model to check {mu.ident(doc)}"
            try:
                _validate_crd(doc)
            except ValidationError as exc:
                pytest.fail(f"{kustomization}: {mu.ident(doc)}:\n{exc}")
            checked.add(key)
    assert {
        (mu.KEDA_GROUP, "ScaledObject"),
        (mu.KNATIVE_GROUP, "Service"),
        (mu.MONITORING_GROUP, "PrometheusRule"),
    } <= checked


@pytest.mark.parametrize(
    ("kind", "path", "typo"),
    [
        ("ScaledObject", ("spec", "advanced"), "scalingModifier"),
        ("ScaledObject", ("spec",), "coolDownPeriod"),
        ("Service", ("spec", "template", "spec"), "containerConcurency"),
        ("PrometheusRule", ("spec", "groups", 0, "rules", 0), "expresion"),
    ],
)
def test_crd_check_catches_typos(
    renders: dict[str, list[mu.Doc]], kind: str, path: tuple[str | int, ...], typo: str
) -> None:
    docs = renders["monitoring"]
    doc = copy.deepcopy(next(d for d in docs if d["kind"] == kind and mu.group(d) != ""))
    node: Any = doc
    for key in path:
        node = node[key]
    node[typo] = node.get(typo, 1)
    with pytest.raises(ValidationError, match=typo):
        _validate_crd(doc)


def _redis_triggers(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for _, doc in all_docs:
        if doc["kind"] in ("ScaledObject", "ScaledJob") and mu.group(doc) == mu.KEDA_GROUP:
            for trigger in doc["spec"]["triggers"]:
                if trigger["type"] in ("redis", "redis-cluster", "redis-sentinel"):
                    found.append((f"{mu.ident(doc)}[{trigger.get('name')}]", trigger))
    return found


def test_redis_trigger_metadata_keys_are_known(all_docs: list[tuple[str, mu.Doc]]) -> None:
    triggers = _redis_triggers(all_docs)
    assert triggers
    for where, trigger in triggers:
        metadata = trigger["metadata"]
        unknown = set(metadata) - REDIS_METADATA_KEYS
        assert not unknown, f"{where}: keys the redis scaler ignores: {sorted(unknown)}"
        assert not set(metadata) & REDIS_SECRET_KEYS, f"{where}: credentials in plain metadata"
        assert all(isinstance(v, str) for v in metadata.values()), f"{where}: unquoted values"
        assert metadata.get("listName"), f"{where}: no listName"
        # listLength silently defaults to 5 when missing or misspelt: require it.
        assert int(metadata["listLength"]) > 0, f"{where}: listLength must be set"
        assert "address" in metadata or "addressFromEnv" in metadata or "host" in metadata
        auth = trigger.get("authenticationRef", {}).get("name")
        assert auth, f"{where}: no TriggerAuthentication for the Redis password"


def test_trigger_authentications_exist(renders: dict[str, list[mu.Doc]]) -> None:
    for docs in renders.values():
        for so in mu.of_kind(docs, "ScaledObject", mu.KEDA_GROUP):
            for trigger in so["spec"]["triggers"]:
                auth = mu.find(docs, "TriggerAuthentication", trigger["authenticationRef"]["name"])
                for ref in auth["spec"]["secretTargetRef"]:
                    secret = mu.find(docs, "Secret", ref["name"])
                    data = (
                        secret["stringData"] if "stringData" in secret else secret.get("data", {})
                    )
                    assert ref["key"] in data


def _evaluates(formula: str, names: set[str]) -> None:
    """The formula compiles against exactly the trigger names and uses each (expr-lang subset,
    functions/scaling/formula.py, which follows expr's parser)."""
    run = compile_formula(formula, names)
    base = dict.fromkeys(names, 0.0)
    for name in names:
        moved = run({**base, name: 7.0}) != run(base)
        assert moved, f"trigger {name!r} does not change the formula {formula!r}"


def test_scaling_modifiers_sum_the_named_triggers(all_docs: list[tuple[str, mu.Doc]]) -> None:
    for kustomization, so in all_docs:
        if so["kind"] != "ScaledObject":
            continue
        where = f"{kustomization}: {mu.ident(so)}"
        modifiers = so["spec"]["advanced"]["scalingModifiers"]
        names = {t.get("name") for t in so["spec"]["triggers"]}
        assert None not in names, f"{where}: formula triggers need names"
        _evaluates(modifiers["formula"], {str(n) for n in names})
        assert float(modifiers["target"]) > 0
        assert float(modifiers.get("activationTarget", "0")) == 0, f"{where}: wake on any work"
        assert modifiers.get("metricType", "AverageValue") == "AverageValue"


def test_hpa_behavior_is_explicit(all_docs: list[tuple[str, mu.Doc]]) -> None:
    for kustomization, so in all_docs:
        if so["kind"] != "ScaledObject":
            continue
        behavior = so["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
        for direction in ("scaleUp", "scaleDown"):
            rules = behavior[direction]
            assert "stabilizationWindowSeconds" in rules and rules["policies"], (
                f"{kustomization}: {mu.ident(so)} {direction} relies on defaults"
            )
        for field in ("pollingInterval", "cooldownPeriod", "minReplicaCount", "maxReplicaCount"):
            assert field in so["spec"], f"{kustomization}: {mu.ident(so)} leaves {field} default"
        assert so["spec"]["minReplicaCount"] == 0 < so["spec"]["maxReplicaCount"]


def _knative_services(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, mu.Doc]]:
    return [
        (k, d) for k, d in all_docs if (mu.group(d), d["kind"]) == (mu.KNATIVE_GROUP, "Service")
    ]


def test_knative_service_follows_the_runtime_contract(all_docs: list[tuple[str, mu.Doc]]) -> None:
    services = _knative_services(all_docs)
    assert services
    for kustomization, svc in services:
        where = f"{kustomization}: {mu.ident(svc)}"
        spec = svc["spec"]["template"]["spec"]
        assert "securityContext" not in spec, f"{where}: pod securityContext needs a feature flag"
        ports = [p for c in spec["containers"] for p in c.get("ports", [])]
        assert len(ports) == 1, f"{where}: Knative allows exactly one container port"
        port = ports[0]["containerPort"]
        assert port not in KNATIVE_RESERVED_PORTS
        assert ports[0].get("name", "") in ("", "http1", "h2c")
        for container in spec["containers"]:
            env = {e["name"] for e in container.get("env", [])}
            assert not env & KNATIVE_RESERVED_ENV, f"{where}: sets {env & KNATIVE_RESERVED_ENV}"
            # k8s_validation.go validateProbe (knative-v1.15.0): on the user container a
            # readiness or liveness port may be omitted or name the container's port; Knative
            # then sets it (queue.go applyReadinessProbeDefaults, deploy.go
            # rewriteUserLivenessProbe). Startup probes are not rewritten: test_knative_revision.
            for probe_name in ("readinessProbe", "livenessProbe"):
                probe = container.get(probe_name)
                assert probe, f"{where}: no {probe_name}"
                handler = probe.get("httpGet") or probe.get("tcpSocket") or {}
                assert handler.get("port", port) in (port, ports[0].get("name")), probe_name
            readiness = container["readinessProbe"]
            if not readiness.get("periodSeconds"):
                assert "failureThreshold" not in readiness and "timeoutSeconds" not in readiness, (
                    f"{where}: Knative rejects these without periodSeconds"
                )
                assert not readiness.get("initialDelaySeconds"), "adds to every cold start"
        assert 0 <= spec["containerConcurrency"] <= 1000
        assert 0 < spec["responseStartTimeoutSeconds"] <= spec["timeoutSeconds"] <= 600


def test_knative_autoscaling_annotations(all_docs: list[tuple[str, mu.Doc]]) -> None:
    for kustomization, svc in _knative_services(all_docs):
        where = f"{kustomization}: {mu.ident(svc)}"
        assert not any(
            k.startswith("autoscaling.knative.dev/") for k in svc["metadata"].get("annotations", {})
        ), f"{where}: autoscaling annotations belong on the revision template"
        annotations = svc["spec"]["template"]["metadata"]["annotations"]
        scaling = {
            k.split("/", 1)[1]: v
            for k, v in annotations.items()
            if k.startswith("autoscaling.knative.dev/")
        }
        assert set(scaling) <= KNATIVE_AUTOSCALING_ANNOTATIONS, f"{where}: unknown annotation"
        assert all(isinstance(v, str) for v in annotations.values()), f"{where}: unquoted value"
        assert scaling["class"] == "kpa.autoscaling.knative.dev", "scale to zero needs the KPA"
        assert scaling["metric"] in ("concurrency", "rps")
        assert scaling["min-scale"] == "0"
        assert int(scaling["max-scale"]) >= 1
        assert int(scaling["initial-scale"]) >= 1
        assert float(scaling["target"]) >= 0.01
        assert 1 <= float(scaling["target-utilization-percentage"]) <= 100
        cc = svc["spec"]["template"]["spec"]["containerConcurrency"]
        # The target is capped at containerConcurrency; a target above it would be misleading.
        assert cc == 0 or float(scaling["target"]) <= cc
