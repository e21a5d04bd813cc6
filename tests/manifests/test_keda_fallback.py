"""Every ScaledObject has a fallback that each supported KEDA release accepts and applies.

Without one, a scaler error with scalingModifiers leaves a pool at 0 while work queues up
(keda/base/scaledobject.yaml explains what each release does with it). The rules below follow
kedacore/keda:
- v2.12.0/v2.13.0: no validation beyond pkg/fallback/fallback.go validateFallback
  (failureThreshold and replicas >= 0); the trigger's metric target must be AverageValue
  (isFallbackEnabled), which is the default.
- v2.14.0-v2.16.0: apis/keda/v1alpha1/scaledobject_types.go CheckFallbackValid (run by the
  admission webhook) demands `metricType: AverageValue` written on every trigger, and
  fallback.go validateFallback/HasValidFallback parses scalingModifiers.target with ParseInt.
- v2.17.0+: CheckFallbackValid wants scalingModifiers.metricType AverageValue (or unset) instead;
  doFallback serves scalingModifiers.target x replicas as the composite metric.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.manifests import manifest_utils as mu

VERSIONS = [(2, 12), (2, 13), (2, 14), (2, 16), (2, 17), (2, 20)]


def fallback_errors(so: mu.Doc, version: tuple[int, int]) -> list[str]:
    spec = so["spec"]
    fallback = spec.get("fallback")
    if fallback is None:
        return ["no fallback: a scaler error freezes the pool, at 0 if it was idle"]
    errors = []
    if fallback.get("failureThreshold", 0) < 0 or fallback.get("replicas", 0) < 0:
        errors.append("failureThreshold and replicas must be >= 0")
    if not fallback.get("replicas"):
        errors.append("replicas 0: the 2.12-2.16 operator skips the fallback and scales to zero")
    modifiers = spec.get("advanced", {}).get("scalingModifiers")
    triggers = spec["triggers"]
    if (2, 14) <= version < (2, 17):
        for trigger in triggers:
            if trigger["type"] in ("cpu", "memory"):
                errors.append(f"{trigger.get('name')}: no fallback for cpu/memory triggers")
            if trigger.get("metricType") != "AverageValue":
                errors.append(f"{trigger.get('name')}: metricType must be written AverageValue")
    if version >= (2, 17) and modifiers:
        if modifiers.get("metricType", "AverageValue") != "AverageValue":
            errors.append("scalingModifiers.metricType must be AverageValue")
    if version >= (2, 14) and modifiers:
        target = str(modifiers.get("target", ""))
        if not (target.isdigit() and int(target) > 0):
            errors.append(f"scalingModifiers.target {target!r} is not a positive integer")
    if version < (2, 14):
        for trigger in triggers:
            if trigger.get("metricType", "AverageValue") != "AverageValue":
                errors.append(f"{trigger.get('name')}: fallback needs AverageValue")
    return errors


def _scaled_objects(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, mu.Doc]]:
    return [(k, d) for k, d in all_docs if d["kind"] == "ScaledObject"]


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"keda-{v[0]}.{v[1]}")
def test_fallback_is_valid_on_every_supported_keda(
    all_docs: list[tuple[str, mu.Doc]], version: tuple[int, int]
) -> None:
    scaled_objects = _scaled_objects(all_docs)
    assert scaled_objects
    for kustomization, so in scaled_objects:
        errors = fallback_errors(so, version)
        assert not errors, f"{kustomization}: {mu.ident(so)}: {errors}"


def test_fallback_never_shrinks_a_busy_pool(all_docs: list[tuple[str, mu.Doc]]) -> None:
    """The HPA settles where the composite fallback metric puts it: target x replicas / target
    (fallback.go doFallback, 2.14+), and 2.12-2.16 set replicas directly: both equal the most
    pods the pool may ever have, so the fallback only ever adds capacity."""
    for kustomization, so in _scaled_objects(all_docs):
        spec = so["spec"]
        target = int(spec["advanced"]["scalingModifiers"]["target"])
        served = target * spec["fallback"]["replicas"]
        assert served / target == spec["maxReplicaCount"], f"{kustomization}: {mu.ident(so)}"
        assert spec["fallback"]["failureThreshold"] >= 1


@pytest.mark.parametrize(
    ("change", "version", "error"),
    [
        (lambda s: s["triggers"][0].pop("metricType"), (2, 14), "metricType must be written"),
        (lambda s: s["advanced"]["scalingModifiers"].update(target="2.5"), (2, 17), "positive"),
        (lambda s: s["advanced"]["scalingModifiers"].update(metricType="Value"), (2, 17), "Value"),
        (lambda s: s.pop("fallback"), (2, 20), "no fallback"),
    ],
)
def test_rules_reject_what_keda_rejects(
    root: list[mu.Doc], change: Any, version: tuple[int, int], error: str
) -> None:
    so = copy.deepcopy(mu.of_kind(root, "ScaledObject")[0])
    change(so["spec"])
    assert any(error in e or "AverageValue" in e for e in fallback_errors(so, version))
