"""The progress display: rich bars for sending and draining, with the latest sample beside them.

Shown only when stdout is a terminal (or with --progress); otherwise a line per phase.
"""

from __future__ import annotations

import sys
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from functions.loadtest.records import Sample


def _fmt(value: int | None) -> str:
    return "?" if value is None else str(value)


class Display:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Display:
        if self.enabled:
            self._progress = Progress(
                TextColumn("{task.description:<9}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[state]}"),
                console=Console(file=sys.stdout),
            )
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def phase(self, name: str, total: int, message: str) -> None:
        if self._progress is None:
            sys.stdout.write(message + "\n")
            sys.stdout.flush()
            return
        self._tasks[name] = self._progress.add_task(name, total=total, state="")

    def update(self, name: str, completed: int, sample: Sample | None) -> None:
        if self._progress is None or name not in self._tasks:
            return
        state = ""
        if sample is not None:
            state = (
                f"queued {_fmt(sample.queue_depth)}  in flight {_fmt(sample.in_flight)}  "
                f"replicas {_fmt(sample.replicas)}/{_fmt(sample.desired)}"
            )
        self._progress.update(self._tasks[name], completed=completed, state=state)
