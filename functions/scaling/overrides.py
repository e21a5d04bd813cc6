"""What-if changes to a ScaledObject (`--set`, `--grid`) and the kustomize patch that applies them.

Overrides edit the manifest itself, so the simulated spec and the written patch cannot disagree.
Keys use the ScaledObject's own field names:

    pollingInterval cooldownPeriod initialCooldownPeriod minReplicaCount maxReplicaCount
    idleReplicaCount                          spec.<key>
    listLength activationListLength           every trigger's metadata; NAME.listLength: one
    formula target activationTarget           spec.advanced.scalingModifiers.<key>
    scalingModifiers=none                     drop scalingModifiers (triggers combine by max)
    behavior=none                             drop behavior (the HPA's legacy rules)
    scaleUp.stabilizationWindowSeconds scaleUp.selectPolicy scaleUp.tolerance
    scaleUp.policies=Pods:4:15+Percent:100:15 (and the same for scaleDown)
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from functions.scaling.errors import OverrideError
from functions.scaling.manifests import Doc

_SPEC_INTS = (
    "pollingInterval",
    "cooldownPeriod",
    "initialCooldownPeriod",
    "minReplicaCount",
    "maxReplicaCount",
    "idleReplicaCount",
)
_TRIGGER_KEYS = ("listLength", "activationListLength")
_MODIFIER_KEYS = ("formula", "target", "activationTarget")
_RULE_KEYS = ("stabilizationWindowSeconds", "selectPolicy", "tolerance", "policies")
KEYS = (
    *_SPEC_INTS,
    *_TRIGGER_KEYS,
    *_MODIFIER_KEYS,
    "scalingModifiers",
    "behavior",
    *(f"{d}.{k}" for d in ("scaleUp", "scaleDown") for k in _RULE_KEYS),
)


def check_key(key: str) -> None:
    name, _, field = key.rpartition(".")
    if key in KEYS or (name and field in _TRIGGER_KEYS):
        return
    raise OverrideError(f"unknown setting {key!r} (known: {', '.join(KEYS)})")


def parse_assignment(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise OverrideError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _whole(value: str, key: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise OverrideError(f"{key} must be a whole number, got {value!r}") from None
    if number < 0:
        raise OverrideError(f"{key} must be >= 0, got {value!r}")
    return number


def _policies(value: str, key: str) -> list[dict[str, Any]]:
    out = []
    for part in value.split("+"):
        kind, _, rest = part.partition(":")
        amount, _, period = rest.partition(":")
        if kind not in ("Pods", "Percent") or not amount or not period:
            raise OverrideError(f"{key}: write policies as Pods:4:15+Percent:100:15, got {value!r}")
        out.append(
            {"type": kind, "value": _whole(amount, key), "periodSeconds": _whole(period, key)}
        )
    return out


def apply(doc: Doc, overrides: list[tuple[str, str]]) -> Doc:
    """A copy of the ScaledObject `doc` with the overrides applied, in order."""
    new = copy.deepcopy(doc)
    spec = new.setdefault("spec", {})
    for key, value in overrides:
        _apply_one(spec, key, value)
    return new


def _apply_one(spec: dict[str, Any], key: str, value: str) -> None:
    advanced: dict[str, Any] = spec.get("advanced") or {}
    if key in _MODIFIER_KEYS or key.startswith(("scaleUp.", "scaleDown.")):
        advanced = spec.setdefault("advanced", {})
    name, _, field = key.rpartition(".")  # NAME.listLength: NAME may itself hold dots
    direction, _, rule = key.partition(".")  # scaleUp.policies
    if key in _SPEC_INTS:
        spec[key] = _whole(value, key)
    elif field in _TRIGGER_KEYS:
        _check_number(value, key)
        triggers = [t for t in spec.get("triggers") or [] if not name or t.get("name") == name]
        if not triggers:
            raise OverrideError(f"{key}: no trigger named {name!r}")
        for t in triggers:
            t.setdefault("metadata", {})[field] = value
    elif key in _MODIFIER_KEYS:
        if key != "formula":
            _check_number(value, key)
        advanced.setdefault("scalingModifiers", {})[key] = value
    elif key in ("scalingModifiers", "behavior"):
        if value != "none":
            raise OverrideError(f"{key} accepts only 'none' (remove it)")
        if key == "scalingModifiers":
            advanced.pop("scalingModifiers", None)
        else:
            (advanced.get("horizontalPodAutoscalerConfig") or {}).pop("behavior", None)
    elif direction in ("scaleUp", "scaleDown") and rule in _RULE_KEYS:
        hpa = advanced.setdefault("horizontalPodAutoscalerConfig", {})
        rules = hpa.setdefault("behavior", {}).setdefault(direction, {})
        if rule == "policies":
            rules[rule] = _policies(value, key)
        elif rule == "selectPolicy":
            rules[rule] = value
        elif rule == "tolerance":
            rules[rule] = _check_number(value, key)
        else:
            rules[rule] = _whole(value, key)
    else:
        check_key(key)


def _check_number(value: str, key: str) -> str:
    try:
        float(value)
    except ValueError:
        raise OverrideError(f"{key} must be a number, got {value!r}") from None
    return value


def _diff(old: Any, new: Any) -> Any:
    """The strategic-merge patch taking `old` to `new`; None marks a deleted key."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: dict[str, Any] = {}
        for key in new:
            if key not in old:
                out[key] = new[key]
            elif old[key] != new[key]:
                out[key] = _diff(old[key], new[key])
        for key in old:
            if key not in new:
                out[key] = None
        return out
    # A list in a custom resource has no merge key: a patch replaces it whole.
    return new


def patch(old: Doc, new: Doc, *, source: str) -> str:
    """A kustomize strategic-merge patch (YAML) that turns ScaledObject `old` into `new`."""
    changes = _diff(old.get("spec") or {}, new.get("spec") or {})
    meta = old.get("metadata") or {}
    body: Doc = {
        "apiVersion": old.get("apiVersion", "keda.sh/v1alpha1"),
        "kind": "ScaledObject",
        "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
        "spec": changes,
    }
    header = (
        f"# Written by `spillway simulate sweep` from {source}.\n"
        "# Apply it from your kustomization.yaml:\n"
        "#   patches:\n"
        "#     - path: <this file>\n"
        "# A list (triggers, policies) has no merge key in a custom resource, so kustomize\n"
        "# replaces it whole: such lists are repeated here in full. null removes a field.\n"
    )
    return header + yaml.safe_dump(body, sort_keys=False)
