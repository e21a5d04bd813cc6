"""`spillway dlq`: check the options together, run the store, and end a refusal on one line.

The store is the API's (functions/deadletters/store.py), on redis-py's asyncio client here
(connection.py); `--json` prints what the API answers for the same request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from functions.cliargs import fail
from functions.deadletters import output
from functions.deadletters.connection import Connection
from functions.deadletters.errors import DeadLetterError
from functions.deadletters.store import MAX_BULK, MAX_PAGE, DeadLetters, Filters
from functions.errors import ConfigError
from functions.registry import Registry, load_modules
from functions.settings import Settings, get_settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        fail(str(exc))


def _run(work: Callable[[DeadLetters], Awaitable[T]]) -> T:
    """Run `work` on the store; its refusals end the command with one line."""
    settings = _settings()

    async def main() -> T:
        connection = Connection(settings.REDIS_URL)
        try:
            return await work(DeadLetters(connection, settings.KEY_PREFIX, actor="cli"))
        finally:
            await connection.aclose()

    try:
        return asyncio.run(main())
    except DeadLetterError as exc:
        fail(str(exc), exc.exit_status)


def _filters(args: argparse.Namespace, verb: str) -> Filters:
    filters = Filters(args.queue, args.function, args.reason)
    if args.id is not None:
        if not filters.empty or args.all:
            fail(f"give a dead letter's id or filters to {verb}, not both")
        return filters
    if filters.empty and not args.all:
        fail(f"name a dead letter's id, or --queue, --function or --reason, or --all to {verb}")
    if not filters.empty and args.all:
        fail("--all takes every dead letter: leave out the filters, or --all")
    if args.limit > MAX_BULK:
        fail(f"--limit is at most {MAX_BULK}")
    return filters


def list_(args: argparse.Namespace) -> None:
    if args.limit > MAX_PAGE:
        fail(f"--limit is at most {MAX_PAGE} per page (go on with --cursor)")
    filters = Filters(args.queue, args.function, args.reason)
    page = _run(lambda store: store.list(filters, limit=args.limit, cursor=args.cursor))
    if args.json:
        output.as_json({"items": page.items, "next_cursor": page.next_cursor})
        return
    if page.items:
        output.table(page.items)
    elif page.next_cursor is None:
        output.note("no dead letters match")
    if page.next_cursor:
        output.note(f"more: spillway dlq list --cursor {page.next_cursor} (same filters)")


def show(args: argparse.Namespace) -> None:
    whole = _run(lambda store: store.get(args.id, args.queue))
    if args.json:
        output.as_json(whole)
    else:
        output.entry(whole)


def _registry(settings: Settings) -> Registry:
    try:
        return load_modules(settings.FUNCTION_MODULES, settings.QUEUE_ROUTES)
    except ConfigError as exc:
        fail(str(exc))


def replay(args: argparse.Namespace) -> None:
    filters = _filters(args, "replay")
    if args.id is None:
        if args.payload is not None:
            fail("--payload corrects one dead letter: name its id")
        bulk = _run(lambda store: store.replay_matching(filters, limit=args.limit))
        answer: dict[str, Any] = {
            "replayed": len(bulk.replayed),
            "invocation_ids": bulk.replayed,
            "skipped": bulk.skipped,
            "more": bulk.more,
        }
        if args.json:
            output.as_json(answer)
            return
        print(f"replayed {len(bulk.replayed)}")
        for code, count in sorted(bulk.skipped.items()):
            print(f"skipped {count}: {code}")
        if bulk.more:
            output.note(f"more match: run it again (--limit {args.limit} reached)")
        return
    registry = _registry(_settings()) if args.payload is not None else None
    invocation_id = _run(
        lambda store: store.replay(args.id, args.queue, payload=args.payload, registry=registry)
    )
    status_url = f"/v1/invocations/{invocation_id}"
    if args.json:
        output.as_json({"id": invocation_id, "status": "queued", "status_url": status_url})
    else:
        print(f"queued {invocation_id} again (GET {status_url})")


def purge(args: argparse.Namespace) -> None:
    filters = _filters(args, "purge")
    if args.id is not None:
        _run(lambda store: store.delete(args.id, args.queue))
        answer: dict[str, Any] = {"deleted": 1, "more": False}
    else:
        if not args.yes:
            _confirm(filters)
        result = _run(lambda store: store.purge(filters, limit=args.limit))
        answer = {"deleted": result.deleted, "more": result.more}
    if args.json:
        output.as_json(answer)
    else:
        print(f"deleted {answer['deleted']}" + (" (more match)" if answer["more"] else ""))


def _confirm(filters: Filters) -> None:
    what = ", ".join(
        f"{name} {value}"
        for name, value in (
            ("queue", filters.queue),
            ("function", filters.function),
            ("reason", filters.reason),
        )
        if value
    )
    if not sys.stdin.isatty():
        fail("purging by filters deletes for good: pass --yes (no terminal to ask on)")
    answer = input(f"delete every dead letter of {what or 'every queue'} for good? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        fail("nothing deleted", 1)
