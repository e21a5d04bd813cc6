"""What the dead-letter store refuses, under one base both front ends turn into their answer.

    DeadLetterError       the base: the API answers a problem (functions/api/routes/
                          dead_letters.py), `spillway dlq` one `spillway: error:` line
      NotFound            no dead letter with that id (in that queue)
      Ambiguous           the id is in more than one queue: name the queue
      NotReplayable       this entry cannot be replayed; `code` says why (store.WHY_NOT)
      InvalidPayload      a corrected payload does not fit the function's input model
      InvalidCursor       a cursor this store did not hand out
      StoreUnavailable    Redis could not be reached (the CLI; the API has its own 503)

`status` is the HTTP status the API answers with; `exit_status` the CLI's exit code (2 when the
input is wrong, 1 when the work could not be done).
"""

from __future__ import annotations

from typing import Any


class DeadLetterError(Exception):
    status = 400
    exit_status = 2
    slug = "dead-letter-error"


class NotFound(DeadLetterError):
    status = 404
    slug = "unknown-dead-letter"


class Ambiguous(DeadLetterError):
    status = 409
    slug = "ambiguous-dead-letter"

    def __init__(self, message: str, queues: list[str]) -> None:
        super().__init__(message)
        self.queues = queues


class NotReplayable(DeadLetterError):
    status = 409
    exit_status = 1
    slug = "not-replayable"

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class InvalidPayload(DeadLetterError):
    status = 422
    slug = "invalid-input"

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.errors = errors


class InvalidCursor(DeadLetterError):
    status = 400
    slug = "invalid-cursor"


class StoreUnavailable(DeadLetterError):
    status = 503
    exit_status = 1
    slug = "queue-unavailable"
