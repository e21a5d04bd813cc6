"""`spillway load`: check the options together, then run (run.py).

Every mistake is one `spillway: error:` line and exit 2, found before anything is sent or created.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from functions import checkout
from functions.cliargs import fail
from functions.loadtest.errors import LoadError
from functions.loadtest.metrics import client_errors
from functions.loadtest.profiles import Profile, arrivals
from functions.loadtest.summary import Summary

DEFAULT_SCALEDOBJECT = "keda/base/scaledobject.yaml"
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


def _profile(args: argparse.Namespace) -> Profile:
    for option, profiles in _PROFILE_OPTIONS.items():
        if getattr(args, option) is not None and args.profile not in profiles:
            flag = "--" + option.replace("_", "-")
            uses = ", ".join(profiles)
            fail(f"{flag} does not apply to --profile {args.profile} (only to {uses})")
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
            fail(f"cannot read --payload file {text[1:]}: {exc.strerror or exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"--payload is not JSON: {exc.msg} at position {exc.pos}")


def _kube(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    namespace, _, name = value.partition("/")
    if not namespace or not name or "/" in name:
        fail(f"--kube-deployment must be NAMESPACE/NAME, not {value!r}")
    return namespace, name


def load(args: argparse.Namespace) -> None:
    from functions.loadtest.config import LoadConfig
    from functions.loadtest.run import execute

    if not args.url.startswith(("http://", "https://")):
        fail(f"--url must start with http:// or https://, not {args.url!r}")
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        fail(f"--out {args.out} already exists and is not an empty folder")
    profile = _profile(args)
    try:
        times = arrivals(profile)  # a schedule that cannot be built fails here, before the run
    except LoadError as exc:
        fail(str(exc))
    if not times:
        fail(f"--profile {profile.name} with these options offers no invocations (a zero rate?)")
    kube_deployment = _kube(args.kube_deployment)  # the argument's shape first, then the client
    if kube_deployment is not None and importlib.util.find_spec("kubernetes") is None:
        from functions.loadtest.sources import kube_missing

        fail(kube_missing())
    if args.compare_sim:
        from functions.loadtest.simcompare import check_available, check_inputs

        if args.scaledobject is None:  # the checkout's, from wherever load runs
            args.scaledobject = checkout.manifest(DEFAULT_SCALEDOBJECT)
            if args.scaledobject is None:
                fail(checkout.missing_manifest("--scaledobject", DEFAULT_SCALEDOBJECT))
        if not args.scaledobject.is_file():
            fail(f"--scaledobject {args.scaledobject} is not a file")
        try:
            check_available()
            check_inputs(args.scaledobject, args.sim_arg)  # a manifest with no ScaledObject
        except LoadError as exc:
            fail(str(exc))
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
        kube_deployment=kube_deployment,
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
    try:  # warnings about what will not be sampled come before the run, not only after it
        summary = execute(
            config, times, warn=lambda note: print(f"warning: {note}", file=sys.stderr)
        )
    except LoadError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        print("spillway: interrupted; the run folder may be incomplete", file=sys.stderr)
        raise SystemExit(130) from None
    print(_headline(summary))
    for warning in summary["warnings"]:
        print(f"warning: {warning}")
    print(f"wrote {args.out / 'report.md'}")
    invalid = client_errors(summary)
    if invalid:
        fail(f"the API refused {invalid} invocations as invalid requests (see the warnings)", 1)
    if summary["lost"]:
        raise SystemExit(1)


def _headline(summary: Summary) -> str:
    def num(value: float | None) -> str:
        return (
            "n/a" if value is None else f"{value:.1f}s" if isinstance(value, float) else str(value)
        )

    return (
        f"accepted {summary['accepted']}, rejected {summary['rejected']}, "
        f"succeeded {summary['succeeded']}, failed {summary['failed']}, lost {summary['lost']}; "
        f"peak replicas {num(summary['peak_replicas'])}, "
        f"first worker after {num(summary['time_to_first_worker_s'])}, "
        f"scale-out lag {num(summary['scale_out_lag_s'])}, drain {num(summary['drain_time_s'])}"
    )
