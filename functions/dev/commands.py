"""`spillway dev`: read the ScaledObject it follows, then run the system (run.py)."""

from __future__ import annotations

import argparse

from functions.cliargs import fail
from functions.dev.run import run


def dev(args: argparse.Namespace) -> None:
    spec, source = None, ""
    if args.workers is None:
        # The scaler's modules need the tools extra; a fixed pool of workers does not.
        from functions.dev.scaler import load_spec
        from functions.scaling.errors import ScalingError

        try:  # before anything starts: a bad manifest costs no Redis, API or worker
            spec, source = load_spec(args.scaledobject, max_workers=args.max_workers)
        except ScalingError as exc:
            fail(str(exc))
    raise SystemExit(
        run(port=args.port, workers=args.workers, fast=args.fast, spec=spec, spec_source=source)
    )
