"""What a running function may ask about its invocation: how many retries came before this run.

The worker sets it around each call (functions/worker/execution.py, `attempt`); outside a worker
it reads 0. A function that fails transiently on purpose (`fail-transiently` in
functions/builtins.py) or that wants to change its approach on a retry reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_RETRIES: ContextVar[int] = ContextVar("spillway_retries", default=0)


def retries() -> int:
    """Retries already made of the invocation now running: 0 on its first run."""
    return _RETRIES.get()


@contextmanager
def running(retries: int) -> Iterator[None]:
    """Within this block, `retries()` says `retries`."""
    token = _RETRIES.set(retries)
    try:
        yield
    finally:
        _RETRIES.reset(token)
