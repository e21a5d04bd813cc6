"""Diagnostic variants of Spillway's worker for bench/ablate.py (not used by bench/run).

`-A bench.apps.spillway_variants:worker` is Spillway's Celery app with the settings in
$BENCH_CELERY_OVERRIDES (JSON) applied on top, e.g. task events off, so the cost of one setting
can be measured in the same run as the unchanged worker, from outside functions/.
"""

from __future__ import annotations

import json
import os

from functions.worker.app import app as worker

worker.conf.update(json.loads(os.environ.get("BENCH_CELERY_OVERRIDES", "{}")))
