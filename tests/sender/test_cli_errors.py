"""`spillway sender` refuses to start without what it needs: one line, exit 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from functions.cli import main
from tests.support.processes import ROOT, base_env


def run(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "functions.cli", "sender"],
        env=base_env("redis://127.0.0.1:9/0", SPILLWAY_SENDER_HTTP_PORT="0", **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_secret_is_one_line_and_exit_2() -> None:
    done = run()
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spillway: error: SPILLWAY_CALLBACK_SECRET")


def test_a_malformed_secret_or_unreachable_redis_is_one_line() -> None:
    done = run(SPILLWAY_CALLBACK_SECRET="whsec_***")
    assert done.returncode == 2 and "secret 1 is not whsec_" in done.stderr
    assert "***" not in done.stderr
    good = "whsec_" + "A" * 43
    done = run(SPILLWAY_CALLBACK_SECRET=good, K_CE_OVERRIDES="{not json")
    assert done.returncode == 2 and "K_CE_OVERRIDES is not JSON" in done.stderr
    done = run(SPILLWAY_CALLBACK_SECRET=good)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("spillway: error: cannot use the outbox")
    assert good not in done.stderr


def test_a_bad_concurrency_is_refused_like_every_count(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sender", "--concurrency", "0"])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("spillway: error: ")
    assert "--concurrency" in lines[0]
