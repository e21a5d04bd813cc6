"""`spillway sender`: its options (argparse only; the work starts in commands.py)."""

from __future__ import annotations

from functions.cliargs import Commands, deferred, positive_count


def add_parser(commands: Commands) -> None:
    """Register `sender` on the `spillway` command's subparsers."""
    sender = commands.add_parser(
        "sender",
        help="deliver signed callbacks and completion events from the outbox (Redis)",
    )
    sender.add_argument(
        "--concurrency",
        type=positive_count,
        help="deliveries in progress at once (default SPILLWAY_SENDER_CONCURRENCY, 16)",
    )
    sender.set_defaults(func=deferred("functions.sender.commands", "sender"))
