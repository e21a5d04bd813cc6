"""`spillway simulate replay|run|sweep`: the options (the checks and the work: commands.py).

Only argparse is imported here: functions/cli.py builds every parser for every command, and
`spillway api` must not pay for the engine, PyYAML, rich or matplotlib.
"""

from __future__ import annotations

import argparse

from functions.cliargs import (
    Commands,
    Parser,
    count,
    deferred,
    duration,
    non_negative,
    positive,
    positive_count,
    positive_duration,
)

_COMMANDS = "functions.scaling.commands"


def _add_scaledobject(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scaledobject",
        required=True,
        metavar="PATH",
        help="ScaledObject YAML: one file, a rendered multi-document file or a kustomize dir",
    )
    p.add_argument("--name", help="which ScaledObject, when the file holds several")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="what-if override, e.g. pollingInterval=10, listLength=4, behavior=none "
        "(repeatable; docs/scaling.md lists the keys)",
    )
    p.add_argument("--start-replicas", type=count, default=0, help="replicas at t=0 (0)")
    p.add_argument(
        "--hpa-offset", type=duration, default=0.0, help="HPA syncs at offset + 15k s (0)"
    )


def _add_system(p: argparse.ArgumentParser) -> None:
    _add_scaledobject(p)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--arrivals", metavar="PATH", help="one arrival time (s) per line")
    src.add_argument("--profile", choices=("steady", "bursts", "spike-train", "diurnal"))
    # No argparse defaults here: commands.py refuses an option the profile does not use, so it
    # must see which were given, and fills in the defaults of PROFILE_OPTIONS for the rest.
    g = p.add_argument_group("profile parameters (each refused where its profile ignores it)")
    g.add_argument("--rate", type=non_negative, help="tasks/s: mean or background (1)")
    g.add_argument("--duration", type=positive_duration, help="profile length, s (600)")
    g.add_argument("--burst-size", type=positive_count, help="tasks per burst/spike (100)")
    g.add_argument("--every", type=positive_duration, help="s between bursts (120)")
    g.add_argument("--width", type=duration, help="s a burst spreads over (1)")
    g.add_argument("--amplitude", type=non_negative, help="diurnal swing 0-1 (0.8)")
    g.add_argument("--period", type=positive_duration, help="diurnal period, s (86400)")
    g.add_argument(
        "--process",
        choices=("uniform", "poisson"),
        help="steady and spike-train's background: evenly spaced or Poisson (uniform)",
    )
    w = p.add_argument_group("workers")
    w.add_argument(
        "--task-seconds", type=positive_duration, default=1.0, help="mean service time (1)"
    )
    w.add_argument("--task-dist", choices=("exp", "const", "lognormal"), default="exp")
    w.add_argument("--task-cv", type=positive, default=1.0, help="lognormal's CV (1)")
    w.add_argument("--pod-startup", type=duration, default=10.0, help="s to ready (10)")
    w.add_argument(
        "--concurrency", type=positive_count, default=2, help="tasks per pod at once (2)"
    )
    w.add_argument("--grace", type=duration, default=25.0, help="soft-shutdown window, s (25)")
    a = p.add_argument_group("API (Knative)")
    a.add_argument(
        "--knative",
        metavar="PATH",
        help="Knative Service YAML (default: the one "
        "in --scaledobject's file, else Knative's defaults)",
    )
    a.add_argument("--no-api", action="store_true", help="tasks reach the queue directly")
    a.add_argument("--api-startup", type=duration, default=3.0, help="API cold start, s (3)")
    a.add_argument("--api-latency", type=duration, default=0.01, help="s per submit (0.01)")
    p.add_argument("--seed", type=count, default=0, help="random seed (0)")
    p.add_argument(
        "--max-time", type=positive_duration, help="stop here (default last arrival + 6 h)"
    )
    p.add_argument("--out", metavar="DIR", help="write the results into this directory")
    p.add_argument("--json", action="store_true", help="print only the JSON summary")


def add_parser(subparsers: Commands) -> None:
    """Register `simulate` on the `spillway` command's subparsers."""
    sim = subparsers.add_parser(
        "simulate", help="model KEDA/HPA and Knative scaling offline (replay, run, sweep)"
    )
    sub = sim.add_subparsers(
        dest="simulate_command",
        metavar="{replay,run,sweep}",
        required=True,
        parser_class=Parser,
    )
    replay = sub.add_parser("replay", help="replica decisions for a recorded metric series")
    _add_scaledobject(replay)
    replay.add_argument("--metrics", required=True, metavar="PATH", help="CSV: t,<key>...")
    replay.add_argument("--out", required=True, metavar="PATH", help="CSV t,replicas to write")
    replay.add_argument(
        "--duration",
        type=positive_duration,
        help="stop at this t, s (default: past the last row, whose values hold, until the "
        "count settles)",
    )
    replay.add_argument("--quiet", action="store_true", help="print nothing on success")
    replay.set_defaults(func=deferred(_COMMANDS, "replay"))
    run = sub.add_parser("run", help="simulate arrivals, API, queue, KEDA/HPA and worker pods")
    _add_system(run)
    run.set_defaults(func=deferred(_COMMANDS, "run"))
    sweep = sub.add_parser("sweep", help="grid over trigger settings, cheapest meeting an SLO")
    _add_system(sweep)
    sweep.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="KEY=V1,V2",
        help="values to try for one setting (repeatable; policies: Pods:4:15+Percent:100:15)",
    )
    sweep.add_argument("--slo", default="p95=30s", help="queue-wait SLO (p95=30s)")
    sweep.add_argument("--patch", metavar="PATH", help="where to write the recommended patch")
    sweep.set_defaults(func=deferred(_COMMANDS, "sweep"))
