"""API keys in tests: `spillway keys` as a subprocess, and the header that carries a key."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT, base_env


def spillway_keys(redis_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "functions.cli", "keys", *args],
        env=base_env(redis_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}
