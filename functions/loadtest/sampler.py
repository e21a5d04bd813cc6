"""Once a second, from a thread of its own, ask every source how the system is doing.

A thread (not the producer's event loop): a burst of thousands of sends keeps the loop busy, and
the samples must stay on time while it does. The sources are blocking clients anyway (redis-py,
the Kubernetes client).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from functions.loadtest.records import Clock, Sample
from functions.loadtest.sources import Source


class Sampler:
    def __init__(self, sources: Sequence[Source], clock: Clock, interval: float = 1.0) -> None:
        self.sources = list(sources)
        self.clock = clock
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="spillway-load-sampler", daemon=True
        )

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._stop.set()
            self._thread.join()
            self.sample_once()  # the state at the end, whatever the phase of the last tick
        for source in self.sources:
            source.close()

    def latest(self) -> Sample | None:
        return self.samples[-1] if self.samples else None

    def errors(self) -> list[str]:
        return [error for source in self.sources for error in source.errors]

    def sample_once(self) -> Sample:
        sample = Sample(t=self.clock.now())
        for source in self.sources:
            source.read(sample)
        self.samples.append(sample)  # list.append is atomic: readers see whole samples
        return sample

    def _loop(self) -> None:
        due = self.clock.now()
        while not self._stop.is_set():
            self.sample_once()
            due += self.interval
            # Skip ticks that a slow source made us miss rather than sampling in a rush.
            while due < self.clock.now():
                due += self.interval
            self._stop.wait(due - self.clock.now())
