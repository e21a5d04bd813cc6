"""What can be checked about the image without a container engine.

The entrypoint the Dockerfile names, with the arguments the manifests give it, starts; every file
the build copies exists and survives .dockerignore; the stages have the promised shape.
"""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.manifests import manifest_utils as mu

DOCKERFILE = mu.REPO / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def _entrypoint() -> list[str]:
    final = _stages()[-1]
    value = [rest for keyword, rest in final if keyword == "ENTRYPOINT"][-1]
    parsed = json.loads(value)  # exec form: a JSON array, so the process is PID 1
    assert isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)
    return parsed


def test_multi_stage_slim_runtime() -> None:
    stages = _stages()
    assert len(stages) >= 3, "uv, build and runtime stages"
    for stage in stages:
        image = stage[0][1].split()[0]
        tag = image.rsplit("/", 1)[-1]
        assert ":" in tag and not tag.endswith(":latest"), f"{image} is not pinned"
    final = stages[-1]
    runtime_copies = [rest for keyword, rest in final if keyword == "COPY"]
    assert all("--from=build" in rest for rest in runtime_copies), "only the built venv"
    assert not any("uv" in rest.split() for keyword, rest in final if keyword == "RUN")
    build = "\n".join(rest for stage in stages[:-1] for _, rest in stage)
    assert "UV_COMPILE_BYTECODE=1" in build, "bytecode compiled at build time"
    assert "--locked" in build and "--no-dev" in build
    users = [rest for keyword, rest in final if keyword == "USER"]
    assert users and re.fullmatch(r"[1-9]\d{4,}:[1-9]\d{4,}", users[-1]), "fixed uid:gid > 10000"


def test_copied_files_exist_and_are_not_dockerignored() -> None:
    patterns = [
        line.strip()
        for line in (mu.REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        result = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern.lstrip("!").rstrip("/")
            if fnmatch.fnmatch(path, body) or path.startswith(body + "/"):
                result = not negate
        return result

    sources: list[str] = []
    for keyword, rest in _instructions():
        if keyword == "COPY" and "--from=" not in rest:
            sources += [s for s in rest.split()[:-1] if not s.startswith("--")]
        if keyword == "RUN":
            sources += re.findall(r"--mount=type=bind,source=([^,\s]+)", rest)
    assert sources
    for source in sources:
        assert (mu.REPO / source).exists(), f"COPY {source}: no such file"
        assert not ignored(source), f"COPY {source}: excluded by .dockerignore"
    assert ignored(".venv") and ignored("tests") and ignored(".git"), "context kept small"


def _spillway_commands(all_docs: list[tuple[str, mu.Doc]]) -> set[tuple[str, ...]]:
    docs = [doc for _, doc in all_docs]
    commands = set()
    for _, container in mu.spillway_containers(docs):
        assert "command" not in container, "the image's ENTRYPOINT is the one command"
        commands.add(tuple(container.get("args", [])))
    return commands


def test_entrypoints_in_image_and_manifests_start(all_docs: list[tuple[str, mu.Doc]]) -> None:
    entrypoint = _entrypoint()
    commands = _spillway_commands(all_docs)
    assert {("api",), ("worker",)} <= commands  # from the manifests alone
    default = [rest for keyword, rest in _stages()[-1] if keyword == "CMD"]
    if default:
        commands.add(tuple(json.loads(default[-1])))
    executable = Path(sys.executable).with_name(entrypoint[0])
    if not executable.exists():
        pytest.skip(f"{entrypoint[0]} is not installed in this environment (uv sync)")
    for args in sorted(commands):
        proc = subprocess.run(
            [str(executable), *entrypoint[1:], *args, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, f"{entrypoint} {args}: {proc.stderr}"
        assert f"usage: spillway {args[0]}" in proc.stdout
