"""Caps on concurrent `?wait=` requests: a held request occupies a connection slot (Knative's
containerConcurrency, uvicorn's memory), so without a cap idle waits could take the whole API
(issue 12: about 800 at its max scale). Per process, and per key within a process: the counts
are this pod's, which is what its slots are; SPILLWAY_MAX_WAITS and SPILLWAY_MAX_WAITS_PER_KEY.
A request over either cap is refused before anything is enqueued.
"""

from __future__ import annotations

from collections import Counter


class TooManyWaits(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Slot:
    """One held wait; `release` gives it back (once)."""

    def __init__(self, slots: WaitSlots, key: str) -> None:
        self._slots = slots
        self._key = key
        self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            self._slots._give_back(self._key)


class WaitSlots:
    def __init__(self, per_process: int, per_key: int) -> None:
        self.per_process = per_process
        self.per_key = per_key
        self.held = 0
        self._by_key: Counter[str] = Counter()

    def take(self, key: str) -> Slot:
        """A slot for `key` ("" without API keys: only the process's cap applies)."""
        if self.held >= self.per_process:
            raise TooManyWaits(
                f"this API process holds {self.held} ?wait requests (SPILLWAY_MAX_WAITS)"
            )
        if key and self._by_key[key] >= self.per_key:
            raise TooManyWaits(
                f"this key holds {self._by_key[key]} ?wait requests here "
                "(SPILLWAY_MAX_WAITS_PER_KEY)"
            )
        self.held += 1
        if key:
            self._by_key[key] += 1
        return Slot(self, key)

    def _give_back(self, key: str) -> None:
        self.held -= 1
        if key:
            self._by_key[key] -= 1
            if self._by_key[key] <= 0:
                del self._by_key[key]
