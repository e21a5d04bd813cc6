"""What `spillway dlq` prints: JSON as the API answers, or short tables for people."""

from __future__ import annotations

import json
import sys
from typing import Any

_COLUMNS = ("id", "queue", "function", "reason", "attempts", "last_failed_at", "error")
_WIDTH = 60  # characters of an error message shown in a table


def as_json(value: Any) -> None:
    print(json.dumps(value, indent=2))


def table(items: list[dict[str, Any]]) -> None:
    rows = [
        [
            str(item["id"]),
            str(item["queue"]),
            item["function"] or "-",
            str(item["reason"]),
            str(item["attempts"]),
            item["last_failed_at"] or "-",
            _error_line(item["error"]),
        ]
        for item in items
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(_COLUMNS)]
    for row in [[c.upper().replace("_", " ") for c in _COLUMNS], *rows]:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def _error_line(error: dict[str, Any]) -> str:
    text = ": ".join(part for part in (error.get("type"), error.get("message")) if part)
    return text if len(text) <= _WIDTH else text[: _WIDTH - 1] + "…"


def entry(whole: dict[str, Any]) -> None:
    for key in ("id", "invocation_id", "queue", "function", "reason", "attempts", "tenant"):
        print(f"{key + ':':16}{whole.get(key) if whole.get(key) is not None else '-'}")
    print(f"{'first failed:':16}{whole['first_failed_at']}")
    print(f"{'last failed:':16}{whole['last_failed_at']} (worker {whole.get('worker') or '-'})")
    print(f"{'error:':16}{_error_line(whole['error']) if whole['error'] else '-'}")
    for frame in whole["error"].get("traceback") or []:
        print(f"{'':16}  {frame}")
    cut = f" (cut short from {whole['message_bytes']} bytes)" if whole.get("truncated") else ""
    print(f"message{cut}:")
    print(whole["message"])


def note(text: str) -> None:
    """A line for people, on stderr, so stdout stays what the command answers."""
    print(text, file=sys.stderr)
