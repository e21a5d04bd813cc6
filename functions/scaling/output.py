"""What `spillway simulate run` and `sweep` write: the run's CSVs, summary and chart, the sweep's
report, CSV and table."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from functions.scaling.replay import format_t
from functions.scaling.simulate import TIMELINE_HEADER, Result
from functions.scaling.spec import ScaledObjectSpec
from functions.scaling.sweep import Cell, Slo


def write_run(out: Path, result: Result, spec: ScaledObjectSpec) -> None:
    from functions.scaling.plot import write_png

    out.mkdir(parents=True, exist_ok=True)
    with open(out / "timeline.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(TIMELINE_HEADER)
        w.writerows((format_t(r[0]), *r[1:]) for r in result.timeline)
    with open(out / "decisions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("t", "source", "before", "replicas", "reason"))
        w.writerows(
            (format_t(d.t), d.source, d.before, d.replicas, d.reason) for d in result.decisions
        )
    (out / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
    write_png(result, out / "timeline.png", f"spillway simulate run: {spec.name}")


def sweep_report(
    results: list[Cell], best: Cell | None, slo: Slo, patch: Path | None
) -> dict[str, Any]:
    """The sweep as JSON: every cell, the recommended settings and where the patch went."""
    cells = [{"settings": dict(c.settings), "meets_slo": c.meets, **c.summary} for c in results]
    return {
        "slo": {"percentile": slo.percentile, "seconds": slo.seconds},
        "cells": cells,
        "recommended": None if best is None else dict(best.settings),
        "patch": None if patch is None else str(patch),
    }


def write_sweep(out: Path, report: dict[str, Any], keys: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(report, indent=2) + "\n")
    fields = [k for k in report["cells"][0] if k != "settings"] if report["cells"] else []
    with open(out / "sweep.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*keys, *fields])
        for cell in report["cells"]:
            w.writerow([*(cell["settings"][k] for k in keys), *(cell[k] for k in fields)])


def print_table(report: dict[str, Any], keys: list[str], wait_key: str) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console()
    terminal = console.is_terminal
    if not terminal:
        # A file or a pipe: rich would fit the table to 80 columns and cut the headers. Plain
        # columns, full width, as a script or a diff wants them.
        console = Console(width=10_000, no_color=True, highlight=False)
    table = Table(
        title=f"sweep: {wait_key} against the SLO" if terminal else None,
        box=box.HEAVY_HEAD if terminal else None,
        show_edge=terminal,
        pad_edge=terminal,
    )
    columns = [*keys, "pod_seconds", wait_key, "max_replicas", "time_to_first_worker_s", "meets"]
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    best = report["recommended"]
    for cell in report["cells"]:
        values = [*(cell["settings"][k] for k in keys)]
        values += [cell["pod_seconds"], cell[wait_key], cell["max_replicas"]]
        values += [cell["time_to_first_worker_s"], "yes" if cell["meets_slo"] else "no"]
        style = "bold green" if cell["settings"] == best and terminal else None
        table.add_row(*(str(v) for v in values), style=style)
    console.print(table)
