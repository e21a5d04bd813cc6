"""`--compare-sim`: reading the simulator's output and measuring its error, on hand-made data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from functions.loadtest import charts, simcompare
from functions.loadtest.errors import SimulatorError
from functions.loadtest.records import Sample
from functions.loadtest.summary import DevScaler

STAND_IN = """
import json, pathlib, sys
args = sys.argv[1:]
if args[:2] == ["simulate", "run"] and "--help" in args:
    print("--scaledobject --arrivals --task-seconds --json --out")
    raise SystemExit(0)
out = pathlib.Path(args[args.index("--out") + 1])
out.mkdir(parents=True)
(out / "timeline.csv").write_text(
    "t,arrivals,queued,inflight,replicas,ready_workers,api_pods\\n"
    "0,10,10,0,1,0,1\\n2,0,6,4,2,2,1\\n4,0,0,2,2,2,1\\n"
)
print(json.dumps({"time_to_first_worker_s": 2.0, "max_replicas": 2, "pod_seconds": 8.0,
                  "task_seconds": float(args[args.index("--task-seconds") + 1])}))
"""


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "spillway_stand_in.py"
    script.write_text(STAND_IN)
    monkeypatch.setattr(simcompare, "SPILLWAY", [sys.executable, str(script)])
    return script


def test_simulator_output_is_read_and_compared(stand_in: Path, tmp_path: Path) -> None:
    simcompare.check_available()
    arrivals = tmp_path / "arrivals.txt"
    arrivals.write_text("0\n" * 10)
    prediction = simcompare.simulate(
        scaledobject=Path("keda/base/scaledobject.yaml"),
        arrivals=arrivals,
        task_seconds=0.5,
        out=tmp_path / "sim",
    )
    assert prediction.summary["task_seconds"] == 0.5
    assert prediction.t == [0, 2, 4] and prediction.replicas == [0, 2, 2]
    assert prediction.desired == [1, 2, 2] and prediction.queue_depth == [10, 6, 0]
    assert (
        prediction.at(prediction.queue_depth, 3.9) == 6
        and prediction.at(prediction.replicas, 9) == 2
    )

    measured = [
        Sample(t=0.5, queue_depth=10, in_flight=0, replicas=0, desired=1),
        Sample(t=2.5, queue_depth=8, in_flight=2, replicas=1, desired=2),
        Sample(t=4.5, queue_depth=0, in_flight=2, replicas=2, desired=2),
    ]
    errors = simcompare.errors(prediction, measured)
    assert errors["queue_depth"]["mae"] == pytest.approx(2 / 3)
    assert errors["queue_depth"]["mean_bias"] == pytest.approx(-2 / 3)  # predicted drains faster
    assert errors["replicas"]["max_abs"] == 1 and errors["desired"]["mae"] == 0
    assert errors["in_flight"]["rmse"] == pytest.approx((4 / 3) ** 0.5)

    table = simcompare.scalars(prediction, {"time_to_first_worker_s": 2.5, "peak_replicas": 2})
    assert table["time_to_first_worker_s"] == {"predicted": 2.0, "measured": 2.5, "error": -0.5}
    assert table["peak_replicas"]["error"] == 0
    chart = charts.comparison(prediction, measured, errors, tmp_path / "compare.png")
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_a_failing_simulator_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "broken.py"
    script.write_text(
        "import sys\nprint('Traceback...', file=sys.stderr)\n"
        "print('boom', file=sys.stderr)\nsys.exit(1)\n"
    )
    monkeypatch.setattr(simcompare, "SPILLWAY", [sys.executable, str(script)])
    with pytest.raises(SimulatorError, match="the simulator failed: boom"):
        simcompare.simulate(
            scaledobject=Path("x"), arrivals=Path("y"), task_seconds=1, out=tmp_path / "o"
        )


def test_a_simulator_without_the_options_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "old.py"
    script.write_text("print('--scaledobject --arrivals --out')\n")
    monkeypatch.setattr(simcompare, "SPILLWAY", [sys.executable, str(script)])
    with pytest.raises(SimulatorError, match="lacks --task-seconds, --json"):
        simcompare.check_available()


def test_timeline_without_replicas_is_refused(tmp_path: Path) -> None:
    (tmp_path / "timeline.csv").write_text("t,queued\n0,1\n")
    with pytest.raises(SimulatorError, match="no time or replicas column"):
        simcompare._timeline(tmp_path, json.loads("{}"))


def test_same_conditions_describe_the_measured_system_unless_told_otherwise() -> None:
    dev: DevScaler = {"fast": True, "fast_factor": 10.0, "max": 8}
    assert simcompare.same_conditions([], 0, dev) == [
        "--start-replicas", "0", "--no-api", "--set", "maxReplicaCount=8",
    ]  # fmt: skip
    mine = ["--start-replicas=2", "--knative", "k.yaml", "--set", "maxReplicaCount=3"]
    assert simcompare.same_conditions(mine, 0, dev) == mine
    assert simcompare.same_conditions([], None, None) == []


def test_a_fast_scaler_is_simulated_in_its_own_time(stand_in: Path, tmp_path: Path) -> None:
    arrivals = tmp_path / "arrivals.txt"
    arrivals.write_text("0.5\n1.0\n")
    prediction = simcompare.simulate(
        scaledobject=Path("keda/base/scaledobject.yaml"),
        arrivals=arrivals,
        task_seconds=0.5,
        out=tmp_path / "sim",
        time_scale=10,
    )
    assert (tmp_path / "arrivals-x10.txt").read_text().split() == ["5.000000", "10.000000"]
    assert prediction.summary["task_seconds"] == 5.0  # what the simulator was given
    assert prediction.summary["time_to_first_worker_s"] == pytest.approx(0.2)  # back to real time
    assert prediction.summary["pod_seconds"] == pytest.approx(0.8)
    assert prediction.summary["max_replicas"] == 2  # counts are not times
    assert prediction.t == [0, 0.2, 0.4]


def test_predicted_replica_seconds_cover_the_measured_window_only(
    stand_in: Path, tmp_path: Path
) -> None:
    arrivals = tmp_path / "arrivals.txt"
    arrivals.write_text("0\n")
    prediction = simcompare.simulate(
        scaledobject=Path("x"), arrivals=arrivals, task_seconds=1, out=tmp_path / "sim"
    )
    window = [Sample(t=1.0, replicas=0), Sample(t=5.0, replicas=2)]
    table = simcompare.scalars(prediction, {"replica_seconds": 4.0}, window)
    # ready replicas 0 until t=2, then 2: 0 * 1 + 2 * 3 over [1, 5]
    assert table["replica_seconds"] == {"predicted": 6.0, "measured": 4.0, "error": 2.0}
