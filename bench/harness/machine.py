"""What a results file records about the machine and about the code that was measured."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path
from typing import Any

from bench.harness.processes import ROOT

PACKAGES = (
    "fastapi",
    "starlette",
    "uvicorn",
    "uvloop",
    "httptools",
    "pydantic",
    "pydantic-core",
    "pydantic-settings",
    "redis",
    "celery",
    "kombu",
    "billiard",
    "prometheus-client",
)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _run(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10, cwd=ROOT)
        return (out.stdout or out.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def code_state() -> dict[str, Any]:
    """Which code was measured: the commit, and a hash of functions/ as it is on disk (another
    engineer may be editing it, so the commit alone does not say)."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "functions").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    dirty = _run(["git", "status", "--porcelain", "--", "functions"])
    return {
        "commit": _run(["git", "rev-parse", "--short", "HEAD"]),
        "functions_sha256": digest.hexdigest()[:16],
        "functions_uncommitted_files": len(dirty.splitlines()) if dirty else 0,
    }


def machine() -> dict[str, Any]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "-"
    wrk = _run(["wrk", "--version"]).splitlines()
    redis_version = _run(["redis-server", "--version"])
    return {
        "host": socket.gethostname(),
        "cpu_model": _cpu_model(),
        "nproc": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "packages": versions,
        "redis_server": redis_version.split(" sha=")[0] if redis_version else "-",
        "wrk": wrk[0].split(" Copyright")[0] if wrk else "-",
        "code": code_state(),
    }
