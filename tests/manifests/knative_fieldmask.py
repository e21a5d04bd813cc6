"""Knative Serving's webhook field masks at knative-v1.15.0, the oldest version the docs claim.

Knative accepts only part of a PodSpec in a revision template. pkg/apis/serving/fieldmask.go
copies the allowed fields of each Kubernetes type (VolumeMask, PodSpecMask, ContainerMask,
ProbeMask, SecurityContextMask, ...) and apis.CheckDisallowedFields rejects anything left over
("must not set the field(s)"). The tables below are those functions at knative-v1.15.0, with
the feature flags at their defaults (pkg/apis/config/features.go defaultFeaturesConfig: every
kubernetes.podspec-* flag Disabled except podspec-volumes-emptydir, which is Enabled).

Between versions: SecurityContextMask lets `privileged: false` through only from
knative-v1.17.0 (PR #15643); at knative-v1.15.0 and v1.16.0 any `privileged` is rejected.
"""

from __future__ import annotations

from typing import Any

# JSON field names allowed per type; a type missing here is not descended into.
MASKS: dict[str, frozenset[str]] = {
    # RevisionSpec: the embedded PodSpec (masked below) plus Knative's own fields.
    "RevisionSpec": frozenset(
        {
            "containerConcurrency",
            "timeoutSeconds",
            "responseStartTimeoutSeconds",
            "idleTimeoutSeconds",
        }
    ),  # fmt: skip
    # PodSpecMask: automountServiceAccountToken only when false (checked separately).
    "PodSpec": frozenset(
        {
            "serviceAccountName",
            "containers",
            "volumes",
            "imagePullSecrets",
            "enableServiceLinks",
            "automountServiceAccountToken",
        }
    ),  # fmt: skip
    "Container": frozenset(
        {
            "name",
            "args",
            "command",
            "env",
            "workingDir",
            "envFrom",
            "image",
            "imagePullPolicy",
            "livenessProbe",
            "ports",
            "readinessProbe",
            "resources",
            "securityContext",
            "startupProbe",
            "terminationMessagePath",
            "terminationMessagePolicy",
            "volumeMounts",
        }
    ),  # fmt: skip
    "VolumeMount": frozenset({"name", "readOnly", "mountPath", "subPath"}),
    # ProbeMask + HandlerMask (ProbeHandler is inlined in the JSON).
    "Probe": frozenset(
        {
            "exec",
            "httpGet",
            "tcpSocket",
            "grpc",
            "initialDelaySeconds",
            "timeoutSeconds",
            "periodSeconds",
            "successThreshold",
            "failureThreshold",
        }
    ),  # fmt: skip
    "HTTPGetAction": frozenset({"host", "path", "scheme", "httpHeaders", "port"}),
    "TCPSocketAction": frozenset({"host", "port"}),
    "ExecAction": frozenset({"command"}),
    "GRPCAction": frozenset({"port", "service"}),
    "ContainerPort": frozenset({"containerPort", "name", "protocol"}),
    "EnvVar": frozenset({"name", "value", "valueFrom"}),
    # EnvVarSourceMask: fieldRef/resourceFieldRef only with kubernetes.podspec-fieldref.
    "EnvVarSource": frozenset({"configMapKeyRef", "secretKeyRef"}),
    "KeySelector": frozenset({"key", "optional", "name"}),
    "EnvFromSource": frozenset({"prefix", "configMapRef", "secretRef"}),
    "EnvSource": frozenset({"optional", "name"}),
    "ResourceRequirements": frozenset({"limits", "requests"}),
    # SecurityContextMask: no privileged, seLinuxOptions, procMount.
    "SecurityContext": frozenset(
        {
            "capabilities",
            "readOnlyRootFilesystem",
            "runAsUser",
            "runAsGroup",
            "runAsNonRoot",
            "allowPrivilegeEscalation",
            "seccompProfile",
        }
    ),  # fmt: skip
    # CapabilitiesMask: add only with kubernetes.containerspec-addcapabilities.
    "Capabilities": frozenset({"drop"}),
    # VolumeMask + VolumeSourceMask: emptyDir by the default-enabled flag, no PVC.
    "Volume": frozenset({"name", "secret", "configMap", "projected", "emptyDir"}),
}

_CHILDREN: dict[str, dict[str, str]] = {
    "PodSpec": {"containers": "Container[]", "volumes": "Volume[]"},
    "Container": {
        "ports": "ContainerPort[]",
        "env": "EnvVar[]",
        "envFrom": "EnvFromSource[]",
        "livenessProbe": "Probe",
        "readinessProbe": "Probe",
        "startupProbe": "Probe",
        "resources": "ResourceRequirements",
        "securityContext": "SecurityContext",
        "volumeMounts": "VolumeMount[]",
    },  # fmt: skip
    "Probe": {
        "httpGet": "HTTPGetAction",
        "tcpSocket": "TCPSocketAction",
        "exec": "ExecAction",
        "grpc": "GRPCAction",
    },  # fmt: skip
    "EnvVar": {"valueFrom": "EnvVarSource"},
    "EnvVarSource": {"configMapKeyRef": "KeySelector", "secretKeyRef": "KeySelector"},
    "EnvFromSource": {"configMapRef": "EnvSource", "secretRef": "EnvSource"},
    "SecurityContext": {"capabilities": "Capabilities"},
}


def _check(value: Any, kind: str, where: str, errors: list[str]) -> None:
    if kind.endswith("[]"):
        for i, item in enumerate(value or []):
            _check(item, kind[:-2], f"{where}[{i}]", errors)
        return
    if not isinstance(value, dict):
        return
    allowed = MASKS[kind]
    for key in sorted(set(value) - allowed):
        errors.append(f"{where}.{key}: must not set the field(s) (fieldmask.go {kind}Mask)")
    for key, child in _CHILDREN.get(kind, {}).items():
        if key in value:
            _check(value[key], child, f"{where}.{key}", errors)


def revision_spec_errors(spec: dict[str, Any], where: str = "spec.template.spec") -> list[str]:
    """Fields of a revision template's spec that the knative-v1.15.0 webhook rejects."""
    errors: list[str] = []
    allowed = MASKS["RevisionSpec"] | MASKS["PodSpec"]
    for key in sorted(set(spec) - allowed):
        errors.append(f"{where}.{key}: must not set the field(s) (fieldmask.go PodSpecMask)")
    if spec.get("automountServiceAccountToken") is True:
        errors.append(f"{where}.automountServiceAccountToken: only false is allowed")
    for key, child in _CHILDREN["PodSpec"].items():
        if key in spec:
            _check(spec[key], child, f"{where}.{key}", errors)
    return errors


# The version the tables follow, which docs/deploy.md and knative/kustomization.yaml must claim.
MIN_VERSION = "1.15"
