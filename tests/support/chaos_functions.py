"""A test function for the hard time limit, on top of tests/support/functions.py."""

from __future__ import annotations

import time

from billiard.exceptions import SoftTimeLimitExceeded

from functions import function
from tests.support.functions import Counted, Done, _count


@function("stubborn", time_limit=2)
def stubborn(payload: Counted) -> Done:
    """Ignore the soft time limit, as code stuck in a C call would: only the hard limit stops it."""
    calls = _count(payload.key)
    deadline = time.monotonic() + payload.seconds
    while time.monotonic() < deadline:
        try:
            time.sleep(max(0.0, deadline - time.monotonic()))
        except SoftTimeLimitExceeded:
            continue
    return Done(calls=calls)
