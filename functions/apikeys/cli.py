"""`spillway keys create|list|revoke|rotate`: the options (the work: commands.py).

Only argparse is imported here: functions/cli.py builds every parser for every command.
"""

from __future__ import annotations

import argparse

from functions.cliargs import (
    Commands,
    Parser,
    count,
    deferred,
    names,
    non_negative,
    positive_count,
    timestamp,
)

_COMMANDS = "functions.apikeys.commands"
SCOPES = ("invoke", "read", "admin")  # functions/apikeys/model.py SCOPES (a test keeps them equal)


def _json(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object")


def add_parser(commands: Commands) -> None:
    keys = commands.add_parser(
        "keys",
        help="create, list, revoke and rotate API keys (reads REDIS_URL, SPILLWAY_KEY_PREFIX)",
        description="API keys: `Authorization: Bearer <key>` on every /v1 request.",
    )
    sub = keys.add_subparsers(dest="keys_command", required=True, parser_class=Parser)

    create = sub.add_parser("create", help="create a key and print it, once")
    create.add_argument("--tenant", required=True, help="whose invocations it submits and reads")
    create.add_argument(
        "--scope",
        action="append",
        choices=SCOPES,
        help="invoke, read or admin; repeat for several (default: invoke and read)",
    )
    create.add_argument(
        "--functions", type=names, metavar="A,B", help="the only functions it may invoke"
    )
    create.add_argument(
        "--rate",
        type=non_negative,
        help="invocations per second (default SPILLWAY_KEY_RATE; 0: no limit)",
    )
    create.add_argument(
        "--burst", type=positive_count, help="invocations at once (default SPILLWAY_KEY_BURST)"
    )
    create.add_argument(
        "--max-backlog",
        type=count,
        help="the tenant's unfinished invocations this key may add to (default "
        "SPILLWAY_TENANT_MAX_BACKLOG; 0: no limit)",
    )
    create.add_argument(
        "--expires", type=timestamp, metavar="ISO8601", help="when it stops working"
    )
    create.add_argument(
        "--spec",
        action="store_true",
        help="store nothing: print the key and its line for SPILLWAY_KEYS_FILE",
    )
    _json(create)
    create.set_defaults(func=deferred(_COMMANDS, "create"))

    listing = sub.add_parser("list", help="list keys (never their secrets)")
    _json(listing)
    listing.set_defaults(func=deferred(_COMMANDS, "list_"))

    revoke = sub.add_parser("revoke", help="stop a key, on every API replica within a second")
    revoke.add_argument("id", help="the key's id (`keys list`)")
    _json(revoke)
    revoke.set_defaults(func=deferred(_COMMANDS, "revoke"))

    rotate = sub.add_parser("rotate", help="a new secret for a key: same id, tenant and limits")
    rotate.add_argument("id", help="the key's id (`keys list`)")
    _json(rotate)
    rotate.set_defaults(func=deferred(_COMMANDS, "rotate"))
