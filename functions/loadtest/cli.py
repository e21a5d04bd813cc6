"""`spillway load`: its options (argparse only; the checks and the run start in commands.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from functions.cliargs import (
    Commands,
    count,
    deferred,
    duration,
    non_negative,
    positive,
    positive_count,
    positive_duration,
)
from functions.loadtest.profiles import PROFILES


def add_parser(commands: Commands) -> None:
    """Register `load` on the `spillway` command's subparsers."""
    p = commands.add_parser(
        "load",
        help="offer invocations on a schedule and measure how the system scales",
        description="Open-loop load test against a Spillway URL; writes a run folder "
        "(CSVs, summary.json, charts, report.md). See docs/load-testing.md.",
    )
    p.set_defaults(func=deferred("functions.loadtest.commands", "load"))
    _options(p)


def _options(p: argparse.ArgumentParser) -> None:
    """Every option of `spillway load`, grouped as --help shows them."""
    p.add_argument("--url", required=True, help="the API's base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--profile", required=True, choices=PROFILES, help="arrival profile")
    p.add_argument("--out", required=True, type=Path, help="run folder to create (new or empty)")
    p.add_argument("--function", default="sleep", help="function to invoke (default sleep)")
    p.add_argument(
        "--payload", help='JSON body or @file (default {"seconds": 1} for sleep, else {})'
    )
    g = p.add_argument_group("profile parameters")
    g.add_argument("--count", type=positive_count, help="burst size; per spike; or steady's total")
    g.add_argument(
        "--rate", type=non_negative, help="per second: steady; ramp's final; spike's background"
    )
    g.add_argument("--rate-start", type=non_negative, help="ramp's initial rate (default 0)")
    g.add_argument("--duration", type=positive_duration, help="seconds (steady, ramp)")
    g.add_argument("--spikes", type=positive_count, help="spike: how many (default 3)")
    g.add_argument(
        "--period", type=positive_duration, help="spike: seconds between spikes (default 10)"
    )
    g.add_argument(
        "--spike-width", type=duration, help="spike: seconds each spike lasts (default 0)"
    )
    g.add_argument("--trace", type=Path, help="trace: file with one arrival time (s) per line")
    g.add_argument("--process", choices=("uniform", "poisson"), help="spacing (default uniform)")
    g.add_argument("--seed", type=count, default=0, help="seed for --process poisson (default 0)")
    s = p.add_argument_group("sending")
    s.add_argument("--batch", type=positive_count, help="send N invocations per batch request")
    s.add_argument(
        "--max-in-flight",
        type=positive_count,
        default=256,
        help="requests in flight at most (default 256; hits are reported)",
    )
    s.add_argument(
        "--timeout", type=positive_duration, default=30.0, help="HTTP timeout, s (default 30)"
    )
    s.add_argument(
        "--retries",
        type=count,
        default=3,
        help="retries per request on 429/503/transport errors (default 3)",
    )
    s.add_argument(
        "--max-retry-wait",
        type=duration,
        default=30.0,
        help="cap on one Retry-After wait, s (default 30)",
    )
    m = p.add_argument_group("measuring")
    m.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL"),
        help="Redis for queue depth, in-flight and the dev scaler's state (default $REDIS_URL)",
    )
    m.add_argument(
        "--key-prefix",
        default=os.environ.get("SPILLWAY_KEY_PREFIX", ""),
        help="default $SPILLWAY_KEY_PREFIX",
    )
    m.add_argument(
        "--pool",
        default=os.environ.get("SPILLWAY_POOL", ""),
        help="worker pool whose in-flight hash to read, unacked:<pool> (default $SPILLWAY_POOL)",
    )
    m.add_argument("--queue", help="queue to watch (default the function's, from the catalog)")
    m.add_argument(
        "--kube-deployment",
        metavar="NAMESPACE/NAME",
        help="read worker replicas from this Deployment (needs the kube extra)",
    )
    m.add_argument(
        "--sample-interval",
        type=positive_duration,
        default=1.0,
        help="seconds between samples (default 1)",
    )
    m.add_argument(
        "--pod-target",
        type=positive,
        default=2.0,
        help="backlog per pod the ScaledObject targets (default 2, as keda/base)",
    )
    m.add_argument(
        "--drain-timeout",
        type=positive_duration,
        default=300.0,
        help="seconds to wait for accepted invocations to finish (default 300)",
    )
    m.add_argument(
        "--settle",
        type=duration,
        default=0.0,
        help="seconds to keep sampling after the drain, e.g. to see scale-in (default 0)",
    )
    m.add_argument(
        "--poll-concurrency",
        type=positive_count,
        default=32,
        help="status polls in flight (default 32)",
    )
    m.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: when stdout is a terminal)",
    )
    c = p.add_argument_group("simulator comparison")
    c.add_argument(
        "--compare-sim",
        action="store_true",
        help="also run `spillway simulate run` on the same arrivals and chart both",
    )
    c.add_argument(
        "--scaledobject",
        type=Path,
        help="ScaledObject for the simulator (default: the checkout's "
        "keda/base/scaledobject.yaml, found from any directory)",
    )
    c.add_argument(
        "--task-seconds",
        type=positive_duration,
        help="mean task time for the simulator (default: measured in this run)",
    )
    c.add_argument(
        "--sim-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for `spillway simulate run` (repeatable), "
        "e.g. --sim-arg=--pod-startup=5",
    )
