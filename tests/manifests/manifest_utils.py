"""Helpers shared by the manifest tests: rendering, walking pod templates, resolving env."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import yaml

from functions.scaling.manifests import KEDA_GROUP as KEDA_GROUP
from functions.scaling.manifests import KNATIVE_GROUP as KNATIVE_GROUP
from functions.settings import Settings

Doc = dict[str, Any]
MONITORING_GROUP = "monitoring.coreos.com"  # the Prometheus Operator's CRDs

REPO = Path(__file__).resolve().parents[2]
# Every deployment a user applies with `kubectl apply -k .`, by the components enabled in the root
# kustomization.yaml: the default system, with the second worker pool, with the dashboard.
KUSTOMIZATIONS: dict[str, tuple[str, ...]] = {
    "root": (),
    "second-pool": ("keda/second-pool",),
    "monitoring": ("platform/monitoring",),
}
IMAGE_NAME = "spillway"
# platform/cluster.yaml: the cluster facts the root kustomization copies into other objects.
CLUSTER: dict[str, str] = yaml.safe_load((REPO / "platform" / "cluster.yaml").read_text())["data"]
# The kinds whose pod templates the restricted checks and the network policy consider.
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}


def find_kubectl() -> str | None:
    return os.environ.get("KUBECTL") or shutil.which("kubectl")


def render(kubectl: str, path: Path) -> list[Doc]:
    proc = subprocess.run(
        [kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=120
    )
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def enable_components(kustomization: str, components: tuple[str, ...]) -> str:
    """The root kustomization.yaml with `components:` and the given entries uncommented.

    Exactly the edit docs/deploy.md asks of an operator, so the shipped comment stays usable.
    """
    assert "# components:\n" in kustomization, "root kustomization.yaml: no `# components:`"
    text = kustomization.replace("# components:\n", "components:\n")
    for component in components:
        line = f"#   - {component}\n"
        assert line in text, f"root kustomization.yaml has no commented {line!r}"
        text = text.replace(line, f"  - {component}\n")
    return text


def write_credentials(platform: Path, action: str = "create", *options: str) -> None:
    """scripts/redis-secret, as docs/deploy.md asks of an operator, into a copy's platform/."""
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "redis-secret"), action,
         "--dir", str(platform / "secrets"), *options],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def copy_root(work: Path, kustomization: str | None = None) -> None:
    """The root kustomization and the directories it uses, without any local credentials."""
    text = kustomization or (REPO / "kustomization.yaml").read_text()
    listed = yaml.safe_load(text)
    (work / "kustomization.yaml").write_text(text)
    entries = listed["resources"] + listed.get("components", [])
    for entry in {Path(p).parts[0] for p in entries}:
        shutil.copytree(REPO / entry, work / entry, ignore=shutil.ignore_patterns("secrets"))


def render_root(
    kubectl: str, components: tuple[str, ...] = (), credentials: Path | None = None
) -> list[Doc]:
    """`kubectl kustomize .` as an operator runs it, with the given components enabled.

    Rendered from a copy: the Redis Secret is generated from files an operator creates with
    scripts/redis-secret (never committed), here fresh ones unless `credentials` (a directory
    the script wrote) is given, and kustomize refuses an overlay inside the directory it builds
    on (a cycle).
    """
    text = (REPO / "kustomization.yaml").read_text()
    if components:
        text = enable_components(text, components)
    with tempfile.TemporaryDirectory(prefix="spillway-kustomize-") as tmp:
        work = Path(tmp)
        copy_root(work, text)
        if credentials is None:
            write_credentials(work / "platform")
        else:
            shutil.copytree(credentials, work / "platform" / "secrets")
        return render(kubectl, work)


def group(doc: Doc) -> str:
    api_version: str = doc["apiVersion"]
    return api_version.split("/")[0] if "/" in api_version else ""


def name(doc: Doc) -> str:
    return str(doc["metadata"]["name"])


def ident(doc: Doc) -> str:
    return f"{doc['kind']}/{name(doc)}"


def of_kind(docs: list[Doc], kind: str, api_group: str | None = None) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind and (api_group is None or group(d) == api_group)]


def find(docs: list[Doc], kind: str, obj_name: str, api_group: str | None = None) -> Doc:
    for doc in of_kind(docs, kind, api_group):
        if name(doc) == obj_name:
            return doc
    raise AssertionError(f"no {kind}/{obj_name} in the rendered manifests")


@dataclass
class PodTemplate:
    owner: Doc
    spec: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def ident(self) -> str:
        return ident(self.owner)


def pod_templates(docs: list[Doc]) -> Iterator[PodTemplate]:
    """Every pod template, including those inside CRDs that checkov does not look into."""
    for doc in docs:
        kind, grp = doc["kind"], group(doc)
        template: dict[str, Any] | None = None
        if kind in WORKLOAD_KINDS:
            template = doc["spec"]["template"]
        elif kind == "CronJob":
            template = doc["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Service" and grp == KNATIVE_GROUP:
            template = doc["spec"]["template"]
        elif kind == "ScaledJob" and grp == KEDA_GROUP:
            template = doc["spec"]["jobTargetRef"]["template"]
        elif kind == "Pod":
            template = doc
        if template is not None:
            yield PodTemplate(doc, template["spec"], template.get("metadata", {}))


def is_spillway_image(image: str) -> bool:
    repository = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
    return repository == IMAGE_NAME


def spillway_containers(docs: list[Doc]) -> Iterator[tuple[PodTemplate, dict[str, Any]]]:
    for template in pod_templates(docs):
        for container in template.spec.get("containers", []):
            if is_spillway_image(container["image"]):
                yield template, container


_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")
SECRET_PLACEHOLDER = "secret-value"


def container_env(container: dict[str, Any], docs: list[Doc]) -> dict[str, str]:
    """The container's environment as the kubelet builds it (secrets become a placeholder)."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        if ref:
            data = find(docs, "ConfigMap", ref["name"]).get("data", {})
            env.update({source.get("prefix", "") + k: str(v) for k, v in data.items()})
        assert "secretRef" not in source, "whole Secrets as env would hide which keys are set"
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = _REF.sub(lambda m: env.get(m.group(1), m.group(0)), var["value"])
        elif "secretKeyRef" in var.get("valueFrom", {}):
            env[var["name"]] = SECRET_PLACEHOLDER
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            env[var["name"]] = str(find(docs, "ConfigMap", ref["name"])["data"][ref["key"]])
        else:
            env[var["name"]] = ""
    return env


def expansion_sources(container: dict[str, Any]) -> set[str]:
    """Variables that other env values consume through $(VAR) expansion."""
    used: set[str] = set()
    for var in container.get("env", []):
        used.update(_REF.findall(var.get("value", "")))
    return used


def known_env_names() -> set[str]:
    """Every environment variable functions/settings.py reads."""
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        names.add(f"SPILLWAY_{field_name}")
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            names.update(str(choice) for choice in choices)
    return names


def settings_from_env(env: dict[str, str]) -> Settings:
    with mock.patch.dict(os.environ, env, clear=True):
        return Settings()


def is_worker(container: dict[str, Any]) -> bool:
    return list(container.get("args", []))[:1] == ["worker"]


def is_api(container: dict[str, Any]) -> bool:
    return list(container.get("args", []))[:1] == ["api"]


def scaled_object_for(docs: list[Doc], deployment: str) -> Doc:
    for so in of_kind(docs, "ScaledObject", KEDA_GROUP):
        ref = so["spec"]["scaleTargetRef"]
        if ref["name"] == deployment and ref.get("kind", "Deployment") == "Deployment":
            return so
    raise AssertionError(f"no ScaledObject targets Deployment/{deployment}")


@dataclass(frozen=True)
class RedisTarget:
    host: str
    port: int
    db: int


def redis_url_target(url: str) -> RedisTarget:
    parts = urlsplit(url)
    db = int(parts.path.lstrip("/") or 0)
    return RedisTarget(parts.hostname or "", parts.port or 6379, db)


# Objects placed outside the application's namespace on purpose (platform/monitoring/).
ELSEWHERE = {"spillway-grafana-dashboard"}


def namespace_of(docs: list[Doc]) -> str:
    """The one namespace of the application's objects."""
    namespaces = {
        d["metadata"].get("namespace")
        for d in docs
        if d["kind"] != "Namespace" and name(d) not in ELSEWHERE
    }
    assert len(namespaces) == 1, f"objects spread over namespaces {namespaces}"
    value = namespaces.pop()
    assert value, "objects without a namespace"
    return str(value)
