"""A function on a queue of its own with a tiny backlog limit, for the Retry-After tests.

Only the load tests' API registers it; their worker does not, so nothing consumes its queue and
the queue stays full until a test empties it.
"""

from __future__ import annotations

from functions import function
from functions.builtins import EchoPayload

QUEUE = "lt-tiny"
LIMIT = 3


@function("tiny-backlog", queue=QUEUE, max_backlog=LIMIT, time_limit=10)
def tiny_backlog(payload: EchoPayload) -> EchoPayload:
    """Never run in the tests: it only fills its queue."""
    return payload
