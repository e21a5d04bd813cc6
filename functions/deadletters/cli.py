"""`spillway dlq list|show|replay|purge`: the options (the checks and the work: commands.py).

Only argparse is imported here: functions/cli.py builds every parser for every command.
"""

from __future__ import annotations

import argparse

from functions.cliargs import Commands, Parser, deferred, json_value, positive_count

_COMMANDS = "functions.deadletters.commands"
# The store's reason codes (functions/deadletters/store.py, REASONS; a test keeps them equal).
REASONS = (
    "retries_exhausted",
    "poison",
    "malformed",
    "unknown_task",
    "expired",
    "callback_failed",
    "event_undeliverable",
)


def _filters(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group(f"which dead letters to {what} (all given must match)")
    g.add_argument("--queue", help="the queue they are in")
    g.add_argument("--function", help="the function they invoked")
    g.add_argument("--reason", choices=REASONS, help="why they were dead-lettered")


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON, as the API answers")


def add_parser(commands: Commands) -> None:
    dlq = commands.add_parser(
        "dlq",
        help="see, fix and replay dead letters (reads REDIS_URL, SPILLWAY_KEY_PREFIX)",
        description="The dead-letter store, as GET/POST/DELETE /v1/dead-letters serve it.",
    )
    sub = dlq.add_subparsers(dest="dlq_command", required=True, parser_class=Parser)

    listing = sub.add_parser("list", help="list dead letters, newest first in each queue")
    _filters(listing, "list")
    listing.add_argument("--limit", type=positive_count, default=50, help="at most (50, ≤200)")
    listing.add_argument("--cursor", help="go on from a previous page's next cursor")
    _json(listing)
    listing.set_defaults(func=deferred(_COMMANDS, "list_"))

    show = sub.add_parser("show", help="one dead letter with its message and traceback")
    show.add_argument("id", help="its id: the invocation id, or the one `list` shows")
    show.add_argument("--queue", help="the queue it is in (only if the id is in several)")
    _json(show)
    show.set_defaults(func=deferred(_COMMANDS, "show"))

    replay = sub.add_parser(
        "replay",
        help="queue invocations again as new attempts: one by id, or every matching one",
    )
    replay.add_argument("id", nargs="?", help="one dead letter; leave out to replay by filters")
    _filters(replay, "replay")
    replay.add_argument("--all", action="store_true", help="every dead letter (no filter)")
    replay.add_argument(
        "--payload",
        type=json_value,
        metavar="JSON|@FILE",
        help="replay one with this corrected payload, checked against the function's model",
    )
    replay.add_argument("--limit", type=positive_count, default=1000, help="at most (1000)")
    _json(replay)
    replay.set_defaults(func=deferred(_COMMANDS, "replay"))

    purge = sub.add_parser("purge", help="delete one dead letter by id, or every matching one")
    purge.add_argument("id", nargs="?", help="one dead letter; leave out to purge by filters")
    _filters(purge, "delete")
    purge.add_argument("--all", action="store_true", help="every dead letter (no filter)")
    purge.add_argument("--limit", type=positive_count, default=10_000, help="at most (10000)")
    purge.add_argument(
        "--yes", action="store_true", help="do not ask first (needed without a terminal)"
    )
    _json(purge)
    purge.set_defaults(func=deferred(_COMMANDS, "purge"))
