"""Read the ScaledObject and the Knative Service the engine models from real manifests.

A path is a YAML file with one or more documents (e.g. `kubectl kustomize . > all.yaml`) or a
kustomization directory, rendered with `kubectl kustomize`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from functions.scaling import spec as S
from functions.scaling.errors import ManifestError

Doc = dict[str, Any]
KEDA_GROUP = "keda.sh"
KNATIVE_GROUP = "serving.knative.dev"
REDIS_TYPES = ("redis", "redis-cluster", "redis-sentinel")  # one scaler code path


def load(path: str | Path) -> list[Doc]:
    p = Path(path)
    if p.is_dir():
        text = _kustomize(p)
    else:
        try:
            text = p.read_text()
        except OSError as exc:
            raise ManifestError(f"cannot read {p}: {exc.strerror or exc}") from None
    try:
        docs = [d for d in yaml.safe_load_all(text) if d]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not all(isinstance(d, dict) for d in docs):
        raise ManifestError(f"{p}: every YAML document must be a mapping")
    return docs


def _kustomize(directory: Path) -> str:
    kubectl = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if kubectl is None:
        raise ManifestError(
            f"{directory} is a directory: install kubectl to render it, or pass the output of "
            "`kubectl kustomize` as a file"
        )
    proc = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["failed"])[0]
        raise ManifestError(f"kubectl kustomize {directory}: {first}")
    return proc.stdout


def _group(doc: Doc) -> str:
    return str(doc.get("apiVersion", "")).partition("/")[0]


def find(docs: list[Doc], kind: str, group: str) -> list[Doc]:
    """Every document of this kind in this API group (any version)."""
    return [d for d in docs if d.get("kind") == kind and _group(d) == group]


def select(docs: list[Doc], kind: str, group: str, name: str | None, source: str) -> Doc:
    """The one document of this kind and group (named `name`, if given), else ManifestError."""
    found = find(docs, kind, group)
    names = [str(d.get("metadata", {}).get("name", "")) for d in found]
    if name is not None:
        found = [d for d, n in zip(found, names, strict=True) if n == name]
    if not found:
        which = f" named {name!r}" if name else ""
        raise ManifestError(f"no {kind}{which} ({group}) in {source}")
    if len(found) > 1:
        raise ManifestError(
            f"{len(found)} {kind}s in {source} ({', '.join(names)}): choose one with --name"
        )
    return found[0]


def _num(value: Any, what: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ManifestError(f"{what} must be a number, got {value!r}") from None


def _int(value: Any, what: str) -> int:
    number = _num(value, what)
    if number != int(number) or number < 0:
        raise ManifestError(f"{what} must be a whole number >= 0, got {value!r}")
    return int(number)


def _rules(raw: Any, default: S.Rules, where: str) -> S.Rules:
    # copyHPAScalingRules: each field set in the manifest replaces the default's.
    if raw is None:
        return default
    if not isinstance(raw, dict):
        raise ManifestError(f"{where} must be a mapping")
    window = raw.get("stabilizationWindowSeconds")
    select_policy = raw.get("selectPolicy", default.select)
    if select_policy not in S.SELECT_POLICIES:
        raise ManifestError(f"{where}.selectPolicy must be Max, Min or Disabled")
    policies = default.policies
    if raw.get("policies") is not None:
        policies = tuple(_policy(p, f"{where}.policies") for p in raw["policies"])
    tolerance = raw.get("tolerance")
    return S.Rules(
        window=default.window if window is None else _int(window, f"{where}.window"),
        policies=policies,
        select=select_policy,
        tolerance=None if tolerance is None else _num(tolerance, f"{where}.tolerance"),
    )


def _policy(raw: Any, where: str) -> S.Policy:
    if not isinstance(raw, dict) or raw.get("type") not in S.POLICY_TYPES:
        raise ManifestError(f"{where}: each policy needs type Pods or Percent")
    period = _int(raw.get("periodSeconds"), f"{where}.periodSeconds")
    if period < 1:
        raise ManifestError(f"{where}.periodSeconds must be at least 1")
    return S.Policy(raw["type"], _int(raw.get("value"), f"{where}.value"), period)


def _trigger(raw: Any, i: int) -> S.Trigger:
    where = f"spec.triggers[{i}]"
    if not isinstance(raw, dict) or raw.get("type") not in REDIS_TYPES:
        got = raw.get("type") if isinstance(raw, dict) else raw
        raise ManifestError(f"{where}: only redis triggers are modelled, got {got!r}")
    meta = raw.get("metadata") or {}
    if not meta.get("listName"):
        raise ManifestError(f"{where}.metadata.listName is required")
    metric_type = raw.get("metricType", "AverageValue")
    if metric_type not in S.METRIC_TYPES:
        raise ManifestError(f"{where}.metricType must be AverageValue or Value")
    target = _num(meta.get("listLength", S.DEFAULT_LIST_LENGTH), f"{where} listLength")
    if target <= 0:
        raise ManifestError(f"{where} listLength must be > 0")
    return S.Trigger(
        key=str(meta["listName"]),
        target=target,
        activation=_num(meta.get("activationListLength", 0), f"{where} activationListLength"),
        name=str(raw.get("name") or ""),
        metric_type=metric_type,
        use_cached=bool(raw.get("useCachedMetrics", False)),
    )


def scaled_object_spec(doc: Doc) -> S.ScaledObjectSpec:
    spec = doc.get("spec") or {}
    triggers = tuple(_trigger(t, i) for i, t in enumerate(spec.get("triggers") or []))
    if not triggers:
        raise ManifestError("the ScaledObject has no triggers")
    advanced = spec.get("advanced") or {}
    modifiers = None
    if (mods := advanced.get("scalingModifiers")) and mods.get("formula"):
        metric_type = mods.get("metricType", "AverageValue")
        if metric_type not in S.METRIC_TYPES or "target" not in mods:
            raise ManifestError("scalingModifiers needs a target and metricType AverageValue|Value")
        modifiers = S.Modifiers(
            formula=str(mods["formula"]),
            target=_num(mods["target"], "scalingModifiers.target"),
            activation_target=_num(mods.get("activationTarget", 0), "activationTarget"),
            metric_type=metric_type,
        )
        if modifiers.target <= 0:
            raise ManifestError("scalingModifiers.target must be > 0")
    behavior = None
    raw_behavior = (advanced.get("horizontalPodAutoscalerConfig") or {}).get("behavior")
    if raw_behavior is not None:
        behavior = S.Behavior(
            up=_rules(raw_behavior.get("scaleUp"), S.DEFAULT_SCALE_UP, "behavior.scaleUp"),
            down=_rules(raw_behavior.get("scaleDown"), S.DEFAULT_SCALE_DOWN, "behavior.scaleDown"),
        )
    idle = spec.get("idleReplicaCount")
    result = S.ScaledObjectSpec(
        triggers=triggers,
        name=str((doc.get("metadata") or {}).get("name", "scaledobject")),
        polling_interval=_num(spec.get("pollingInterval", S.DEFAULT_POLLING_INTERVAL), "poll"),
        cooldown=_num(spec.get("cooldownPeriod", S.DEFAULT_COOLDOWN), "cooldownPeriod"),
        initial_cooldown=_num(spec.get("initialCooldownPeriod", 0), "initialCooldownPeriod"),
        min_replicas=_int(spec.get("minReplicaCount", 0), "minReplicaCount"),
        max_replicas=_int(spec.get("maxReplicaCount", S.DEFAULT_MAX_REPLICAS), "maxReplicaCount"),
        idle_replicas=None if idle is None else _int(idle, "idleReplicaCount"),
        modifiers=modifiers,
        behavior=behavior,
    )
    if result.polling_interval <= 0:
        raise ManifestError("pollingInterval must be > 0")
    if result.max_replicas < result.hpa_min:
        raise ManifestError("maxReplicaCount must be >= minReplicaCount (and >= 1)")
    return result


_ANNOTATION = "autoscaling.knative.dev/"
# Legacy camelCase spellings Knative still accepts (pkg/apis/autoscaling/register.go).
_ALIASES = {
    "minScale": "min-scale",
    "maxScale": "max-scale",
    "initialScale": "initial-scale",
    "scaleDownDelay": "scale-down-delay",
    "targetUtilizationPercentage": "target-utilization-percentage",
    "panicWindowPercentage": "panic-window-percentage",
    "panicThresholdPercentage": "panic-threshold-percentage",
    "targetBurstCapacity": "target-burst-capacity",
    "scaleToZeroPodRetentionPeriod": "scale-to-zero-pod-retention-period",
}


def _duration(value: str, what: str) -> float:
    text = str(value).strip()
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0}
    try:
        if text and text[-1] in scale:
            return float(text[:-1]) * scale[text[-1]]
        return float(text)
    except ValueError:
        raise ManifestError(f"{what} must be a duration like 60s, got {value!r}") from None


def knative_spec(doc: Doc) -> S.KnativeSpec:
    """The revision template's autoscaling annotations over the cluster defaults."""
    base = S.KnativeSpec()
    template = (doc.get("spec") or {}).get("template") or {}
    ann = {
        _ALIASES.get(k.removeprefix(_ANNOTATION), k.removeprefix(_ANNOTATION)): str(v)
        for k, v in ((template.get("metadata") or {}).get("annotations") or {}).items()
        if k.startswith(_ANNOTATION)
    }
    if ann.get("class", "kpa.autoscaling.knative.dev") != "kpa.autoscaling.knative.dev":
        raise ManifestError("only the KPA class is modelled (scale to zero needs it)")
    if ann.get("metric", "concurrency") != "concurrency":
        raise ManifestError("only the concurrency metric is modelled")
    pod = template.get("spec") or {}
    cc = _int(pod.get("containerConcurrency", 0), "containerConcurrency")
    timeout = pod.get("responseStartTimeoutSeconds") or pod.get("timeoutSeconds")
    total = float(cc) if cc > 0 else base.total_target
    if "target" in ann:
        total = _num(ann["target"], "target")
        total = min(total, cc) if cc > 0 else total
    get = ann.get
    return S.KnativeSpec(
        name=str((doc.get("metadata") or {}).get("name", "knative-service")),
        total_target=total,
        utilization=_num(get("target-utilization-percentage", base.utilization * 100), "tu") / 100,
        container_concurrency=cc,
        stable_window=_duration(get("window", f"{base.stable_window}s"), "window"),
        panic_window_percentage=_num(
            get("panic-window-percentage", base.panic_window_percentage), "panic-window"
        ),
        panic_threshold_percentage=_num(
            get("panic-threshold-percentage", base.panic_threshold_percentage), "panic-threshold"
        ),
        min_scale=_int(get("min-scale", base.min_scale), "min-scale"),
        max_scale=_int(get("max-scale", base.max_scale), "max-scale"),
        initial_scale=_int(get("initial-scale", base.initial_scale), "initial-scale"),
        activation_scale=_int(get("activation-scale", base.activation_scale), "activation-scale"),
        scale_down_delay=_duration(get("scale-down-delay", "0s"), "scale-down-delay"),
        retention=_duration(get("scale-to-zero-pod-retention-period", "0s"), "retention"),
        target_burst_capacity=_num(
            get("target-burst-capacity", base.target_burst_capacity), "target-burst-capacity"
        ),
        response_timeout=base.response_timeout if not timeout else _num(timeout, "timeout"),
        **_probes(pod),
    )


def _probes(pod: Doc) -> dict[str, Any]:
    """The serving container's probes as far as cold starts depend on them (knative.ready_after)."""
    containers = pod.get("containers") or [{}]
    serving = next((c for c in containers if c.get("ports")), containers[0])
    startup = serving.get("startupProbe")
    readiness = serving.get("readinessProbe") or {}
    found: dict[str, Any] = {"exec_readiness": "exec" in readiness}
    if startup is not None:
        found["startup_probe_period"] = _num(startup.get("periodSeconds", 10), "periodSeconds")
        found["startup_probe_delay"] = _num(startup.get("initialDelaySeconds", 0), "delay")
    return found
