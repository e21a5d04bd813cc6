"""What every `spillway` command shares: its value parsers, its parser class and `fail`.

A value parser is an argparse `type=`: it turns the text of one option into its value or raises
`ArgumentTypeError`, which argparse reports as `spillway: error: argument --x: <message>`. Every
command uses these, so a number, a count or a duration is read, refused and explained the same
way everywhere. Mistakes argparse cannot see (a combination of options, a file that is missing)
go through `fail`: one `spillway: error:` line on stderr and a non-zero exit, never a traceback.

Only the standard library is imported: `functions/cli.py` builds every command's parser on every
run, and `spillway api` must not pay for anything more.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import sys
from collections.abc import Callable
from typing import NoReturn, TypeAlias

PROG = "spillway"

# Seconds per unit of a duration such as `90s`, `5m` or `1.5h`.
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


class Parser(argparse.ArgumentParser):
    """The parser of `spillway` and of each of its commands: errors fit on one line."""

    def error(self, message: str) -> NoReturn:
        # The usage block is one `--help` away; a script's log gets one line, not ten.
        self.exit(2, f"{PROG}: error: {message} (see `{PROG} --help`)\n")


# What `add_subparsers` returns; each command package's `add_parser(commands)` adds itself to it.
Commands: TypeAlias = "argparse._SubParsersAction[Parser]"


def fail(message: str, status: int = 2) -> NoReturn:
    """Stop the command with one `spillway: error:` line: exit 2 when the input is wrong (the
    default), 1 when the work itself failed."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    raise SystemExit(status)


def deferred(module: str, name: str) -> Callable[[argparse.Namespace], None]:
    """A command's function that imports `module` only when the command runs, so that building
    the parser never loads a command's dependencies."""

    def command(args: argparse.Namespace) -> None:
        getattr(importlib.import_module(module), name)(args)

    return command


def _reject(message: str) -> NoReturn:
    raise argparse.ArgumentTypeError(message)


def finite(text: str) -> float:
    """Any real number: not nan, not infinite."""
    try:
        value = float(text)
    except ValueError:
        _reject(f"not a number: {text!r}")
    if not math.isfinite(value):
        _reject(f"must be a finite number, not {text}")
    return value


def positive(text: str) -> float:
    """A finite number above zero."""
    value = finite(text)
    if value <= 0:
        _reject(f"must be a positive number, not {text}")
    return value


def non_negative(text: str) -> float:
    """A finite number, zero or more."""
    value = finite(text)
    if value < 0:
        _reject(f"must be zero or more, not {text}")
    return value


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        _reject(f"not a whole number: {text!r}")


def count(text: str) -> int:
    """A whole number, zero or more."""
    value = _whole(text)
    if value < 0:
        _reject(f"must be zero or more, not {text}")
    return value


def positive_count(text: str) -> int:
    """A whole number, one or more."""
    value = _whole(text)
    if value < 1:
        _reject(f"must be a positive whole number, not {text}")
    return value


def port(text: str) -> int:
    """A TCP port to listen on or connect to, 1 to 65535."""
    value = _whole(text)
    if not 1 <= value <= 65535:
        _reject(f"must be a port number from 1 to 65535, not {text}")
    return value


def duration(text: str) -> float:
    """Seconds, zero or more: a number (`90`) or a number with a unit, s, m or h (`90s`, `1.5m`)."""
    number, unit = text.strip(), 1.0
    if number[-1:] in _UNITS:
        number, unit = number[:-1], _UNITS[number[-1]]
    try:
        value = float(number) * unit
    except ValueError:
        _reject(f"not a duration: {text!r} (seconds, or a number with s, m or h)")
    if not math.isfinite(value) or value < 0:
        _reject(f"must be a finite duration, zero or more, not {text}")
    return value


def positive_duration(text: str) -> float:
    """A duration (see `duration`) above zero."""
    value = duration(text)
    if value <= 0:
        _reject(f"must be a positive duration, not {text}")
    return value


def json_value(text: str) -> object:
    """A JSON value, given inline (`{"n": 1}`) or read from a file (`@payload.json`)."""
    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            _reject(f"cannot read {text[1:]!r}: {exc.strerror}")
    try:
        return json.loads(text)
    except ValueError as exc:
        _reject(f"not JSON ({exc})")


def version(text: str) -> tuple[int, int]:
    """A `major.minor` version, such as a Redis server's (`7.4`; a patch level is ignored)."""
    parts = text.split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        _reject(f"not a version such as 7.4: {text!r}")
    return int(parts[0]), int(parts[1])


def timestamp(text: str) -> float:
    """An ISO 8601 time with its offset (`2027-01-31T12:00:00Z`, `...+02:00`), as Unix seconds."""
    from datetime import datetime

    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        _reject(f"not an ISO 8601 time: {text!r} (e.g. 2027-01-31T12:00:00Z)")
    if when.tzinfo is None:
        _reject(f"give the time's offset: {text}Z for UTC, or +hh:mm")
    return when.timestamp()


def names(text: str) -> tuple[str, ...]:
    """A comma-separated list of names (`a,b`), none empty."""
    items = tuple(item.strip() for item in text.split(","))
    if not all(items):
        _reject(f"expected names separated by commas, not {text!r}")
    return items
