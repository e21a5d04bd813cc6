"""scripts/spillway runs the checkout's `spillway` from any directory (README, "Quick start")."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support.processes import ROOT


def _wrapper(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ROOT / "scripts" / "spillway", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_runs_from_another_directory(tmp_path: Path) -> None:
    result = _wrapper(tmp_path, "simulate", "run", "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: spillway simulate run")


def test_passes_the_exit_status_through(tmp_path: Path) -> None:
    result = _wrapper(tmp_path, "dev", "--port", "99999")
    assert result.returncode == 2
    assert result.stderr.startswith("spillway: error: argument --port: must be a port number")
