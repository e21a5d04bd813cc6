"""Kubernetes' semantic rules for a pod spec: what the API server and the kubelet enforce beyond
the OpenAPI schema (which kubernetes-validate checks).

The API server first applies defaults, then validates. Sources (kubernetes/kubernetes at
000f26050b9b, read through the search tool's stored copy; the rules below have not changed since
1.29, the oldest Kubernetes the manifests claim):

- pkg/apis/core/v1/defaults.go, SetDefaults_Probe (timeoutSeconds 1, periodSeconds 10,
  successThreshold 1, failureThreshold 3), SetDefaults_HTTPGetAction (path "/", scheme HTTP),
  SetDefaults_ContainerPort (protocol TCP).
- pkg/apis/core/validation/validation.go:
  validateContainers (names unique, probes per kind), validateContainerCommon (DNS-1123 name),
  validateContainerPorts (port names valid and unique within a container, containerPort in
  1..65535), validateHandler (exactly one handler), validateHTTPGetAction (path required),
  ValidatePortNumOrName (a number in 1..65535 or a valid port name), validateProbe (non-negative
  timings), validateLivenessProbe / validateStartupProbe (successThreshold must be 1),
  ValidateVolumeMounts (the volume exists, mountPath unique).
- pkg/probe/util.go, ResolveContainerPort / findPortByName: the kubelet resolves a named probe
  port among the *same* container's ports; a name that is not there fails every probe ("port
  ... not found"), so the container is never started (startup) or restarted forever (liveness).
- One network namespace per pod: two containers that declare the same containerPort cannot both
  bind it (Knative keeps queue-proxy's ports out of users' reach for this reason:
  knative/serving pkg/apis/serving/k8s_validation.go, reservedPorts).
"""

from __future__ import annotations

import copy
import re
from typing import Any

PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# validation.IsValidPortName: at most 15 characters, lowercase letters, digits and '-', at least
# one letter, no leading, trailing or adjacent '-'.
_PORT_NAME = re.compile(r"^[a-z0-9]([a-z0-9]|-(?!-))*$")


def is_valid_port_name(name: str) -> bool:
    return (
        0 < len(name) <= 15
        and bool(_PORT_NAME.match(name))
        and not name.endswith("-")
        and any(c.isalpha() for c in name)
    )


def _default_probe(probe: dict[str, Any]) -> None:
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        if not probe.get(key):
            probe[key] = value
    http = probe.get("httpGet")
    if http is not None:
        if not http.get("path"):
            http["path"] = "/"
        http.setdefault("scheme", "HTTP")


def with_defaults(pod_spec: dict[str, Any]) -> dict[str, Any]:
    """The pod spec as the API server stores it (the defaults the rules below depend on)."""
    spec = copy.deepcopy(pod_spec)
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        for port in container.get("ports", []):
            port.setdefault("protocol", "TCP")
        for kind in PROBES:
            if container.get(kind) is not None:
                _default_probe(container[kind])
    return spec


def _port_errors(value: Any, where: str) -> list[str]:
    """ValidatePortNumOrName."""
    if isinstance(value, bool) or value is None:
        return [f"{where}: must be a port number or name, got {value!r}"]
    if isinstance(value, int):
        if not 1 <= value <= 65535:
            return [f"{where}: {value} must be between 1 and 65535, inclusive"]
        return []
    if not is_valid_port_name(str(value)):
        return [f"{where}: {value!r} is not a valid port name"]
    return []


def _resolve_named(value: Any, container: dict[str, Any], where: str) -> list[str]:
    """The kubelet's ResolveContainerPort: names are looked up in this container only."""
    if isinstance(value, str) and not value.isdigit():
        names = {p.get("name") for p in container.get("ports", [])}
        if value not in names:
            return [f"{where}: port {value!r} not found in container {container['name']!r}"]
    return []


def _handler_errors(handler: dict[str, Any], container: dict[str, Any], where: str) -> list[str]:
    kinds = [k for k in (*HANDLERS, "sleep") if handler.get(k) is not None]
    if len(kinds) != 1:
        return [f"{where}: must specify exactly one handler type, got {kinds or 'none'}"]
    kind = kinds[0]
    action = handler[kind]
    errors: list[str] = []
    if kind == "httpGet":
        if not action.get("path"):
            errors.append(f"{where}.httpGet.path: required")
        port = action.get("port", 0)
        errors += _port_errors(port, f"{where}.httpGet.port")
        errors += _resolve_named(port, container, f"{where}.httpGet.port")
    elif kind == "tcpSocket":
        port = action.get("port", 0)
        errors += _port_errors(port, f"{where}.tcpSocket.port")
        errors += _resolve_named(port, container, f"{where}.tcpSocket.port")
    elif kind == "grpc":
        errors += _port_errors(action.get("port", 0), f"{where}.grpc.port")
    elif kind == "exec" and not action.get("command"):
        errors.append(f"{where}.exec.command: required")
    return errors


def _probe_errors(
    kind: str, probe: dict[str, Any], container: dict[str, Any], where: str
) -> list[str]:
    errors = _handler_errors(probe, container, where)
    for key in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds", "successThreshold",
                "failureThreshold"):  # fmt: skip
        if probe.get(key, 0) < 0:
            errors.append(f"{where}.{key}: must be greater than or equal to 0")
    if kind in ("livenessProbe", "startupProbe") and probe.get("successThreshold") != 1:
        errors.append(f"{where}.successThreshold: must be 1")
    return errors


def pod_spec_errors(
    pod_spec: dict[str, Any], where: str = "spec", claims: frozenset[str] = frozenset()
) -> list[str]:
    """Every rule above that the pod spec breaks, after the API server's defaulting.

    `claims`: a StatefulSet's volumeClaimTemplates, which add volumes of those names to its pods.
    """
    spec = with_defaults(pod_spec)
    errors: list[str] = []
    volumes = {v["name"] for v in spec.get("volumes", [])} | claims
    containers = spec.get("containers", [])
    if not containers:
        errors.append(f"{where}.containers: required")
    names: set[str] = set()
    bound: dict[int, str] = {}
    for i, container in enumerate(containers):
        at = f"{where}.containers[{i}]"
        name = container.get("name", "")
        if not _DNS1123_LABEL.match(name) or len(name) > 63:
            errors.append(f"{at}.name: {name!r} is not a DNS-1123 label")
        if name in names:
            errors.append(f"{at}.name: duplicate {name!r}")
        names.add(name)
        port_names: set[str] = set()
        for j, port in enumerate(container.get("ports", [])):
            p_at = f"{at}.ports[{j}]"
            if "name" in port:
                if not is_valid_port_name(port["name"]):
                    errors.append(f"{p_at}.name: {port['name']!r} is not a valid port name")
                elif port["name"] in port_names:
                    errors.append(f"{p_at}.name: duplicate {port['name']!r}")
                port_names.add(port["name"])
            number = port.get("containerPort", 0)
            if not 1 <= number <= 65535:
                errors.append(f"{p_at}.containerPort: {number} must be between 1 and 65535")
            elif number in bound:
                errors.append(f"{p_at}.containerPort: {number} is also bound by {bound[number]}")
            else:
                bound[number] = name
        for kind in PROBES:
            if container.get(kind) is not None:
                errors += _probe_errors(kind, container[kind], container, f"{at}.{kind}")
        for hook, handler in (container.get("lifecycle") or {}).items():
            errors += _handler_errors(handler, container, f"{at}.lifecycle.{hook}")
        paths: set[str] = set()
        for j, mount in enumerate(container.get("volumeMounts", [])):
            if mount.get("name") not in volumes:
                errors.append(
                    f"{at}.volumeMounts[{j}].name: volume {mount.get('name')!r} not found"
                )
            if mount.get("mountPath") in paths:
                errors.append(f"{at}.volumeMounts[{j}].mountPath: must be unique")
            paths.add(mount.get("mountPath", ""))
    return errors
