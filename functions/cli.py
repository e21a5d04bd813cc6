"""`spillway`: run the API, workers, the sender or the whole system locally; operate dead
letters and API keys.

Imports stay inside the commands: `spillway api` must not pay for Celery's import (cold start),
and `spillway worker` must set REMAP_SIGTERM before billiard is imported.
"""

from __future__ import annotations

import argparse
import os
import tempfile

from functions.apikeys import cli as keys_cli
from functions.cliargs import Parser, fail, port, version
from functions.deadletters import cli as dlq_cli
from functions.dev import cli as dev_cli
from functions.errors import ConfigError
from functions.loadtest import cli as loadtest_cli
from functions.scaling import cli as scaling_cli
from functions.sender import cli as sender_cli

# Imported only by `dev`, `simulate` and `load`, from the `tools` extra.
_TOOLS = frozenset({"httpx", "matplotlib", "rich", "yaml"})


def cmd_api(args: argparse.Namespace) -> None:
    from functions.registry import load_modules
    from functions.settings import get_settings

    try:  # here, where a mistake is one line, rather than in uvicorn's traceback
        settings = get_settings()
        load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)
    except ConfigError as exc:
        fail(str(exc))
    if settings.KEYS_FILE:
        from functions.apikeys import specs
        from functions.apikeys.errors import KeysError

        try:
            specs.read(settings.KEYS_FILE)
        except KeysError as exc:
            fail(str(exc))
    import uvicorn

    uvicorn.run(
        "functions.api.main:app",
        host=args.host or settings.HOST,
        port=args.port or settings.PORT,
        log_level=settings.LOG_LEVEL.lower(),
        loop="auto",
        http="auto",
        proxy_headers=True,
        # Knative sends SIGTERM and waits; finish in-flight requests, then exit.
        timeout_graceful_shutdown=20,
        access_log=args.access_log,
    )


def cmd_worker(args: argparse.Namespace) -> None:
    # Soft shutdown on SIGTERM needs this before billiard is imported (billiard/common.py).
    os.environ.setdefault("REMAP_SIGTERM", "SIGQUIT")
    # Tasks run in pool children: their metrics are aggregated through files here.
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="spillway-metrics-"))
    from functions.settings import get_settings

    try:
        settings = get_settings()
        from functions.worker.app import app  # builds the app: checks the limits (ConfigError)
    except ConfigError as exc:
        fail(str(exc))
    queues = settings.QUEUES or sorted(q.name for q in app.conf.task_queues)
    argv = [
        "worker",
        "--queues",
        ",".join(queues),
        "--loglevel",
        settings.LOG_LEVEL,
        "--without-gossip",
        "--without-mingle",
        *args.celery_args,
    ]
    app.worker_main(argv)


def cmd_acl(args: argparse.Namespace) -> None:
    """Print the Redis ACL rules of every component user for this process's settings."""
    import sys
    from urllib.parse import urlsplit

    from functions import acl
    from functions.registry import load_modules
    from functions.settings import get_settings

    try:
        settings = get_settings()
        registry = load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)
    except ConfigError as exc:
        fail(str(exc))
    path = urlsplit(settings.REDIS_URL).path.strip("/")
    layout = acl.Layout(
        prefix=settings.KEY_PREFIX,
        queues=tuple(args.queue or settings.QUEUES or registry.queues()),
        pools=tuple(args.pool if args.pool is not None else [settings.POOL]),
        db=int(path) if path.isdigit() else 0,
        remote_control=settings.REMOTE_CONTROL,
        redis_version=args.redis_version,
    )
    # No passwords: give each user its own with `on #<sha256>` (scripts/redis-secret does, for
    # the manifests) or `ACL SETUSER <name> on ><password> <rules>`.
    for user in acl.users(layout):
        sys.stdout.write(f"user {user.name} {user.rules()}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="spillway", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    api = sub.add_parser("api", help="serve the HTTP API with uvicorn (0.0.0.0:$PORT)")
    api.add_argument("--host", help="bind address (default SPILLWAY_HOST, 0.0.0.0)")
    api.add_argument("--port", type=port, help="port (default $PORT, 8080)")
    api.add_argument("--access-log", action="store_true", help="log every request")
    api.set_defaults(func=cmd_api)

    worker = sub.add_parser("worker", help="run a Celery worker for the configured queues")
    worker.add_argument(
        "celery_args", nargs=argparse.REMAINDER, help="extra `celery worker` options after --"
    )
    worker.set_defaults(func=cmd_worker)

    rules = sub.add_parser(
        "acl",
        help="print the Redis ACL rules of the api, worker, keda and sender users",
        description="Redis ACL rules per component for the settings in the environment "
        "(SPILLWAY_KEY_PREFIX, queues, SPILLWAY_POOL, the database in REDIS_URL), without "
        "passwords. docs/deploy.md, 'Redis ACL users'.",
    )
    rules.add_argument("--queue", action="append", help="a queue (repeat; default: all)")
    rules.add_argument(
        "--pool", action="append", help="a pool (repeat; default SPILLWAY_POOL; '' unnamed)"
    )
    rules.add_argument(
        "--redis-version",
        type=version,
        default=(7, 4),
        help="the Redis the rules are for (default 7.4): 7.2 commands are named only from 7.2",
    )
    rules.set_defaults(func=cmd_acl)

    # Each command package registers its own command (cli.py: argparse only, so cheap).
    dev_cli.add_parser(sub)
    dlq_cli.add_parser(sub)
    keys_cli.add_parser(sub)
    loadtest_cli.add_parser(sub)
    scaling_cli.add_parser(sub)
    sender_cli.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if getattr(args, "celery_args", None) and args.celery_args[0] == "--":
        args.celery_args = args.celery_args[1:]
    try:
        args.func(args)
    except ModuleNotFoundError as exc:
        if exc.name not in _TOOLS:
            raise
        from functions.checkout import install_hint

        fail(f"`spillway {args.command}` needs the tools extra: {install_hint('tools')}")


if __name__ == "__main__":
    main()
