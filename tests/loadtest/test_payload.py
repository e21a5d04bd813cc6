"""--payload is checked against the function's published input schema before a run."""

from __future__ import annotations

from typing import Any

import pytest

from functions.loadtest.errors import PayloadError
from functions.loadtest.payload import check
from functions.registry import load_modules


def _schema(name: str) -> dict[str, Any]:
    """The schema the catalog publishes for a shipped function (routes/catalog.py)."""
    spec = next(s for s in load_modules(["functions.builtins"], {}) if s.name == name)
    return spec.input_model.model_json_schema()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"seconds": -1}, "/seconds: -1 is less than the minimum of 0"),
        ({}, "the payload: 'seconds' is a required property"),
        ({"seconds": 1, "extra": 2}, "Additional properties are not allowed ('extra' was"),
        ([1], "the payload: [1] is not of type 'object'"),
    ],
)
def test_a_payload_the_schema_refuses(payload: Any, message: str) -> None:
    with pytest.raises(PayloadError) as refused:
        check("sleep", _schema("sleep"), payload)
    text = str(refused.value)
    assert text.startswith("--payload does not fit 'sleep''s input schema (GET /v1/functions): ")
    assert message in text


@pytest.mark.parametrize(
    ("name", "payload"),
    [("sleep", {"seconds": 0.5}), ("echo", {"any": ["thing"]}), ("cpu", {"milliseconds": 5})],
)
def test_a_payload_that_fits_passes(name: str, payload: Any) -> None:
    check(name, _schema(name), payload)
