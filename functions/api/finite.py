"""Numbers JSON cannot carry, refused before validation.

pydantic's JSON parser accepts `NaN`, `Infinity` and `-Infinity`, and reads a number beyond a
double's range (`1e400`, or 250 digits and `e60`) as infinity; dumped again, all of them become
`null` (`ser_json_inf_nan="null"`), so `{"x": NaN}` would silently be run as `{"x": null}`.
RFC 8259 section 6: "Numeric values that cannot be represented in the grammar below (such as
Infinity and NaN) are not permitted." They are an invalid body (422), like any other JSON error.

A single submit's body is parsed once more by pydantic-core's own parser, in Rust, with the named
constants refused (`allow_inf_nan=False`), and the floats it holds are checked for overflow: no
pattern over the text could tell every overflowing number (mantissa digits and exponent add up),
and a regular expression costs milliseconds on a large body where the parse costs microseconds.
A batch's items, parsed already, are checked as they are.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic_core import from_json


class NonFinite(ValueError):
    """The body holds a number JSON cannot carry; the message says which."""


def refuse_non_finite(body: bytes) -> None:
    """Raise NonFinite if `body` holds NaN, +-Infinity or a number that overflows a double.

    A body that is not JSON at all passes: the validator reports that with its position.
    """
    try:
        value = from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        try:
            from_json(body)  # parses with the constants allowed: they were the problem
        except ValueError:
            return
        raise NonFinite(
            f"NaN and Infinity are not JSON numbers (RFC 8259 section 6): {exc}"
        ) from None
    refuse_non_finite_values(value)


def refuse_non_finite_values(value: Any) -> None:
    """Raise NonFinite if `value`, as parsed from JSON, holds a float that is not finite (a
    parser that allows NaN and Infinity, like pydantic's, also gives those as floats)."""
    stack = [value]
    while stack:  # iterative: a deeply nested body cannot exhaust the interpreter's stack
        item = stack.pop()
        kind = type(item)
        if kind is float:
            if not math.isfinite(item):
                raise NonFinite("a number is beyond the range of a JSON number (a 64-bit double)")
        elif kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
