"""`spillway dev` reads the checkout's manifests from any directory, or says what to pass."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from functions import checkout
from functions.cli import build_parser
from functions.dev import commands
from tests.support.processes import ROOT


def _dev(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run `spillway dev` up to the point where it would start things; what it would run."""
    ran: dict[str, Any] = {}
    monkeypatch.setattr(commands, "check_port", lambda host, port: None)
    monkeypatch.setattr(commands, "run", lambda **kwargs: ran.update(kwargs) or 0)
    args: argparse.Namespace = build_parser().parse_args(["dev", *argv])
    with pytest.raises(SystemExit):
        commands.dev(args)
    return ran


def test_outside_the_checkout_it_follows_the_checkouts_keda(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ran = _dev(["--max-workers", "3"], monkeypatch)
    assert ran["spec"].max_replicas == 3
    assert Path(ran["spec_source"]).is_relative_to(ROOT / "keda")


def test_without_a_checkout_it_says_to_pass_scaledobject_or_cd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(checkout, "root", lambda: None)
    with pytest.raises(SystemExit) as exited:
        commands.dev(build_parser().parse_args(["dev"]))
    assert exited.value.code == 2
    assert capsys.readouterr().err == (
        "spillway: error: no keda here and no Spillway checkout to take it from: pass "
        "--scaledobject PATH (the ScaledObject you deploy), or cd to a Spillway checkout\n"
    )


def test_an_explicit_scaledobject_is_read_from_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (ROOT / "keda" / "base" / "scaledobject.yaml").read_text()
    (tmp_path / "mine.yaml").write_text(text.replace("maxReplicaCount: 20", "maxReplicaCount: 2"))
    monkeypatch.chdir(tmp_path)
    ran = _dev(["--scaledobject", "mine.yaml"], monkeypatch)
    assert ran["spec_source"] == "mine.yaml"
