"""Install hints name what works where the user is: this checkout, or the package index."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from functions import checkout
from tests.support.processes import ROOT

DOCS = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]


def _pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    return project


def test_the_distribution_is_the_one_pyproject_builds() -> None:
    assert _pyproject()["name"] == checkout.DISTRIBUTION
    assert checkout.DISTRIBUTION != "spillway"  # an unrelated project's name on the index


def test_from_the_checkout_the_hint_is_its_bootstrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert checkout.root() == ROOT
    assert checkout.install_hint("kube") == "scripts/bootstrap --extra kube"
    assert checkout.install_hint("tools") == "scripts/bootstrap"
    monkeypatch.chdir(tmp_path)  # elsewhere: a path that works from there
    script, *rest = checkout.install_hint("kube").split()
    assert Path(script).is_absolute() and os.access(script, os.X_OK)
    assert rest == ["--extra", "kube"]


def test_installed_from_the_index_the_hint_is_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkout, "root", lambda: None)
    assert checkout.install_hint("kube") == "pip install 'spillway-functions[kube]'"


def test_manifests_are_found_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    found = checkout.manifest("keda/base/scaledobject.yaml")
    assert found == ROOT / "keda/base/scaledobject.yaml"
    monkeypatch.setattr(checkout, "root", lambda: None)  # an installed package
    assert checkout.manifest("keda") is None
    (tmp_path / "keda").mkdir()  # ... run inside a checkout of the manifests
    assert checkout.manifest("keda") == Path("keda")


def test_every_install_hint_in_the_docs_names_a_real_extra() -> None:
    extras = set(_pyproject()["optional-dependencies"])
    for doc in DOCS:
        text = doc.read_text()
        assert "spillway[" not in text, f"{doc.name} names the index's unrelated `spillway`"
        for name, extra in re.findall(r"pip install '([\w-]+)\[(\w+)\]'", text):
            assert (name, extra in extras) == (checkout.DISTRIBUTION, True), (doc.name, name, extra)
        for extra in re.findall(r"scripts/bootstrap --extra (\w+)", text):
            assert extra in extras, (doc.name, extra)


def test_a_command_without_the_tools_extra_says_how_to_get_it(tmp_path: Path) -> None:
    hide = "import sys; sys.modules['matplotlib'] = None; from functions.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", hide, "load", "--url", "http://127.0.0.1:9", "--profile", "burst",
         "--count", "1", "--out", str(tmp_path / "run")],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    expected = "spillway: error: `spillway load` needs the tools extra: scripts/bootstrap\n"
    assert result.stderr == expected
