"""`spillway dev`: its options (argparse only; the work starts in commands.py)."""

from __future__ import annotations

from pathlib import Path

from functions.cliargs import Commands, count, deferred, port, positive_count


def add_parser(commands: Commands) -> None:
    """Register `dev` on the `spillway` command's subparsers."""
    dev = commands.add_parser(
        "dev", help="run Redis, the API and workers scaled like KEDA would, on this machine"
    )
    dev.add_argument("--port", type=port, default=8080, help="API port (default 8080)")
    dev.add_argument(
        "--fast",
        action="store_true",
        help="run the scaler's clock 10x (shorter polling, cooldown, HPA sync)",
    )
    dev.add_argument(
        "--scaledobject",
        type=Path,
        help="ScaledObject to follow: a YAML file or kustomization dir (default: the "
        "checkout's keda/, found from any directory)",
    )
    dev.add_argument(
        "--max-workers",
        type=positive_count,
        default=8,
        help="cap on worker processes, overriding maxReplicaCount (default 8)",
    )
    dev.add_argument("--workers", type=count, help="run this many workers and no scaler")
    dev.set_defaults(func=deferred("functions.dev.commands", "dev"))
