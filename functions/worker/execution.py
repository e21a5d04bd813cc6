"""Running the user's function for one invocation: validate the input, call, validate the output.

Plain functions the Celery task wraps (the invocation record is store.py's); none of them needs
a broker, so they are tested directly.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from pydantic import BaseModel

from functions.registry import FunctionSpec


def call_function(spec: FunctionSpec, payload: dict[str, Any]) -> dict[str, Any]:
    """Validate `payload`, call the function, validate and dump its output."""
    model = spec.input_model.model_validate(payload)
    output = spec.fn(model)
    if inspect.isawaitable(output):
        output = asyncio.run(_awaited(output))
    if not isinstance(output, BaseModel):
        output = spec.output_model.model_validate(output)
    dumped: dict[str, Any] = output.model_dump(mode="json")
    return dumped


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
