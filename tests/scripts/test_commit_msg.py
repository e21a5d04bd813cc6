"""scripts/commit-msg refuses subjects over 72 characters, as a git hook in a real repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import ROOT

HOOK = ROOT / "scripts" / "commit-msg"


def check(tmp_path: Path, message: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "COMMIT_EDITMSG"
    path.write_text(message, encoding="utf-8")
    return subprocess.run([HOOK, path], capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    "message",
    [
        "x" * 72,
        "Add a thing\n\nWhy it is needed, at any length: " + "y" * 200 + "\n",
        "\n\n# Please enter the commit message\n" + "z" * 72 + "\n",
        "fixup! " + "a" * 72,
        "é" * 72,  # characters, not bytes
        "",  # git refuses an empty message itself
    ],
)
def test_accepted(tmp_path: Path, message: str) -> None:
    result = check(tmp_path, message)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("message", "length"),
    [
        ("x" * 73, 73),
        ("# a comment line\n\n" + "y" * 73 + "\n\nThe body.\n", 73),
        ("squash! " + "b" * 80, 80),
    ],
)
def test_refused_with_the_length_and_the_subject(tmp_path: Path, message: str, length: int) -> None:
    result = check(tmp_path, message)
    assert result.returncode == 1
    assert f"the subject has {length} characters; keep it to 72 or fewer" in result.stderr
    subject = next(line for line in message.splitlines() if line and not line.startswith("#"))
    assert f"  {subject}\n" in result.stderr


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git on PATH")
def test_installed_as_documented_it_stops_a_long_commit(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    }  # fmt: skip
    env.pop("GIT_DIR", None)

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
        )

    assert git("init", "-q").returncode == 0
    hooks = Path(tmp_path, git("rev-parse", "--git-path", "hooks").stdout.strip())
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / "commit-msg").symlink_to(HOOK)  # the ln -sf line of the hook's docstring
    refused = git("commit", "-q", "--allow-empty", "-m", "A" * 73)
    assert refused.returncode != 0 and "keep it to 72 or fewer" in refused.stderr
    assert git("commit", "-q", "--allow-empty", "-m", "Add the first commit").returncode == 0
    assert git("log", "--format=%s").stdout.split("\n")[0] == "Add the first commit"
