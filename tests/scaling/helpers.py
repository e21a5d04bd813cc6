"""Small ScaledObjects and Knative Services for the scaling tests."""

from __future__ import annotations

from typing import Any

from functions.scaling.manifests import scaled_object_spec
from functions.scaling.spec import ScaledObjectSpec


def trigger(key: str, length: float = 5, activation: float = 0, name: str = "") -> dict[str, Any]:
    meta = {"listName": key, "listLength": str(length), "activationListLength": str(activation)}
    out: dict[str, Any] = {"type": "redis", "metadata": meta}
    if name:
        out["name"] = name
    return out


def scaled_object(
    *triggers: dict[str, Any],
    behavior: dict[str, Any] | None = None,
    modifiers: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A ScaledObject document; keyword fields go to spec (pollingInterval=10, ...)."""
    spec: dict[str, Any] = {"scaleTargetRef": {"name": "worker"}, **fields}
    spec["triggers"] = list(triggers) or [trigger("q")]
    advanced: dict[str, Any] = {}
    if behavior is not None:
        advanced["horizontalPodAutoscalerConfig"] = {"behavior": behavior}
    if modifiers is not None:
        advanced["scalingModifiers"] = modifiers
    if advanced:
        spec["advanced"] = advanced
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "worker"},
        "spec": spec,
    }


def spec_of(*triggers: dict[str, Any], **kwargs: Any) -> ScaledObjectSpec:
    return scaled_object_spec(scaled_object(*triggers, **kwargs))
