"""Reading the ScaledObject and the Knative Service from the repository's manifests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from functions.scaling import manifests
from functions.scaling.errors import ManifestError
from functions.scaling.manifests import KEDA_GROUP, KNATIVE_GROUP
from functions.scaling.spec import DEFAULT_SCALE_UP, Behavior
from tests.scaling.helpers import scaled_object, spec_of, trigger
from tests.support.processes import ROOT

SCALEDOBJECT = ROOT / "keda" / "base" / "scaledobject.yaml"
SERVICE = ROOT / "knative" / "service.yaml"


def test_the_repository_scaledobject_parses_as_written() -> None:
    """Every field the engine uses comes from keda/base/scaledobject.yaml, not from defaults."""
    docs = manifests.load(SCALEDOBJECT)
    raw = next(d for d in docs if d["kind"] == "ScaledObject")
    spec = manifests.scaled_object_spec(raw)
    s = raw["spec"]
    assert spec.polling_interval == s["pollingInterval"]
    assert spec.cooldown == s["cooldownPeriod"]
    assert (spec.min_replicas, spec.max_replicas) == (s["minReplicaCount"], s["maxReplicaCount"])
    assert [t.key for t in spec.triggers] == [t["metadata"]["listName"] for t in s["triggers"]]
    mods = s["advanced"]["scalingModifiers"]
    assert spec.modifiers is not None and spec.modifiers.formula == mods["formula"]
    assert spec.modifiers.target == float(mods["target"])
    behavior = s["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert spec.behavior is not None
    assert spec.behavior.down.window == behavior["scaleDown"]["stabilizationWindowSeconds"]


def test_the_repository_service_resolves_its_kpa_target() -> None:
    """resources/target.go: the `target` annotation, capped at containerConcurrency."""
    raw = manifests.select(manifests.load(SERVICE), "Service", KNATIVE_GROUP, None, "service")
    spec = manifests.knative_spec(raw)
    ann = raw["spec"]["template"]["metadata"]["annotations"]
    target = float(ann["autoscaling.knative.dev/target"])
    cc = raw["spec"]["template"]["spec"]["containerConcurrency"]
    assert spec.total_target == min(target, cc)
    assert spec.max_scale == int(ann["autoscaling.knative.dev/max-scale"])
    assert spec.response_timeout == raw["spec"]["template"]["spec"]["responseStartTimeoutSeconds"]


def test_rendered_multi_document_file(tmp_path: Path) -> None:
    """A `kubectl kustomize` output holds many kinds; a core Service is not a Knative one."""
    core = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis"}}
    docs = [
        core,
        *yaml.safe_load_all(SCALEDOBJECT.read_text()),
        *yaml.safe_load_all(SERVICE.read_text()),
    ]
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    loaded = manifests.load(path)
    assert manifests.select(loaded, "ScaledObject", KEDA_GROUP, None, "all")
    assert manifests.select(loaded, "Service", KNATIVE_GROUP, None, "all")["kind"] == "Service"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl renders the kustomization")
def test_a_kustomization_directory_is_rendered() -> None:
    # keda/: the root needs the Redis credentials scripts/redis-secret writes (untracked).
    docs = manifests.load(ROOT / "keda")
    so = manifests.select(docs, "ScaledObject", KEDA_GROUP, None, "root")
    assert manifests.scaled_object_spec(so).modifiers is not None


def test_choose_among_several_scaledobjects() -> None:
    docs = [scaled_object(), scaled_object()]
    docs[1]["metadata"]["name"] = "other"
    with pytest.raises(ManifestError, match="choose one with --name"):
        manifests.select(docs, "ScaledObject", KEDA_GROUP, None, "x")
    assert manifests.select(docs, "ScaledObject", KEDA_GROUP, "other", "x") is docs[1]


def test_defaults_when_fields_are_absent() -> None:
    """KEDA: pollingInterval 30, cooldownPeriod 300, min 0, max 100, listLength 5; no behavior
    means the legacy HPA path (behavior None), not the documented behavior defaults."""
    doc = scaled_object({"type": "redis", "metadata": {"listName": "q"}})
    spec = manifests.scaled_object_spec(doc)
    assert (spec.polling_interval, spec.cooldown, spec.min_replicas, spec.max_replicas) == (
        30,
        300,
        0,
        100,
    )
    assert spec.triggers[0].target == 5 and spec.behavior is None and spec.hpa_min == 1


def test_behavior_fields_default_one_by_one() -> None:
    """defaults.go copyHPAScalingRules: each field given replaces the default, the rest stay."""
    spec = spec_of(trigger("q"), behavior={"scaleDown": {"stabilizationWindowSeconds": 60}})
    assert spec.behavior == Behavior(
        up=DEFAULT_SCALE_UP, down=Behavior().down.__class__(60, Behavior().down.policies)
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (scaled_object({"type": "cpu", "metadata": {}}), "only redis triggers"),
        (scaled_object({"type": "redis", "metadata": {}}), "listName is required"),
        (scaled_object(trigger("q", length=0)), "listLength must be > 0"),
        (scaled_object(trigger("q"), minReplicaCount=5, maxReplicaCount=2), "maxReplicaCount"),
        (scaled_object(trigger("q"), pollingInterval="soon"), "must be a number"),
        (
            scaled_object(trigger("q"), behavior={"scaleUp": {"selectPolicy": "Most"}}),
            "selectPolicy",
        ),
    ],
)
def test_bad_manifests_are_rejected_with_a_reason(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        manifests.scaled_object_spec(doc)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot read"):
        manifests.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1,\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        manifests.load(bad)
