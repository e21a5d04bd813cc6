"""scripts/bootstrap refuses what it cannot install in one line, before it changes .venv."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.processes import ROOT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--extra", "nope"], "no extra named 'nope' (pyproject.toml has: kube, locust, tools)"),
        (["--extra"], "--extra needs a name"),
        (["--kube"], "scripts/bootstrap takes only --extra NAME, not --kube"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = subprocess.run(
        [ROOT / "scripts" / "bootstrap", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.startswith("spillway: error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
