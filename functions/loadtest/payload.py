"""The payload a run sends, checked against the function's input schema before anything is sent.

The API's catalog (`GET /v1/functions`) publishes each function's input as JSON Schema (draft
2020-12, what pydantic generates). A payload the schema refuses would be answered 422 for every
invocation of the run: refused here instead, before the run folder exists, with the same path
and words a producer would get. The schema is the published contract: a value that pydantic's
lax mode would coerce (the string "1" for a number) is refused here too.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from functions.loadtest.errors import PayloadError


def check(function: str, schema: dict[str, Any], payload: Any) -> None:
    """Raise PayloadError, naming the field and the rule, when `payload` does not fit."""
    error = best_match(Draft202012Validator(schema).iter_errors(payload))
    if error is None:
        return
    where = "".join(f"/{part}" for part in error.absolute_path) or "the payload"
    raise PayloadError(
        f"--payload does not fit {function!r}'s input schema (GET /v1/functions): "
        f"{where}: {error.message}"
    )
