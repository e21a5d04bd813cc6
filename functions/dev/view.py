"""The live terminal view of `spillway dev` (rich), or plain event lines when not on a terminal."""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from functions.dev.clock import stamp
from functions.dev.state import ScalingEvent


@dataclass
class Rates:
    """Submit and completion rates over a sliding window.

    Completions are derived, not counted: whatever was submitted and is no longer queued or in
    flight has finished, so completed(t) = submitted(t) - backlog(t). That needs no access to the
    workers' own counters, which reset whenever the scaler replaces a worker.
    """

    window: float = 5.0
    samples: deque[tuple[float, float, float]] = field(default_factory=deque)

    def add(self, at: float, submitted: float | None, backlog: int) -> None:
        if submitted is None:
            return
        self.samples.append((at, submitted, submitted - backlog))
        while self.samples and at - self.samples[0][0] > self.window:
            self.samples.popleft()

    def current(self) -> tuple[float, float]:
        if len(self.samples) < 2:
            return 0.0, 0.0
        (t0, s0, c0), (t1, s1, c1) = self.samples[0], self.samples[-1]
        span = max(t1 - t0, 1e-6)
        return (s1 - s0) / span, max(0.0, (c1 - c0) / span)


class View:
    def __init__(self, *, title: str, fast: bool, live: bool | None = None) -> None:
        self.title = title
        self.fast = fast
        self.rates = Rates()
        self.live_enabled = sys.stdout.isatty() if live is None else live
        self._live: Any = None
        self._events: list[ScalingEvent] = []

    def __enter__(self) -> View:
        if self.live_enabled:
            from rich.live import Live

            self._live = Live(self._render({}), refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)

    def event(self, event: ScalingEvent) -> None:
        self._events = [*self._events[-7:], event]
        if not self.live_enabled:
            print(f"{stamp(event.t)} scale {event.from_} -> {event.to}: {event.rule}", flush=True)

    def update(self, state: dict[str, Any]) -> None:
        if self._live is not None:
            self._live.update(self._render(state))

    def _render(self, state: dict[str, Any]) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        submit, complete = self.rates.current()
        figures = Table.grid(padding=(0, 3))
        for _ in range(7):
            figures.add_column(justify="right")
        figures.add_row(
            "queued",
            "in flight",
            "desired",
            "running",
            "ready",
            "submit/s",
            "done/s",
            style="bold",
        )
        figures.add_row(
            *(
                str(state.get(k, "-"))
                for k in ("queue_depth", "in_flight", "desired", "running", "ready")
            ),
            f"{submit:.1f}",
            f"{complete:.1f}",
        )
        events = Table(title="recent scaling events", title_justify="left", expand=True)
        events.add_column("time", no_wrap=True)
        events.add_column("change", no_wrap=True)
        events.add_column("rule")
        for e in reversed(self._events):
            events.add_row(stamp(e.t), f"{e.from_} → {e.to}", e.rule)
        header = Text(self.title, style="bold")
        if self.fast:
            header.append(
                "   FAST MODE: polling, cooldown and HPA sync run 10x (waits shown are real)",
                style="yellow",
            )
        return Group(header, figures, events)
