"""`spillway simulate`: outputs, --json, and one-line errors (run as a user would)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.scaling.helpers import scaled_object, trigger
from tests.support.processes import ROOT

SCALEDOBJECT = str(ROOT / "keda" / "base" / "scaledobject.yaml")


def spillway(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "functions.cli", "simulate", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_replay_writes_the_replica_changes(tmp_path: Path) -> None:
    """The hand-worked series of tests/scaling/test_replay.py, through the command line."""
    so = tmp_path / "so.yaml"
    so.write_text(
        yaml.safe_dump(scaled_object(trigger("q"), pollingInterval=10, cooldownPeriod=30))
    )
    metrics = tmp_path / "metrics.csv"
    metrics.write_text("t,q\n0,0\n12,23\n50,0\n")
    out = tmp_path / "replicas.csv"
    result = spillway(
        "replay",
        "--scaledobject",
        str(so),
        "--metrics",
        str(metrics),
        "--out",
        str(out),
        "--duration",
        "120",
    )
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "t,replicas\n0,0\n20,1\n30,4\n45,5\n80,0\n"
    assert "legacy rate" in result.stdout and "cooldownPeriod 30 s" in result.stdout


def test_run_json_prints_only_the_summary(tmp_path: Path) -> None:
    result = spillway(
        "run",
        "--scaledobject",
        SCALEDOBJECT,
        "--profile",
        "bursts",
        "--duration",
        "600",
        "--burst-size",
        "50",
        "--seed",
        "2",
        "--json",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in (
        "time_to_first_worker_s",
        "queue_wait_p50_s",
        "queue_wait_p95_s",
        "queue_wait_p99_s",
        "max_queue_depth",
        "max_replicas",
        "pod_seconds",
        "drained_at_s",
    ):
        assert key in summary
    assert summary["completed"] == summary["tasks"] > 0
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == ["decisions.csv", "summary.json", "timeline.csv", "timeline.png"]
    header = (tmp_path / "out" / "timeline.csv").read_text().splitlines()[0]
    assert header == "t,arrivals,queued,inflight,replicas,ready_workers,api_pods"


def test_run_from_an_arrivals_file(tmp_path: Path) -> None:
    arrivals = tmp_path / "arrivals.txt"
    arrivals.write_text("\n".join(str(i * 0.5) for i in range(40)))
    result = spillway(
        "run", "--scaledobject", SCALEDOBJECT, "--arrivals", str(arrivals), "--json", "--no-api"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks"] == 40


def test_sweep_recommends_and_writes_the_patch(tmp_path: Path) -> None:
    result = spillway(
        "sweep",
        "--scaledobject",
        SCALEDOBJECT,
        "--profile",
        "bursts",
        "--duration",
        "900",
        "--burst-size",
        "40",
        "--seed",
        "1",
        "--no-api",
        "--grid",
        "target=2,8",
        "--grid",
        "pollingInterval=5,30",
        "--slo",
        "p95=60s",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert len(report["cells"]) == 4 and report["recommended"] is not None
    patch = yaml.safe_load(Path(report["patch"]).read_text())
    assert patch["kind"] == "ScaledObject" and patch["metadata"]["name"] == "spillway-worker"
    assert {"sweep.csv", "sweep.json", "scaledobject-patch.yaml"} <= {
        p.name for p in tmp_path.iterdir()
    }


def test_sweep_table_on_stdout(tmp_path: Path) -> None:
    result = spillway(
        "sweep",
        "--scaledobject",
        SCALEDOBJECT,
        "--profile",
        "steady",
        "--rate",
        "2",
        "--duration",
        "120",
        "--no-api",
        "--grid",
        "cooldownPeriod=30,120",
        "--patch",
        str(tmp_path / "p.yaml"),
    )
    assert result.returncode == 0, result.stderr
    assert "cheapest meeting" in result.stdout
    assert (tmp_path / "p.yaml").exists()
    # Not a terminal: every header whole, however wide the table, and no box drawing.
    header = result.stdout.splitlines()[0].split()
    assert header == [
        "cooldownPeriod", "pod_seconds", "queue_wait_p95_s", "max_replicas",
        "time_to_first_worker_s", "meets",
    ]  # fmt: skip
    assert "┃" not in result.stdout and "…" not in result.stdout


def test_sweep_exits_1_when_no_setting_meets_the_slo(tmp_path: Path) -> None:
    result = spillway(
        "sweep", "--scaledobject", SCALEDOBJECT, "--profile", "steady", "--rate", "2",
        "--duration", "120", "--no-api", "--grid", "cooldownPeriod=30,120",
        "--slo", "p95=0.001s", "--out", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == (
        "spillway: error: no setting meets p95 queue wait <= 0.001 s; no patch written\n"
    )
    assert result.stdout.count(" no\n") == 2  # the table still shows every cell
    assert not (tmp_path / "scaledobject-patch.yaml").exists()


def test_run_names_its_files_once_whatever_the_out_path(tmp_path: Path) -> None:
    out = f"{tmp_path}/sim/"
    result = spillway("run", "--scaledobject", SCALEDOBJECT, "--profile", "steady", "--out", out)
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path}/sim/timeline.csv, decisions.csv" in result.stdout
    assert "//" not in result.stdout


RUN = ["run", "--scaledobject", SCALEDOBJECT]
STEADY = [*RUN, "--profile", "steady"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["replay", "--scaledobject", "nope.yaml", "--metrics", "m.csv", "--out", "o.csv"],
            "cannot read nope.yaml",
        ),
        ([*STEADY, "--set", "pollingInterval=x"], "pollingInterval must be a whole number"),
        ([*STEADY, "--set", "bogus=1"], "unknown setting 'bogus'"),
        (RUN, "one of the arguments --arrivals --profile is required"),
        ([*STEADY, "--rate", "-1"], "must be zero or more"),
        ([*RUN, "--profile", "wavy"], "invalid choice: 'wavy'"),
        (
            ["sweep", *STEADY[1:], "--grid", "target=1", "--slo", "p90=1s"],
            "--slo must look like p95=30s",
        ),
        ([*RUN, "--arrivals", "missing.txt"], "cannot read trace missing.txt"),
        (
            [*RUN, "--profile", "bursts", "--rate", "3"],
            "--rate does not apply to --profile bursts (only to steady, spike-train, diurnal)",
        ),
        ([*RUN, "--arrivals", "a.txt", "--every", "5"], "--every does not apply to --arrivals"),
        ([*RUN, "--profile", "diurnal", "--process", "uniform"], "--process does not apply"),
        ([*STEADY, "--amplitude", "0.5"], "--amplitude does not apply to --profile steady"),
        (
            [*RUN, "--profile", "bursts", "--duration", "60", "--seed", "0"],
            "--profile bursts offers no tasks in 60 s with --seed 0 (bursts start every 120 s "
            "on average): lengthen --duration",
        ),
        ([*STEADY, "--rate", "0"], "--profile steady offers no tasks in 600 s with --seed 0"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = spillway(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("spillway: error:") and message in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_api_does_not_import_the_engine() -> None:
    """Building the CLI registers `simulate` but imports only its argparse module."""
    code = (
        "import sys; from functions.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith(('functions.scaling', 'yaml', "
        "'matplotlib', 'rich'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "['functions.scaling', 'functions.scaling.cli']"
