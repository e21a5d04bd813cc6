"""The expr-lang subset of scalingModifiers.formula (expr-lang/expr parser/operator/operator.go;
KEDA pkg/scaling/modifiers/formula.go)."""

from __future__ import annotations

import re

import pytest

from functions.scaling.errors import FormulaError
from functions.scaling.formula import compile_formula

ENV = {"queued": 6.0, "inflight": 2.0}


def value(text: str) -> float:
    return compile_formula(text, set(ENV))(ENV)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("queued + inflight", 8),  # keda/base/scaledobject.yaml
        ("(queued + inflight) / 2", 4),
        ("queued - inflight * 2", 2),
        ("queued / 4", 1.5),  # `/` is float division
        ("2 ** 3 ** 2", 512),  # right-associative
        ("-2 ** 2", -4),  # `**` binds tighter than unary minus
        ("2 ^ 3", 8),
        ("queued < 2 ? queued + inflight : 1", 1),  # the KEDA docs' ternary example
        ("queued > 2 && inflight > 1 ? 10 : 0", 10),
        ("not (queued > 2) or inflight == 2 ? 3 : 4", 3),
        ("max(queued, inflight, 7)", 7),
        ("min(queued, inflight)", 2),
        ("ceil(queued / 4) + floor(1.9) + abs(-1)", 4),
        ("round(2.5) + round(-2.5)", 0),  # half away from zero, like Go's math.Round
        ("queued ?? 0", 6),
        ("1e2 + .5", 100.5),
        ("float(queued) + int(2.9)", 8),
    ],
)
def test_arithmetic_subset(text: str, expected: float) -> None:
    assert value(text) == expected


def test_division_by_zero_is_infinite_not_an_error() -> None:
    """expr divides as float64: x / 0 is +Inf."""
    assert value("queued / 0") == float("inf")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("queued + other", "unknown trigger name 'other'"),
        ("queued % 2", "needs integers"),
        ("queued +", "expected more"),
        ("(queued", "expected ')'"),
        ("queued > 1", "returned a boolean"),
        ("'a' + queued", "unexpected"),
        ("abs(1, 2)", "wrong number of arguments"),
    ],
)
def test_errors_are_reported_not_guessed(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=re.escape(message)):
        value(text)
