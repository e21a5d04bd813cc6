"""Replay a recorded metric series through KEDA + HPA: the replica count at every change.

Input CSV: a `t` column (seconds) and one column per trigger, named by its listName (the Redis
key) or by the trigger's name; each row's values hold until the next row; before the first row
every key reads 0 (a missing key's LLEN).
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from pathlib import Path

from functions.scaling.controller import Decision, ScalingController
from functions.scaling.errors import MetricsError
from functions.scaling.spec import ScaledObjectSpec


@dataclass(frozen=True)
class Series:
    times: list[float]
    rows: list[dict[str, float]]  # Redis key -> value, one per time

    def at(self, t: float) -> dict[str, float]:
        i = bisect.bisect_right(self.times, t) - 1
        return self.rows[i] if i >= 0 else {}


def read_series(path: str | Path, spec: ScaledObjectSpec) -> Series:
    by_column: dict[str, str] = {}
    for trig in spec.triggers:
        by_column[trig.key] = trig.key
        if trig.name:
            by_column.setdefault(trig.name, trig.key)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            header = [h.strip() for h in reader.fieldnames or []]
            rows = list(reader)
    except OSError as exc:
        raise MetricsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if "t" not in header:
        raise MetricsError(f"{path}: the header needs a 't' column (seconds)")
    columns = {h: by_column[h] for h in header if h in by_column}
    missing = [t.key for t in spec.triggers if t.key not in columns.values()]
    if missing:
        raise MetricsError(
            f"{path}: no column for {', '.join(missing)} (name columns by listName or trigger name)"
        )
    times: list[float] = []
    values: list[dict[str, float]] = []
    for n, row in enumerate(rows, start=2):
        row = {(k or "").strip(): v for k, v in row.items()}
        try:
            t = float(row["t"])
            point = {key: float(row[col]) for col, key in columns.items()}
        except (TypeError, ValueError):
            raise MetricsError(f"{path}:{n}: every value must be a number") from None
        if t < 0 or (times and t < times[-1]):
            raise MetricsError(f"{path}:{n}: t must be >= 0 and non-decreasing")
        times.append(t)
        values.append(point)
    if not times:
        raise MetricsError(f"{path}: no rows")
    return Series(times, values)


def replay(
    spec: ScaledObjectSpec,
    series: Series,
    *,
    duration: float | None = None,
    start_replicas: int = 0,
    hpa_offset: float = 0.0,
) -> tuple[list[tuple[float, int]], list[Decision]]:
    """The (t, replicas) changes, starting with (0, start_replicas), and the decisions behind them.

    Every poll and sync at t <= duration (default: the last row's t) is evaluated on the values
    in force at that instant; status replicas = spec replicas.
    """
    end = series.times[-1] if duration is None else duration
    ctl = ScalingController(spec, replicas=start_replicas, hpa_offset=hpa_offset)
    changes = [(0.0, start_replicas)]
    decisions = []
    while ctl.next_due <= end:
        t = ctl.next_due
        for d in ctl.step(t, series.at(t)):
            if d.changed:
                decisions.append(d)
                if len(changes) > 1 and changes[-1][0] == d.t:
                    changes.pop()  # KEDA then the HPA at one instant: one row, the final count
                if changes[-1][1] != d.replicas:
                    changes.append((d.t, d.replicas))
    return changes, decisions


def format_t(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.6g}"


def write_changes(path: str | Path, changes: list[tuple[float, int]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "replicas"])
        for t, n in changes:
            w.writerow([format_t(t), n])
