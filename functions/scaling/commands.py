"""`spillway simulate replay|run|sweep`: read the manifests and options, run the engine, report.

The options are declared in cli.py; what is written to disk is in output.py. An error of the
engine or a failed write ends the command with one `spillway: error:` line (exit 2).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from functions.cliargs import fail
from functions.scaling import manifests, output, overrides
from functions.scaling.errors import ScalingError, WorkloadError
from functions.scaling.manifests import KEDA_GROUP, KNATIVE_GROUP, Doc
from functions.scaling.replay import format_t, read_series, write_changes
from functions.scaling.replay import replay as replay_series
from functions.scaling.simulate import Simulation
from functions.scaling.spec import Api, KnativeSpec, RunConfig, ScaledObjectSpec, Workers
from functions.scaling.workload import Profile, arrivals, read_arrivals

LONG_RUN = 200_000  # tasks from which `run` shows a progress bar

Command = Callable[[argparse.Namespace], None]


def _one_line(work: Command) -> Command:
    """`work` as a command: the engine's errors and failed writes become one error line."""

    @functools.wraps(work)
    def command(args: argparse.Namespace) -> None:
        try:
            work(args)
        except OSError as exc:  # writing the outputs
            fail(f"{exc.filename}: {exc.strerror}" if exc.filename else str(exc))
        except ScalingError as exc:  # input the engine cannot model; a bug keeps its traceback
            fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)

    return command


def _scaled_object(args: argparse.Namespace) -> tuple[Doc, Doc, ScaledObjectSpec, list[Doc]]:
    """(as read, with --set applied, its spec, every document of the file)."""
    docs = manifests.load(args.scaledobject)
    doc = manifests.select(docs, "ScaledObject", KEDA_GROUP, args.name, args.scaledobject)
    edited = overrides.apply(doc, [overrides.parse_assignment(s) for s in args.set])
    return doc, edited, manifests.scaled_object_spec(edited), docs


@_one_line
def replay(args: argparse.Namespace) -> None:
    _, _, spec, _ = _scaled_object(args)
    series = read_series(args.metrics, spec)
    changes, decisions = replay_series(
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


# Each profile option, its default, and the profiles that use it (workload.Profile).
PROFILE_OPTIONS: dict[str, tuple[object, tuple[str, ...]]] = {
    "rate": (1.0, ("steady", "spike-train", "diurnal")),
    "duration": (600.0, ("steady", "bursts", "spike-train", "diurnal")),
    "burst_size": (100, ("bursts", "spike-train")),
    "every": (120.0, ("bursts", "spike-train")),
    "width": (1.0, ("bursts", "spike-train")),
    "amplitude": (0.8, ("diurnal",)),
    "period": (86400.0, ("diurnal",)),
    "process": ("uniform", ("steady", "spike-train")),
}


def _profile(args: argparse.Namespace) -> Profile:
    """The profile the options describe; an option it would ignore is an error, as in
    `spillway load`."""
    source = f"--profile {args.profile}" if args.profile else "--arrivals"
    values: dict[str, object] = {}
    for option, (default, profiles) in PROFILE_OPTIONS.items():
        given = getattr(args, option)
        if given is not None and args.profile not in profiles:
            flag = "--" + option.replace("_", "-")
            raise WorkloadError(
                f"{flag} does not apply to {source} (only to {', '.join(profiles)})"
            )
        values[option] = default if given is None else given
    return Profile(name=args.profile or "steady", **values)  # type: ignore[arg-type]


def _arrivals(args: argparse.Namespace) -> list[float]:
    profile = _profile(args)  # checks the options, also for --arrivals
    if args.arrivals:
        return read_arrivals(args.arrivals)
    tasks = arrivals(profile, args.seed)
    if not tasks:
        hint = (
            f"bursts start every {profile.every:g} s on average"
            if profile.name == "bursts"
            else "its rate is 0"
        )
        raise WorkloadError(
            f"--profile {profile.name} offers no tasks in {profile.duration:g} s with --seed "
            f"{args.seed} ({hint}): lengthen --duration or change the profile's options"
        )
    return tasks


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


@_one_line
def run(args: argparse.Namespace) -> None:
    _, _, spec, docs = _scaled_object(args)
    api = _knative(args, docs)
    tasks = _arrivals(args)
    config = _config_factory(args, api)(spec)
    with _progress(f"simulating {len(tasks):,} tasks", len(tasks) >= LONG_RUN) as progress:
        result = Simulation(config, tasks, progress).run()
    result.summary["api_model"] = "none" if api is None else api.name
    if args.out:
        output.write_run(Path(args.out), result, spec)
    if args.json:
        print(json.dumps(result.summary))
        return
    for key, value in result.summary.items():
        print(f"{key:24} {value}")
    if args.out:
        out = Path(args.out)  # `--out dir/` must not print dir//timeline.csv
        print(f"wrote {out / 'timeline.csv'}, decisions.csv, summary.json, timeline.png")


@_one_line
def sweep(args: argparse.Namespace) -> None:
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
    report = output.sweep_report(results, best, slo, patch_path)
    if args.out:
        output.write_sweep(Path(args.out), report, [k for k, _ in axes])
    if args.json:
        print(json.dumps(report))
    else:
        output.print_table(report, [k for k, _ in axes], slo.key)
    if best is None:  # scripts must be able to tell: exit 1, as for any work that failed
        fail(f"no setting meets {slo}; no patch written", status=1)
    if not args.json:
        settings = ", ".join(f"{k}={v}" for k, v in best.settings)
        print(f"cheapest meeting {slo}: {settings} ({best.summary['pod_seconds']} pod-seconds)")
        print(f"wrote {patch_path}")
