"""`--compare-sim`: what the simulator predicted for the same arrivals, next to what happened.

The simulator is called through its command line, the interface it documents:
`spillway simulate run --scaledobject PATH --arrivals PATH --task-seconds S --json --out DIR`
(its JSON summary on stdout, a timeline CSV in DIR). Both runs share a time axis: the arrivals file
holds the producer's own schedule, which starts at 0 when the run starts.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from functions.loadtest.config import LoadConfig
from functions.loadtest.errors import SimulatorError
from functions.loadtest.profiles import write_arrivals
from functions.loadtest.records import Sample
from functions.loadtest.summary import DevScaler, Summary

# The timeline the simulator writes in --out (functions/scaling/simulate.py TIMELINE_HEADER,
# written by functions/scaling/output.py), and the columns of it compared here.
TIMELINE = "timeline.csv"
_TIME = "t"
_READY = "ready_workers"  # compared with measured ready replicas
_DESIRED = "replicas"  # the scaler's count, compared with measured desired
_QUEUE = "queued"
_IN_FLIGHT = "inflight"


# How the simulator is started (tests point this at a stand-in).
SPILLWAY = [sys.executable, "-m", "functions.cli"]
# The options this module passes; `simulate run --help` must list every one.
_OPTIONS = ("--scaledobject", "--arrivals", "--task-seconds", "--json", "--out")


def check_available() -> None:
    """Fail before the run, not after it, when `spillway simulate run` cannot be called."""
    try:
        done = subprocess.run(
            [*SPILLWAY, "simulate", "run", "--help"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SimulatorError(f"cannot start the simulator: {exc}") from None
    if done.returncode != 0:
        raise SimulatorError(
            "--compare-sim needs the simulator (`spillway simulate run`, functions/scaling), "
            "which this installation does not have"
        )
    missing = [option for option in _OPTIONS if option not in done.stdout]
    if missing:
        raise SimulatorError(f"`spillway simulate run` lacks {', '.join(missing)}")


def check_inputs(scaledobject: Path, sim_args: Sequence[str]) -> None:
    """Fail before the run, not after it, when the simulator would refuse this ScaledObject or
    these --sim-arg options: the same command on one arrival, for one simulated second."""
    with tempfile.TemporaryDirectory(prefix="spillway-simcheck-") as tmp:
        arrivals = Path(tmp) / "arrivals.txt"
        write_arrivals(arrivals, [0.0])
        command = [
            *SPILLWAY, "simulate", "run", "--scaledobject", str(scaledobject),
            "--arrivals", str(arrivals), "--task-seconds", "1", "--json", "--out", tmp,
            *sim_args, "--max-time", "1",
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SimulatorError(f"cannot start the simulator: {exc}") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        reason = lines[-1].removeprefix("spillway: error: ")
        raise SimulatorError(f"--compare-sim: the simulator refuses its inputs: {reason}")


@dataclass(frozen=True)
class Prediction:
    summary: dict[str, Any]
    t: list[float]
    replicas: list[float]  # ready workers
    desired: list[float] | None
    queue_depth: list[float] | None
    in_flight: list[float] | None

    def at(self, series: Sequence[float], when: float) -> float:
        """The value in effect at `when` (each row holds until the next)."""
        value = series[0]
        for t, v in zip(self.t, series, strict=True):
            if t > when:
                break
            value = v
        return value


def same_conditions(
    user_args: Sequence[str], start_replicas: int | None, dev_scaler: DevScaler | None
) -> list[str]:
    """Simulator arguments that describe the measured system, unless the user gave their own:
    the replicas it started with, and for `spillway dev` no Knative API (it is always up) and
    the worker cap of its scaler (--max-workers)."""
    given = " ".join(user_args)
    extra = list(user_args)
    if start_replicas is not None and "--start-replicas" not in given:
        extra += ["--start-replicas", str(start_replicas)]
    if dev_scaler is not None:
        if "--no-api" not in given and "--knative" not in given:
            extra.append("--no-api")
        if dev_scaler.get("max") is not None and "maxReplicaCount" not in given:
            extra += ["--set", f"maxReplicaCount={dev_scaler['max']}"]
    return extra


def simulate(
    *,
    scaledobject: Path,
    arrivals: Path,
    task_seconds: float,
    out: Path,
    extra_args: Sequence[str] = (),
    time_scale: float = 1.0,
    timeout: float = 600.0,
) -> Prediction:
    """Run the simulator. `time_scale` > 1 is for a scaler whose clock runs that much faster
    than real time (`spillway dev --fast`): the simulation runs in the scaler's time (arrivals
    and task times multiplied) and its results are brought back to real time."""
    if time_scale != 1.0:
        scaled = out.parent / f"{arrivals.stem}-x{time_scale:g}.txt"
        write_arrivals(scaled, (float(line) * time_scale for line in arrivals.read_text().split()))
        arrivals, task_seconds = scaled, task_seconds * time_scale
    command = [
        *SPILLWAY, "simulate", "run",
        "--scaledobject", str(scaledobject), "--arrivals", str(arrivals),
        "--task-seconds", f"{task_seconds:.6g}", "--json", "--out", str(out), *extra_args,
    ]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SimulatorError(f"the simulator ran longer than {timeout:g} s") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        raise SimulatorError(f"the simulator failed: {lines[-1]}")
    try:
        summary = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise SimulatorError("the simulator's --json output is not JSON") from None
    prediction = _timeline(out, summary)
    if time_scale == 1.0:
        return prediction
    return _rescale(prediction, time_scale)


def _rescale(p: Prediction, scale: float) -> Prediction:
    summary = {
        k: v / scale
        if isinstance(v, int | float) and (k.endswith("_s") or k == "pod_seconds")
        else v
        for k, v in p.summary.items()
    }
    return Prediction(
        summary, [t / scale for t in p.t], p.replicas, p.desired, p.queue_depth, p.in_flight
    )


def _timeline(out: Path, summary: dict[str, Any]) -> Prediction:
    path = out / TIMELINE
    if not path.is_file():
        raise SimulatorError(f"the simulator wrote no timeline CSV in {out}")
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise SimulatorError(f"{path} is empty")
    columns = rows[0].keys()
    if _TIME not in columns or _READY not in columns:
        names = ", ".join(columns)
        raise SimulatorError(f"{path} has no time or replicas column ({names})")

    def column(name: str) -> list[float]:
        return [float(row[name] or 0) for row in rows]

    def optional(name: str) -> list[float] | None:
        return column(name) if name in columns else None

    return Prediction(
        summary,
        column(_TIME),
        column(_READY),
        optional(_DESIRED),
        optional(_QUEUE),
        optional(_IN_FLIGHT),
    )


def errors(prediction: Prediction, samples: Sequence[Sample]) -> dict[str, dict[str, float]]:
    """Mean absolute, root-mean-square and largest error of the prediction at each sample."""
    result: dict[str, dict[str, float]] = {}
    for name, predicted in (
        ("replicas", prediction.replicas),
        ("desired", prediction.desired),
        ("queue_depth", prediction.queue_depth),
        ("in_flight", prediction.in_flight),
    ):
        if predicted is None:
            continue
        diffs = [
            prediction.at(predicted, s.t) - float(measured)
            for s in samples
            if (measured := getattr(s, name)) is not None
        ]
        if diffs:
            result[name] = {
                "mae": sum(abs(d) for d in diffs) / len(diffs),
                "rmse": math.sqrt(sum(d * d for d in diffs) / len(diffs)),
                "max_abs": max(abs(d) for d in diffs),
                "mean_bias": sum(diffs) / len(diffs),
            }
    return result


# Summary figures both sides compute: (the simulator's key, this run's key).
SCALARS = (
    ("time_to_first_worker_s", "time_to_first_worker_s"),
    ("max_replicas", "peak_replicas"),
    ("pod_seconds", "replica_seconds"),
    ("drained_at_s", "drained_at_s"),
    ("max_queue_depth", "peak_queue_depth"),
    ("queue_wait_p50_s", "queue_wait_p50_s"),
    ("queue_wait_p95_s", "queue_wait_p95_s"),
    ("queue_wait_p99_s", "queue_wait_p99_s"),
)


def scalars(
    prediction: Prediction, measured: Mapping[str, Any], samples: Sequence[Sample] = ()
) -> dict[str, dict[str, float | None]]:
    table: dict[str, dict[str, float | None]] = {}
    for sim_key, our_key in SCALARS:
        p, m = prediction.summary.get(sim_key), measured.get(our_key)
        if our_key == "replica_seconds" and samples:
            p = _integral(prediction, samples[0].t, samples[-1].t)  # over the measured window
        if isinstance(p, int | float) or isinstance(m, int | float):
            diff = p - m if isinstance(p, int | float) and isinstance(m, int | float) else None
            table[our_key] = {"predicted": p, "measured": m, "error": diff}
    return table


def _integral(prediction: Prediction, start: float, end: float) -> float:
    """Predicted ready replicas integrated over [start, end], each row held until the next."""
    edges = sorted({start, end, *(t for t in prediction.t if start < t < end)})
    return sum(
        prediction.at(prediction.replicas, a) * (b - a)
        for a, b in zip(edges, edges[1:], strict=False)
    )


def compare(
    config: LoadConfig, summary: Summary, samples: Sequence[Sample]
) -> tuple[dict[str, Any], Prediction | None]:
    """Run the simulator on the run's own schedule: summary.json's `simulator` object, and the
    prediction to chart (None when the simulator did not run). A failure here is reported, not
    raised: the measured run is already on disk and worth keeping."""
    if config.scaledobject is None:
        raise ValueError("compare() needs config.scaledobject (commands.py resolves it)")
    task_seconds = config.task_seconds or summary["run_s"]["mean"]
    if not task_seconds:
        message = "no --task-seconds and no finished invocation to measure it from"
        summary["warnings"].append(f"simulator comparison skipped: {message}")
        return {"error": message}, None
    start = next((s for s in samples if s.replicas is not None), None)
    start_replicas = (
        None if start is None else (start.desired if start.desired is not None else start.replicas)
    )
    scaler = summary["dev_scaler"]
    extra = same_conditions(config.sim_args, start_replicas, scaler)
    # `spillway dev --fast` runs its scaler's clock this many times faster than real time.
    time_scale = float(scaler["fast_factor"]) if scaler else 1.0
    try:
        prediction = simulate(
            scaledobject=config.scaledobject,
            arrivals=config.out / "arrivals.txt",
            task_seconds=task_seconds,
            out=config.out / "sim",
            extra_args=extra,
            time_scale=time_scale,
        )
    except SimulatorError as exc:
        summary["warnings"].append(f"simulator comparison failed: {exc}")
        return {"error": str(exc)}, None
    facts = {
        "task_seconds": task_seconds,
        "scaledobject": str(config.scaledobject),
        "args": extra,
        "time_scale": time_scale,
        "errors": errors(prediction, samples),
        "scalars": scalars(prediction, summary, samples),
    }
    return facts, prediction
