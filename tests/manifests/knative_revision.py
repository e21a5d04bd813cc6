"""The Deployment Knative Serving's revision reconciler creates from a Service's template.

Followed step by step from knative/serving at knative-v1.15.0, the oldest version the docs
claim (the steps below are unchanged up to knative-v1.23.0 for a single-container revision):

1. Revision defaulting, pkg/apis/serving/v1/revision_defaults.go:
   RevisionSpec.SetDefaults (timeoutSeconds 300 when unset), applyDefault ->
   applyUserContainerDefaultReadinessProbe (a TCP readiness probe when there is none),
   applyReadinessProbeDefaults (successThreshold 1; failureThreshold 3 and timeoutSeconds 1 only
   when periodSeconds > 0), and every mount of a volume that is not an emptyDir or a PVC becomes
   readOnly.
2. pkg/reconciler/revision/resources/deploy.go:
   - makeServingContainer: the ports become exactly [{name: user-port, containerPort: P}]
     (buildContainerPorts, v1.UserPortName), PORT=P is appended to env (buildUserPortEnv);
   - makeContainer: lifecycle preStop GET :8022/wait-for-drain (userLifecycle), K_REVISION,
     K_CONFIGURATION, K_SERVICE env, stdin/tty off, terminationMessagePolicy
     FallbackToLogsOnError, and an httpGet/tcpSocket/grpc readiness probe is *removed* (the
     queue-proxy runs it);
   - rewriteUserLivenessProbe: the liveness probe's httpGet/tcpSocket port becomes P.
     Nothing touches the startup probe: it reaches the Deployment as written.
   - BuildPodSpec: terminationGracePeriodSeconds = timeoutSeconds; MakeDeployment: replicas =
     initial-scale, progressDeadlineSeconds from serving.knative.dev/progress-deadline (else the
     config-deployment default 600 s), maxUnavailable 0.
3. pkg/reconciler/revision/resources/queue.go, makeQueueContainer: the queue-proxy container
   with ports http-queueadm 8022, http-autometric 9090, http-usermetric 9091, queue-port 8012
   (8013 for h2c) and https-port 8112; its readinessProbe is a copy of the user's with the
   handler replaced by GET :8012 with header K-Network-Probe: queue (no path: the API server
   defaults it to "/"), and the user's probe, with host 127.0.0.1 and port P
   (applyReadinessProbeDefaults), travels as JSON in SERVING_READINESS_PROBE.
"""

from __future__ import annotations

import copy
import json
from typing import Any

USER_PORT_NAME = "user-port"  # pkg/apis/serving/v1/revision_helpers.go UserPortName
DEFAULT_USER_PORT = 8080  # v1.DefaultUserPort
QUEUE_CONTAINER = "queue-proxy"  # resources/constants.go QueueContainerName
QUEUE_ADMIN_PORT = 8022  # pkg/networking/constants.go QueueAdminPort
QUEUE_HTTP_PORT = 8012  # BackendHTTPPort
QUEUE_HTTP2_PORT = 8013  # BackendHTTP2Port
QUEUE_HTTPS_PORT = 8112  # BackendHTTPSPort (system-internal-tls)
AUTOSCALING_METRICS_PORT = 9090  # AutoscalingQueueMetricsPort
USER_METRICS_PORT = 9091  # UserQueueMetricsPort
DRAIN_PATH = "/wait-for-drain"  # pkg/queue/constants.go RequestQueueDrainPath
PROBE_HEADER = "K-Network-Probe"  # knative.dev/networking header.ProbeKey, value "queue"
DEFAULT_TIMEOUT_SECONDS = 300  # config-defaults revision-timeout-seconds
DEFAULT_PROGRESS_DEADLINE = 600  # config-deployment progress-deadline
_DEFAULTED_VOLUMES = ("emptyDir", "persistentVolumeClaim")


def _default_revision(spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(spec)
    spec.setdefault("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    writable = {v["name"] for v in spec.get("volumes", []) if set(v) & set(_DEFAULTED_VOLUMES)}
    single = len(spec["containers"]) == 1
    for container in spec["containers"]:
        if single or container.get("ports"):
            probe = container.setdefault("readinessProbe", {})
            if not any(probe.get(k) for k in ("tcpSocket", "httpGet", "exec", "grpc")):
                probe["tcpSocket"] = {}
        probe = container.get("readinessProbe")
        if probe is not None:
            probe.setdefault("successThreshold", 1)
            if probe.get("periodSeconds"):
                probe.setdefault("failureThreshold", 3)
                probe.setdefault("timeoutSeconds", 1)
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in writable:
                mount["readOnly"] = True
    return spec


def user_port(spec: dict[str, Any]) -> int:
    """getUserPort: the first container port declared, else 8080."""
    for container in spec["containers"]:
        for port in container.get("ports", []):
            if port.get("containerPort"):
                return int(port["containerPort"])
    return DEFAULT_USER_PORT


def _is_h2c(spec: dict[str, Any]) -> bool:
    ports = [p for c in spec["containers"] for p in c.get("ports", [])]
    return bool(ports) and ports[0].get("name") == "h2c"


def _serving_container(
    container: dict[str, Any], port: int, names: dict[str, str]
) -> dict[str, Any]:
    container["ports"] = [{"name": USER_PORT_NAME, "containerPort": port}]
    container["env"] = [*container.get("env", []), {"name": "PORT", "value": str(port)}]
    container = _make_container(container, names)
    liveness = container.get("livenessProbe")
    if liveness is not None:
        for handler in ("httpGet", "tcpSocket"):
            if liveness.get(handler) is not None:
                liveness[handler]["port"] = port
                break
    return container


def _make_container(container: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    container["lifecycle"] = {
        "preStop": {"httpGet": {"port": QUEUE_ADMIN_PORT, "path": DRAIN_PATH}}
    }
    container["env"] = [
        *container.get("env", []),
        {"name": "K_REVISION", "value": names["revision"]},
        {"name": "K_CONFIGURATION", "value": names["configuration"]},
        {"name": "K_SERVICE", "value": names["service"]},
    ]
    container["stdin"] = False
    container["tty"] = False
    container.setdefault("terminationMessagePolicy", "FallbackToLogsOnError")
    probe = container.get("readinessProbe")
    if probe is not None and any(
        probe.get(k) is not None for k in ("httpGet", "tcpSocket", "grpc")
    ):
        del container["readinessProbe"]
    return container


def _queue_readiness(user_probe: dict[str, Any], port: int) -> dict[str, Any]:
    """applyReadinessProbeDefaults(probe, port): what queue-proxy runs against the app."""
    probe = copy.deepcopy(user_probe)
    if probe.get("httpGet") is not None:
        probe["httpGet"].update(host="127.0.0.1", port=port)
        probe["httpGet"].setdefault("scheme", "HTTP")
    elif probe.get("tcpSocket") is not None:
        probe["tcpSocket"].update(host="127.0.0.1", port=port)
    elif probe.get("exec") is not None:
        del probe["exec"]
        probe["tcpSocket"] = {"host": "127.0.0.1", "port": port}
    elif probe.get("grpc") is not None:
        probe["grpc"]["port"] = port
    if probe.get("periodSeconds", 0) > 0 and probe.get("timeoutSeconds", 0) < 1:
        probe["timeoutSeconds"] = 1
    return probe


def _queue_container(spec: dict[str, Any], port: int) -> dict[str, Any]:
    serving = QUEUE_HTTP2_PORT if _is_h2c(spec) else QUEUE_HTTP_PORT
    user = (
        next(c for c in spec["containers"] if c.get("ports"))
        if len(spec["containers"]) > 1
        else spec["containers"][0]
    )
    container: dict[str, Any] = {
        "name": QUEUE_CONTAINER,
        "image": "gcr.io/knative-releases/knative.dev/serving/cmd/queue",
        "ports": [
            {"name": "http-queueadm", "containerPort": QUEUE_ADMIN_PORT},
            {"name": "http-autometric", "containerPort": AUTOSCALING_METRICS_PORT},
            {"name": "http-usermetric", "containerPort": USER_METRICS_PORT},
            {"name": "queue-port", "containerPort": serving},
            {"name": "https-port", "containerPort": QUEUE_HTTPS_PORT},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "env": [
            {"name": "USER_PORT", "value": str(port)},
            {"name": "QUEUE_SERVING_PORT", "value": str(serving)},
            {"name": "CONTAINER_CONCURRENCY", "value": str(spec.get("containerConcurrency", 0))},
            {"name": "REVISION_TIMEOUT_SECONDS", "value": str(spec.get("timeoutSeconds", 0))},
        ],
    }
    user_probe = user.get("readinessProbe")
    if user_probe is not None:
        probe_port = port
        for handler in ("httpGet", "tcpSocket"):
            value = (user_probe.get(handler) or {}).get("port")
            if isinstance(value, int) and value:
                probe_port = value
        readiness = copy.deepcopy(user_probe)
        for handler in ("httpGet", "tcpSocket", "exec", "grpc"):
            readiness.pop(handler, None)
        readiness["httpGet"] = {
            "port": serving,
            "httpHeaders": [{"name": PROBE_HEADER, "value": "queue"}],
        }
        container["readinessProbe"] = readiness
        encoded = json.dumps(_queue_readiness(user_probe, probe_port), sort_keys=True)
        container["env"].append({"name": "SERVING_READINESS_PROBE", "value": encoded})
    return container


def revision_deployment(service: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    """The Deployment of the Service's first revision, as the reconciler would create it."""
    name = service["metadata"]["name"]
    namespace = service["metadata"].get("namespace", "default")
    template = service["spec"]["template"]
    annotations = dict(template.get("metadata", {}).get("annotations", {}))
    revision = f"{name}-{generation:05d}"
    names = {"revision": revision, "configuration": name, "service": name}
    spec = _default_revision(template["spec"])
    port = user_port(spec)
    queue = _queue_container(spec, port)
    containers = []
    for container in copy.deepcopy(spec["containers"]):
        if container.get("ports") or len(spec["containers"]) == 1:
            containers.append(_serving_container(container, port, names))
        else:
            containers.append(_make_container(container, names))
    pod = {k: v for k, v in spec.items() if k not in ("containerConcurrency", "timeoutSeconds",
           "responseStartTimeoutSeconds", "idleTimeoutSeconds")}  # fmt: skip
    pod["containers"] = [*containers, queue]
    pod["terminationGracePeriodSeconds"] = spec["timeoutSeconds"]
    deadline = annotations.get("serving.knative.dev/progress-deadline")
    labels = {
        "serving.knative.dev/revision": revision,
        "serving.knative.dev/configuration": name,
        "serving.knative.dev/service": name,
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{revision}-deployment", "namespace": namespace, "labels": labels},
        "spec": {
            "replicas": int(annotations.get("autoscaling.knative.dev/initial-scale", "1")),
            "selector": {"matchLabels": {"serving.knative.dev/revision": revision}},
            "progressDeadlineSeconds": parse_seconds(deadline)
            if deadline
            else DEFAULT_PROGRESS_DEADLINE,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": {**template.get("metadata", {}).get("labels", {}), **labels},
                    "annotations": annotations,
                },
                "spec": pod,
            },
        },
    }


def parse_seconds(duration: str) -> int:
    """time.ParseDuration for the whole-second forms the annotations use (\"600s\", \"10m\")."""
    units = {"s": 1, "m": 60, "h": 3600}
    total, number = 0, ""
    for char in duration:
        if char.isdigit():
            number += char
        elif char in units and number:
            total += int(number) * units[char]
            number = ""
        else:
            raise ValueError(f"unsupported duration {duration!r}")
    if number:
        raise ValueError(f"duration {duration!r} has no unit")
    return total
