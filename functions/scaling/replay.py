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
from functions.scaling.hpa import DOWNSCALE_STABILIZATION
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

    Every poll and sync at t <= duration is evaluated on the values in force at that instant
    (after the last row, its values hold); status replicas = spec replicas. Without a
    duration, the replay goes past the last row until the count has stopped changing for
    `settle_time(spec)` seconds, so a scale-in the last values lead to is shown.
    """
    ctl = ScalingController(spec, replicas=start_replicas, hpa_offset=hpa_offset)
    changes = [(0.0, start_replicas)]
    decisions = []
    quiet = settle_time(spec, ctl.hpa_period)
    last_change = series.times[-1]

    def due(t: float) -> bool:
        if duration is not None:
            return t <= duration
        # Past the last row: until nothing has changed for `quiet` s, and never past a day.
        return t <= max(series.times[-1], last_change + quiet) and t <= series.times[-1] + 86400

    while due(ctl.next_due):
        t = ctl.next_due
        for d in ctl.step(t, series.at(t)):
            if d.changed:
                decisions.append(d)
                if len(changes) > 1 and changes[-1][0] == d.t:
                    changes.pop()  # KEDA then the HPA at one instant: one row, the final count
                if changes[-1][1] != d.replicas:
                    changes.append((d.t, d.replicas))
                last_change = max(last_change, d.t)
    return changes, decisions


def settle_time(spec: ScaledObjectSpec, hpa_period: float) -> float:
    """Seconds without a change after which held metrics can change the count no more: KEDA's
    cooldown and the HPA's longest scale-down window, plus a poll, a sync and a policy period."""
    window, period = DOWNSCALE_STABILIZATION, 0.0
    if spec.behavior is not None:
        window = spec.behavior.down.window
        period = max((p.period for p in spec.behavior.down.policies), default=0.0)
    return spec.cooldown + window + period + spec.polling_interval + hpa_period


def format_t(t: float) -> str:
    return str(int(t)) if float(t).is_integer() else f"{t:.6g}"


def write_changes(path: str | Path, changes: list[tuple[float, int]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t", "replicas"])
        for t, n in changes:
            w.writerow([format_t(t), n])
