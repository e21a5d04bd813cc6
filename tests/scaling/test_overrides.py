"""What-if overrides and the kustomize patch a sweep writes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from functions.scaling import manifests, overrides
from functions.scaling.errors import OverrideError
from tests.support.processes import ROOT

SCALEDOBJECT = ROOT / "keda" / "base" / "scaledobject.yaml"


def repo_scaledobject() -> dict[str, object]:
    return next(d for d in manifests.load(SCALEDOBJECT) if d["kind"] == "ScaledObject")


def test_overrides_edit_the_manifest() -> None:
    doc = repo_scaledobject()
    edited = overrides.apply(
        doc,
        [
            ("pollingInterval", "15"),
            ("listLength", "4"),
            ("inflight.activationListLength", "1"),
            ("target", "3"),
            ("scaleUp.policies", "Pods:2:30+Percent:50:30"),
            ("scaleDown.selectPolicy", "Disabled"),
        ],
    )
    spec = manifests.scaled_object_spec(edited)
    assert spec.polling_interval == 15
    assert [t.target for t in spec.triggers] == [4, 4, 4]
    assert [t.activation for t in spec.triggers] == [0, 1, 0]
    assert spec.modifiers is not None and spec.modifiers.target == 3
    assert spec.behavior is not None and spec.behavior.down.select == "Disabled"
    assert [(p.kind, p.value, p.period) for p in spec.behavior.up.policies] == [
        ("Pods", 2, 30),
        ("Percent", 50, 30),
    ]
    assert doc == repo_scaledobject()  # the original is untouched


def test_none_removes_behavior_and_modifiers() -> None:
    edited = overrides.apply(
        repo_scaledobject(), [("behavior", "none"), ("scalingModifiers", "none")]
    )
    spec = manifests.scaled_object_spec(edited)
    assert spec.behavior is None and spec.modifiers is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("pollingIntervall", "5", "unknown setting"),
        ("pollingInterval", "-1", ">= 0"),
        ("listLength", "many", "must be a number"),
        ("nosuch.listLength", "3", "no trigger named"),
        ("scaleUp.policies", "Pods:4", "write policies"),
        ("behavior", "default", "only 'none'"),
    ],
)
def test_bad_overrides(key: str, value: str, message: str) -> None:
    with pytest.raises(OverrideError, match=message):
        overrides.apply(repo_scaledobject(), [(key, value)])


def test_patch_holds_only_the_changes_with_lists_whole() -> None:
    doc = repo_scaledobject()
    edited = overrides.apply(
        doc, [("cooldownPeriod", "60"), ("listLength", "4"), ("behavior", "none")]
    )
    patch = yaml.safe_load(overrides.patch(doc, edited, source="x"))
    assert patch["metadata"] == {"name": doc["metadata"]["name"]}  # type: ignore[index]
    assert patch["spec"]["cooldownPeriod"] == 60
    assert len(patch["spec"]["triggers"]) == 3  # a CRD list is replaced whole
    assert patch["spec"]["advanced"] == {"horizontalPodAutoscalerConfig": {"behavior": None}}
    assert "pollingInterval" not in patch["spec"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl applies the patch")
def test_kustomize_applies_the_patch_to_the_same_spec(tmp_path: Path) -> None:
    """The patch, applied by kustomize to the source manifest, yields the simulated spec."""
    doc = repo_scaledobject()
    settings = [("pollingInterval", "20"), ("listLength", "3"), ("scaleDown.policies", "Pods:1:60")]
    edited = overrides.apply(doc, settings)
    shutil.copy(SCALEDOBJECT, tmp_path / "scaledobject.yaml")
    (tmp_path / "patch.yaml").write_text(overrides.patch(doc, edited, source="x"))
    (tmp_path / "kustomization.yaml").write_text(
        "resources: [scaledobject.yaml]\npatches:\n  - path: patch.yaml\n"
    )
    out = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout
    rendered = next(d for d in yaml.safe_load_all(out) if d["kind"] == "ScaledObject")
    assert manifests.scaled_object_spec(rendered) == manifests.scaled_object_spec(edited)
