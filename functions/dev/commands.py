"""`spillway dev`: check the port and read the ScaledObject it follows, then run the system."""

from __future__ import annotations

import argparse

from functions import checkout
from functions.cliargs import fail
from functions.dev.errors import DevError
from functions.dev.port import check_port
from functions.dev.run import run
from functions.errors import ConfigError
from functions.settings import get_settings


def dev(args: argparse.Namespace) -> None:
    try:
        settings = get_settings()  # the API and the workers it starts read the same environment
        # Before anything starts: a held port would otherwise surface only after Redis, a
        # scaler and workers are up, or worse, as the other program answering our readiness.
        check_port(settings.HOST, args.port)
    except (ConfigError, DevError) as exc:
        fail(str(exc))
    spec, source = None, ""
    if args.workers is None:
        # The scaler's modules need the tools extra; a fixed pool of workers does not.
        from functions.dev.scaler import load_spec
        from functions.scaling.errors import ScalingError

        path = args.scaledobject or checkout.manifest("keda")  # found from any directory
        if path is None:
            fail(checkout.missing_manifest("--scaledobject", "keda"))
        # Without kubectl to render keda/ (kustomize), its base ScaledObject is plain YAML.
        fallback = path / "base" / "scaledobject.yaml" if path.is_dir() else None
        try:  # before anything starts: a bad manifest costs no Redis, API or worker
            spec, source = load_spec(path, max_workers=args.max_workers, fallback=fallback)
        except ScalingError as exc:
            fail(str(exc))
    raise SystemExit(
        run(port=args.port, workers=args.workers, fast=args.fast, spec=spec, spec_source=source)
    )
