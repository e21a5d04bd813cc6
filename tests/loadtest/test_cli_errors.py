"""Bad arguments: one `spillway: error:` line and exit 2, before anything is sent or created."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from functions import checkout
from functions.cli import main
from functions.loadtest import simcompare
from tests.support.processes import ROOT

URL = "http://127.0.0.1:9"  # nothing listens: every case must fail before using it


def error_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main(["load", *argv])
    assert exited.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("spillway: error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--profile", "burst", "--out", "x"], "the following arguments are required: --url"),
        (["--url", URL, "--profile", "wave", "--out", "x"], "invalid choice: 'wave'"),
        (["--url", URL, "--profile", "burst", "--count", "-3", "--out", "x"], "positive whole"),
        (["--url", URL, "--profile", "burst", "--count", "0", "--out", "x"], "positive whole"),
        (
            ["--url", URL, "--profile", "steady", "--rate", "0", "--duration", "9", "--out", "x"],
            "--profile steady with these options offers no invocations",
        ),
        (["--url", URL, "--profile", "steady", "--rate", "fast", "--out", "x"], "not a number"),
        (["--url", URL, "--profile", "ramp", "--duration", "0", "--out", "x"], "positive"),
        (["--url", URL, "--profile", "burst", "--out", "x"], "--profile burst needs --count"),
        (["--url", URL, "--profile", "steady", "--rate", "5", "--out", "x"], "exactly two of"),
        (
            ["--url", URL, "--profile", "burst", "--count", "5", "--rate", "2", "--out", "x"],
            "--rate does not apply to --profile burst",
        ),
        (["--url", URL, "--profile", "trace", "--out", "x"], "--profile trace needs --trace"),
        (
            ["--url", URL, "--profile", "trace", "--trace", "/nonexistent/t", "--out", "x"],
            "cannot read trace /nonexistent/t",
        ),
        (
            ["--url", "localhost:8080", "--profile", "burst", "--count", "1", "--out", "x"],
            "--url must",
        ),
        (
            [
                "--url",
                URL,
                "--profile",
                "burst",
                "--count",
                "1",
                "--payload",
                "{nope",
                "--out",
                "x",
            ],
            "--payload is not JSON",
        ),
        (
            ["--url", URL, "--profile", "burst", "--count", "1", "--kube-deployment", "spillway"],
            "NAMESPACE/NAME",
        ),
        (
            ["--url", URL, "--profile", "burst", "--count", "1", "--batch", "0", "--out", "x"],
            "positive",
        ),
    ],
)
def test_bad_arguments(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "run")]
    assert message in error_line(capsys, *argv)
    assert not (tmp_path / "run").exists()


def test_out_must_be_new_or_empty(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "old.csv").write_text("")
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1", "--out", str(tmp_path)
    )
    assert "already exists and is not an empty folder" in line


def test_unreachable_url_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1", "--out", str(tmp_path / "r")
    )
    assert "cannot read the function catalog at http://127.0.0.1:9/v1/functions" in line


def test_kubernetes_client_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # as if the kube extra were absent
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1",
        "--kube-deployment", "spillway/spillway-worker", "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert "needs the Kubernetes client" in line and "scripts/bootstrap --extra kube" in line


def test_compare_sim_without_a_simulator(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A `spillway` whose `simulate run` does not exist, as before functions/scaling landed.
    monkeypatch.setattr(simcompare, "SPILLWAY", [sys.executable, "-c", "raise SystemExit(2)"])
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1", "--compare-sim",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert "--compare-sim needs the simulator (`spillway simulate run`" in line


def test_from_a_real_process_too(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "functions.cli", "load", "--url", URL, "--profile", "spike"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("spillway: error: the following arguments are required: --out")
    assert len(result.stderr.strip().splitlines()) == 1


def test_parsing_the_command_line_loads_nothing_heavy() -> None:
    """`spillway api` builds the same parser: it must not pay for httpx, matplotlib or rich."""
    code = (
        "import sys; from functions.cli import build_parser; build_parser(); "
        "heavy = ('httpx', 'matplotlib', 'rich', 'redis', 'numpy', 'functions.loadtest.run', "
        "'functions.loadtest.producer'); print(','.join(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == ""


def test_compare_sim_finds_the_checkouts_scaledobject_from_anywhere(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1", "--compare-sim",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert "cannot read the function catalog" in line  # past the manifest, at the first request


def test_compare_sim_without_a_checkout_says_what_to_pass(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(checkout, "root", lambda: None)
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1", "--compare-sim",
        "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert line == (
        "spillway: error: no keda/base/scaledobject.yaml here and no Spillway checkout to take "
        "it from: pass --scaledobject PATH (the ScaledObject you deploy), or cd to a Spillway "
        "checkout"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "the simulator refuses its inputs: no ScaledObject (keda.sh) in "),
        (
            ["--sim-arg=--pod-startup=soon"],
            "the simulator refuses its inputs: argument --pod-startup: not a duration: 'soon'",
        ),
    ],
)
def test_compare_sim_checks_the_simulators_inputs_before_the_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: list[str], message: str
) -> None:
    manifest = tmp_path / "configmap.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    if extra:  # a good manifest, so that the bad option is what is refused
        manifest = ROOT / "keda" / "base" / "scaledobject.yaml"
    line = error_line(
        capsys, "--url", URL, "--profile", "burst", "--count", "1", "--compare-sim",
        "--scaledobject", str(manifest), *extra, "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert line.startswith("spillway: error: --compare-sim: ") and message in line
    assert not (tmp_path / "r").exists()
