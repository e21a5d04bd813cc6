"""FastAPI's native OpenTelemetry: off by default, on with SPILLWAY_OPENTELEMETRY=true."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.processes import ROOT

# FastAPI keeps the resolved configuration in `app._telemetry` (no public accessor in 0.165).
CODE = "import functions.api.main as m; t = m.app._telemetry; print(t['tracing'], t['metrics'])"


@pytest.mark.parametrize(("value", "expected"), [(None, "False False"), ("true", "True True")])
def test_opentelemetry_setting(value: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SPILLWAY_OPENTELEMETRY"}
    if value is not None:
        env["SPILLWAY_OPENTELEMETRY"] = value
    result = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, cwd=ROOT, env=env, check=True
    )
    assert result.stdout.strip() == expected
