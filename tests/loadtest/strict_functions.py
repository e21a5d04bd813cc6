"""A function whose model refuses more than its JSON Schema says, for the rejection tests.

`spillway load` checks a payload against the catalog's schema before a run; a rule written as
a pydantic validator is not in that schema, so only the API's 422 tells, during the run.
Only the load tests' API registers it; nothing ever runs it.
"""

from __future__ import annotations

from pydantic import BaseModel, field_validator

from functions import function


class EvenNumber(BaseModel):
    """A number that must be even (a rule JSON Schema cannot carry here)."""

    n: int

    @field_validator("n")
    @classmethod
    def even(cls, value: int) -> int:
        if value % 2:
            raise ValueError("must be even")
        return value


@function("even-only", queue="lt-strict", time_limit=10)
def even_only(payload: EvenNumber) -> EvenNumber:
    """Never run in the tests: only its validation is."""
    return payload
