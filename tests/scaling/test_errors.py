"""The engine's errors share one base, and the commands turn only that base into one line."""

from __future__ import annotations

import argparse
import inspect

import pytest

from functions.scaling import commands, errors, manifests


def test_every_engine_error_is_a_scaling_error() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert len(classes) == 7
    assert all(issubclass(c, errors.ScalingError) for c in classes)
    assert not issubclass(errors.ScalingError, ValueError)  # a bug's ValueError is not input


def _replay_args() -> argparse.Namespace:
    return argparse.Namespace(scaledobject="so.yaml", name=None, set=[])


def test_a_scaling_error_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(path: str) -> None:
        raise errors.ManifestError("cannot read so.yaml: gone\nsecond line")

    monkeypatch.setattr(manifests, "load", refuse)
    with pytest.raises(SystemExit) as exited:
        commands.replay(_replay_args())
    assert exited.value.code == 2
    assert capsys.readouterr().err == "spillway: error: cannot read so.yaml: gone\n"


def test_a_bug_in_the_engine_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(path: str) -> None:
        raise ValueError("a bug, not bad input")

    monkeypatch.setattr(manifests, "load", broken)
    with pytest.raises(ValueError, match="a bug"):
        commands.replay(_replay_args())
