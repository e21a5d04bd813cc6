"""Numbers JSON cannot carry, refused before validation.

pydantic's JSON parser accepts `NaN`, `Infinity` and `-Infinity`, and reads a number beyond a
double's range (`1e400`) as infinity; dumped again, all of them become `null`
(`ser_json_inf_nan="null"`), so `{"x": NaN}` would silently be run as `{"x": null}`. RFC 8259
section 6: "Numeric values that cannot be represented in the grammar below (such as Infinity and
NaN) are not permitted." They are an invalid body (422), like any other JSON error.

The check costs one regular-expression scan on the submit path; only a body that could hold such
a number (the words, a three-digit exponent or a 309-digit run: a double ends near 1.8e308) is
parsed again to decide.
"""

from __future__ import annotations

import json
import math
import re

_SUSPECT = re.compile(rb"NaN|Infinity|[0-9][eE]\+?[0-9]{3}|[0-9]{309}")


class NonFinite(ValueError):
    """The body holds a number JSON cannot carry; the message names it."""


def _constant(name: str) -> float:
    raise NonFinite(f"{name} is not a JSON number (RFC 8259 section 6)")


def _number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NonFinite(f"{text[:40]} is beyond the range of a JSON number (a 64-bit double)")
    return value


def refuse_non_finite(body: bytes) -> None:
    """Raise NonFinite if `body` holds NaN, +-Infinity or a number that overflows a double.

    A body that is not JSON at all passes: the validator reports that with its position.
    """
    if not _SUSPECT.search(body):
        return
    try:
        json.loads(body, parse_constant=_constant, parse_float=_number)
    except NonFinite:
        raise
    except (ValueError, RecursionError):
        return
