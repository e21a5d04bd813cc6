"""Keep FastAPI from importing `pydantic.v1` while it builds routes: a cold-start cost.

To reject pydantic.v1 models, FastAPI checks every route parameter and response model with
`fastapi._compat.shared.is_pydantic_v1_model_class`, which imports `pydantic.v1`, a second copy
of pydantic, on every Knative cold start (docs/benchmarks.md). A class can only be a v1 model once
something has imported `pydantic.v1`, so until then the answer is "no" without the import.
`tests/api/test_cold_start.py` fails if a FastAPI upgrade makes this stop working.
"""

from __future__ import annotations

import sys
from typing import Any


def install() -> None:
    try:
        from fastapi._compat import shared
    except ImportError:  # pragma: no cover - FastAPI moved it; the test will say so
        return
    original = getattr(shared, "is_pydantic_v1_model_class", None)
    if original is None or getattr(original, "spillway_patched", False):
        return

    def is_pydantic_v1_model_class(cls: Any) -> bool:
        return "pydantic.v1" in sys.modules and bool(original(cls))

    is_pydantic_v1_model_class.spillway_patched = True  # type: ignore[attr-defined]
    shared.is_pydantic_v1_model_class = is_pydantic_v1_model_class
