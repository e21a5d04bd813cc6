"""Spillway: typed Python functions, invoked over HTTP and run by KEDA-scaled Celery workers.

What user code needs is importable from here:

    from functions import EventRoute, FunctionSpec, RetryPolicy, function

(defined in functions/registry.py). The rest of the package is the API, the worker and the
`spillway` tools.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["EventRoute", "FunctionSpec", "RetryPolicy", "function"]

if TYPE_CHECKING:
    from functions.registry import EventRoute, FunctionSpec, RetryPolicy, function


def __getattr__(name: str) -> Any:
    # Imported on first use: the `spillway` command lives in this package too, and its tools
    # (simulate, load, --help) need not pay for pydantic, which the registry imports.
    if name in __all__:
        from functions import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
