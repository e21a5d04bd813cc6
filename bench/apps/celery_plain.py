"""A plain Celery app with Celery's default settings and a trivial echo task (worker benchmark).

Only what the comparison needs is set: the Redis broker and result backend (Celery's defaults
already serialize with JSON). Everything else, prefetch multiplier 4, early acks, results stored,
no task events, is Celery's default.

Run: `REDIS_URL=redis://... celery -A bench.apps.celery_plain worker`.
"""

from __future__ import annotations

import os
from typing import Any

from celery import Celery

TASK_NAME = "bench.echo"


def create(url: str) -> Celery:
    celery = Celery("plain", broker=url, backend=url)

    @celery.task(name=TASK_NAME)
    def echo(payload: dict[str, Any]) -> dict[str, Any]:
        return payload

    return celery


app = create(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
