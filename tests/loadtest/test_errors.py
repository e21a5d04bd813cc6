"""`spillway load`'s errors share one base, the one its command turns into an error line."""

from __future__ import annotations

import inspect

from functions.loadtest import errors


def test_every_load_error_is_a_load_error() -> None:
    classes = [
        c for _, c in inspect.getmembers(errors, inspect.isclass) if c.__module__ == errors.__name__
    ]
    assert {c.__name__ for c in classes} == {
        "LoadError",
        "ProfileError",
        "PayloadError",
        "SimulatorError",
        "KubeUnavailable",
    }
    assert all(issubclass(c, errors.LoadError) for c in classes)
