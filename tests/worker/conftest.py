"""Worker test helpers: the shipped `echo` function's spec."""

from __future__ import annotations

from functions.builtins import EchoPayload, echo
from functions.registry import FunctionSpec

echo_spec = FunctionSpec("echo", echo, EchoPayload, EchoPayload, time_limit=10)
