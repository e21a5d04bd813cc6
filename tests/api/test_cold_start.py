"""What the API imports decides its cold start under Knative (docs/benchmarks.md)."""

from __future__ import annotations

import subprocess
import sys

from tests.support.processes import ROOT

HEAVY = ("redis", "celery", "kombu", "pydantic.v1", "billiard")


def test_the_api_imports_none_of_the_heavy_modules() -> None:
    code = (
        "import sys, functions.api.main as m; m.app.openapi(); "
        f"print(','.join(x for x in {HEAVY!r} if x in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == ""
