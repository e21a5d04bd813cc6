"""`spillway load`: the command line. Every mistake is one `spillway: error:` line and exit 2."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from functions.loadtest.profiles import PROFILES, Profile, ProfileError, arrivals

_P = TypeVar("_P", bound=argparse.ArgumentParser)

# Profile parameters, and the profiles each one means something for.
_PROFILE_OPTIONS = {
    "rate": ("steady", "spike", "ramp"),
    "rate_start": ("ramp",),
    "duration": ("steady", "ramp"),
    "count": ("steady", "burst", "spike"),
    "spikes": ("spike",),
    "period": ("spike",),
    "spike_width": ("spike",),
    "trace": ("trace",),
    "process": ("steady", "spike", "ramp"),
}


def _fail(message: str) -> NoReturn:
    print(f"spillway: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def _non_negative(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be zero or more, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be zero or more, not {text}")
    return value


def add_parser(subparsers: argparse._SubParsersAction[_P]) -> None:
    p = subparsers.add_parser(
        "load",
        help="offer invocations on a schedule and measure how the system scales",
        description="Open-loop load test against a Spillway URL; writes a run folder "
        "(CSVs, summary.json, charts, report.md). See docs/load-testing.md.",
    )
    p.add_argument("--url", required=True, help="the API's base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--profile", required=True, choices=PROFILES, help="arrival profile")
    p.add_argument("--out", required=True, type=Path, help="run folder to create (new or empty)")
    p.add_argument("--function", default="sleep", help="function to invoke (default sleep)")
    p.add_argument(
        "--payload", help='JSON body or @file (default {"seconds": 1} for sleep, else {})'
    )
    g = p.add_argument_group("profile parameters")
    g.add_argument("--count", type=_count, help="burst size; per spike; or steady's total")
    g.add_argument(
        "--rate", type=_non_negative, help="per second: steady; ramp's final; spike's background"
    )
    g.add_argument("--rate-start", type=_non_negative, help="ramp's initial rate (default 0)")
    g.add_argument("--duration", type=_positive(float), help="seconds (steady, ramp)")
    g.add_argument("--spikes", type=_positive(int), help="spike: how many (default 3)")
    g.add_argument(
        "--period", type=_positive(float), help="spike: seconds between spikes (default 10)"
    )
    g.add_argument(
        "--spike-width", type=_non_negative, help="spike: seconds each spike lasts (default 0)"
    )
    g.add_argument("--trace", type=Path, help="trace: file with one arrival time (s) per line")
    g.add_argument("--process", choices=("uniform", "poisson"), help="spacing (default uniform)")
    g.add_argument("--seed", type=int, default=0, help="seed for --process poisson (default 0)")
    s = p.add_argument_group("sending")
    s.add_argument("--batch", type=_positive(int), help="send N invocations per batch request")
    s.add_argument(
        "--max-in-flight",
        type=_positive(int),
        default=256,
        help="requests in flight at most (default 256; hits are reported)",
    )
    s.add_argument(
        "--timeout", type=_positive(float), default=30.0, help="HTTP timeout, s (default 30)"
    )
    s.add_argument(
        "--retries",
        type=_count,
        default=3,
        help="retries per request on 429/503/transport errors (default 3)",
    )
    s.add_argument(
        "--max-retry-wait",
        type=_non_negative,
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
        help="read worker replicas from this Deployment (needs spillway[kube])",
    )
    m.add_argument(
        "--sample-interval",
        type=_positive(float),
        default=1.0,
        help="seconds between samples (default 1)",
    )
    m.add_argument(
        "--pod-target",
        type=_positive(float),
        default=2.0,
        help="backlog per pod the ScaledObject targets (default 2, as keda/base)",
    )
    m.add_argument(
        "--drain-timeout",
        type=_positive(float),
        default=300.0,
        help="seconds to wait for accepted invocations to finish (default 300)",
    )
    m.add_argument(
        "--settle",
        type=_non_negative,
        default=0.0,
        help="seconds to keep sampling after the drain, e.g. to see scale-in (default 0)",
    )
    m.add_argument(
        "--poll-concurrency",
        type=_positive(int),
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
        default=Path("keda/base/scaledobject.yaml"),
        help="ScaledObject for the simulator (default keda/base/scaledobject.yaml)",
    )
    c.add_argument(
        "--task-seconds",
        type=_positive(float),
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
    p.set_defaults(func=cmd_load)


def _profile(args: argparse.Namespace) -> Profile:
    for option, profiles in _PROFILE_OPTIONS.items():
        if getattr(args, option) is not None and args.profile not in profiles:
            flag = "--" + option.replace("_", "-")
            uses = ", ".join(profiles)
            _fail(f"{flag} does not apply to --profile {args.profile} (only to {uses})")
    given = {k: getattr(args, k) for k in _PROFILE_OPTIONS if getattr(args, k) is not None}
    return Profile(name=args.profile, seed=args.seed, **given)


def _payload(args: argparse.Namespace) -> Any:
    text = args.payload
    if text is None:
        return {"seconds": 1.0} if args.function == "sleep" else {}
    if text.startswith("@"):
        try:
            text = Path(text[1:]).read_text()
        except OSError as exc:
            _fail(f"cannot read --payload file {text[1:]}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail(f"--payload is not JSON: {exc.msg} at position {exc.pos}")


def _kube(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    namespace, _, name = value.partition("/")
    if not namespace or not name or "/" in name:
        _fail(f"--kube-deployment must be NAMESPACE/NAME, not {value!r}")
    return namespace, name


def cmd_load(args: argparse.Namespace) -> None:
    from functions.loadtest.run import LoadConfig, LoadError, execute

    if not args.url.startswith(("http://", "https://")):
        _fail(f"--url must start with http:// or https://, not {args.url!r}")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        _fail(f"--out {args.out} already exists and is not an empty folder")
    profile = _profile(args)
    try:
        arrivals(profile)  # a schedule that cannot be built fails here, before anything starts
    except ProfileError as exc:
        _fail(str(exc))
    if args.kube_deployment is not None and importlib.util.find_spec("kubernetes") is None:
        from functions.loadtest.sources import KUBE_MISSING

        _fail(KUBE_MISSING)
    if args.compare_sim:
        from functions.loadtest.simcompare import SimulatorError, check_available

        try:
            check_available()
        except SimulatorError as exc:
            _fail(str(exc))
        if not args.scaledobject.is_file():
            _fail(f"--scaledobject {args.scaledobject} is not a file")
    config = LoadConfig(
        url=args.url.rstrip("/"),
        profile=profile,
        out=args.out,
        function=args.function,
        payload=_payload(args),
        batch=args.batch or 0,
        max_in_flight=args.max_in_flight,
        timeout=args.timeout,
        retries=args.retries,
        max_retry_wait=args.max_retry_wait,
        redis_url=args.redis_url or None,
        key_prefix=args.key_prefix,
        pool=args.pool,
        queue=args.queue,
        kube_deployment=_kube(args.kube_deployment),
        sample_interval=args.sample_interval,
        pod_target=args.pod_target,
        drain_timeout=args.drain_timeout,
        settle=args.settle,
        poll_concurrency=args.poll_concurrency,
        progress=sys.stdout.isatty() if args.progress is None else args.progress,
        compare_sim=args.compare_sim,
        scaledobject=args.scaledobject,
        task_seconds=args.task_seconds,
        sim_args=args.sim_arg,
    )
    try:
        summary = execute(config)
    except (LoadError, ProfileError) as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        print("spillway: interrupted; the run folder may be incomplete", file=sys.stderr)
        raise SystemExit(130) from None
    print(_headline(summary))
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    print(f"wrote {args.out}/report.md")
    if summary["lost"]:
        raise SystemExit(1)


def _headline(summary: dict[str, Any]) -> str:
    def num(key: str) -> str:
        value = summary.get(key)
        return (
            "n/a" if value is None else f"{value:.1f}s" if isinstance(value, float) else str(value)
        )

    return (
        f"accepted {summary['accepted']}, rejected {summary['rejected']}, "
        f"succeeded {summary['succeeded']}, failed {summary['failed']}, lost {summary['lost']}; "
        f"peak replicas {num('peak_replicas')}, "
        f"first worker after {num('time_to_first_worker_s')}, "
        f"scale-out lag {num('scale_out_lag_s')}, drain {num('drain_time_s')}"
    )
