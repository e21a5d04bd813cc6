"""CLI errors are one line and a non-zero exit; --help works without Redis."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "functions.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("SPILLWAY_")}, **env},
    )


@pytest.mark.parametrize("command", ["api", "worker", "dev"])
def test_help(command: str) -> None:
    result = run(command, "--help")
    assert result.returncode == 0
    assert "usage: spillway" in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["bogus"], {}, "invalid choice: 'bogus'"),
        ([], {}, "required: command"),
        (["api", "--port", "x"], {}, "not a whole number"),
        (["dev", "--port", "99999"], {}, "must be a port number from 1 to 65535, not 99999"),
        (["api"], {"PORT": "nope"}, "invalid setting PORT"),
        (["worker"], {"SPILLWAY_QUEUES": "nowhere"}, "names queues no function uses"),
        (["worker"], {"SPILLWAY_FUNCTION_MODULES": "no_such_mod"}, "cannot import function module"),
        (["worker"], {"REDIS_URL": "http://x"}, "invalid setting REDIS_URL"),
        (["api"], {"SPILLWAY_QUEUE_ROUTES": "ghost=q"}, "unknown functions: ghost"),
        (["api"], {"SPILLWAY_FUNCTION_MODULES": "no_such_mod"}, "cannot import function module"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], env: dict[str, str], message: str
) -> None:
    result = run(*args, **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spillway: error:") and message in lines[0]
    assert "Traceback" not in result.stderr
