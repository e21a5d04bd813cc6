"""The error a Spillway process refuses to start with.

    ConfigError     the settings (functions/settings.py), the function modules and queue routes
                    (functions/registry.py) or the worker's limits (functions/worker/app.py)
                    cannot work; the message names the setting to change

`spillway api`, `worker` and `dev` catch it and exit with that one line. Errors at the other
boundaries have their own base: `Problem` for API answers (functions/api/problems.py),
`ScalingError` for the scaling engine (functions/scaling/errors.py), `LoadError` for a load test
(functions/loadtest/errors.py).
"""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration the process refuses to start with."""
