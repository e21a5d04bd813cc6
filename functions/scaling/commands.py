"""The work behind `spillway simulate replay|run|sweep` (parsers in cli.py)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from functions.scaling import manifests, overrides
from functions.scaling.manifests import KEDA_GROUP, KNATIVE_GROUP, Doc
from functions.scaling.replay import format_t, read_series, replay, write_changes
from functions.scaling.simulate import TIMELINE_HEADER, Result, Simulation
from functions.scaling.spec import Api, KnativeSpec, RunConfig, ScaledObjectSpec, Workers
from functions.scaling.workload import Profile, arrivals, read_arrivals

LONG_RUN = 200_000  # tasks from which `run` shows a progress bar


def _scaled_object(args: argparse.Namespace) -> tuple[Doc, Doc, ScaledObjectSpec, list[Doc]]:
    """(as read, with --set applied, its spec, every document of the file)."""
    docs = manifests.load(args.scaledobject)
    doc = manifests.select(docs, "ScaledObject", KEDA_GROUP, args.name, args.scaledobject)
    edited = overrides.apply(doc, [overrides.parse_assignment(s) for s in args.set])
    return doc, edited, manifests.scaled_object_spec(edited), docs


def replay_cmd(args: argparse.Namespace) -> None:
    _, _, spec, _ = _scaled_object(args)
    series = read_series(args.metrics, spec)
    changes, decisions = replay(
        spec,
        series,
        duration=args.duration,
        start_replicas=args.start_replicas,
        hpa_offset=args.hpa_offset,
    )
    write_changes(args.out, changes)
    if not args.quiet:
        print(f"t=0s {args.start_replicas} (start)")
        for d in decisions:
            print(f"t={format_t(d.t)}s {d.before} -> {d.replicas}  {d.reason}")
        print(f"wrote {args.out}")


def _knative(args: argparse.Namespace, so_docs: list[Doc]) -> KnativeSpec | None:
    if args.no_api:
        return None
    if args.knative:
        docs = manifests.load(args.knative)
        return manifests.knative_spec(
            manifests.select(docs, "Service", KNATIVE_GROUP, None, args.knative)
        )
    found = manifests.find(so_docs, "Service", KNATIVE_GROUP)
    return manifests.knative_spec(found[0]) if len(found) == 1 else KnativeSpec()


def _arrivals(args: argparse.Namespace) -> list[float]:
    if args.arrivals:
        return read_arrivals(args.arrivals)
    profile = Profile(
        name=args.profile,
        rate=args.rate,
        duration=args.duration,
        burst_size=args.burst_size,
        every=args.every,
        width=args.width,
        amplitude=args.amplitude,
        period=args.period,
    )
    return arrivals(profile, args.seed)


def _config_factory(
    args: argparse.Namespace, api: KnativeSpec | None
) -> Callable[[ScaledObjectSpec], RunConfig]:
    workers = Workers(
        concurrency=args.concurrency,
        startup=args.pod_startup,
        grace=args.grace,
        task_seconds=args.task_seconds,
        distribution=args.task_dist,
        cv=args.task_cv,
    )
    front = Api(spec=api, startup=args.api_startup, latency=args.api_latency)

    def make(spec: ScaledObjectSpec) -> RunConfig:
        return RunConfig(
            spec,
            workers,
            front,
            seed=args.seed,
            start_replicas=args.start_replicas,
            hpa_offset=args.hpa_offset,
            max_time=args.max_time,
        )

    return make


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[float], None] | None]:
    """A rich progress bar on stderr when it is a terminal; the callback takes 0..1."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TimeElapsedColumn

    columns = ("{task.description}", BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=1.0)
        yield lambda fraction: bar.update(task, completed=fraction)


def run_cmd(args: argparse.Namespace) -> None:
    _, _, spec, docs = _scaled_object(args)
    api = _knative(args, docs)
    tasks = _arrivals(args)
    config = _config_factory(args, api)(spec)
    with _progress(f"simulating {len(tasks):,} tasks", len(tasks) >= LONG_RUN) as progress:
        result = Simulation(config, tasks, progress).run()
    result.summary["api_model"] = "none" if api is None else api.name
    if args.out:
        _write_run(Path(args.out), result, spec)
    if args.json:
        print(json.dumps(result.summary))
        return
    for key, value in result.summary.items():
        print(f"{key:24} {value}")
    if args.out:
        print(f"wrote {args.out}/timeline.csv, decisions.csv, summary.json, timeline.png")


def _write_run(out: Path, result: Result, spec: ScaledObjectSpec) -> None:
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


def sweep_cmd(args: argparse.Namespace) -> None:
    from functions.scaling.sweep import parse_axis, parse_slo, recommend, run_sweep

    slo = parse_slo(args.slo)
    axes = [parse_axis(g) for g in args.grid]
    original, edited, _, docs = _scaled_object(args)
    api = _knative(args, docs)
    tasks = _arrivals(args)
    make = _config_factory(args, api)
    with _progress(f"sweeping {len(tasks):,} tasks", True) as progress:
        tick = None if progress is None else (lambda n, total: progress(n / total))
        results = run_sweep(edited, axes, make, tasks, slo, progress=tick)
    best = recommend(results, slo)
    patch_path = None
    if best is not None:
        chosen = overrides.apply(edited, best.settings)
        patch_path = Path(args.patch or (Path(args.out or ".") / "scaledobject-patch.yaml"))
        patch_path.parent.mkdir(parents=True, exist_ok=True)
        patch_path.write_text(overrides.patch(original, chosen, source=args.scaledobject))
    report = _sweep_report(results, best, slo, patch_path)
    if args.out:
        _write_sweep(Path(args.out), report, [k for k, _ in axes])
    if args.json:
        print(json.dumps(report))
        return
    _print_table(report, [k for k, _ in axes], slo.key)
    if best is None:
        print(f"no setting meets {slo}; no patch written")
    else:
        settings = ", ".join(f"{k}={v}" for k, v in best.settings)
        print(f"cheapest meeting {slo}: {settings} ({best.summary['pod_seconds']} pod-seconds)")
        print(f"wrote {patch_path}")


def _sweep_report(results: list[Any], best: Any, slo: Any, patch: Path | None) -> dict[str, Any]:
    cells = [{"settings": dict(c.settings), "meets_slo": c.meets, **c.summary} for c in results]
    return {
        "slo": {"percentile": slo.percentile, "seconds": slo.seconds},
        "cells": cells,
        "recommended": None if best is None else dict(best.settings),
        "patch": None if patch is None else str(patch),
    }


def _write_sweep(out: Path, report: dict[str, Any], keys: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(report, indent=2) + "\n")
    fields = [k for k in report["cells"][0] if k != "settings"] if report["cells"] else []
    with open(out / "sweep.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([*keys, *fields])
        for cell in report["cells"]:
            w.writerow([*(cell["settings"][k] for k in keys), *(cell[k] for k in fields)])


def _print_table(report: dict[str, Any], keys: list[str], wait_key: str) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"sweep: {wait_key} against the SLO")
    columns = [*keys, "pod_seconds", wait_key, "max_replicas", "time_to_first_worker_s", "meets"]
    for column in columns:
        table.add_column(column, justify="right")
    best = report["recommended"]
    for cell in report["cells"]:
        values = [*(cell["settings"][k] for k in keys)]
        values += [cell["pod_seconds"], cell[wait_key], cell["max_replicas"]]
        values += [cell["time_to_first_worker_s"], "yes" if cell["meets_slo"] else "no"]
        style = "bold green" if cell["settings"] == best else None
        table.add_row(*(str(v) for v in values), style=style)
    Console().print(table)


COMMANDS: dict[str, Callable[[argparse.Namespace], None]] = {
    "replay": replay_cmd,
    "run": run_cmd,
    "sweep": sweep_cmd,
}
