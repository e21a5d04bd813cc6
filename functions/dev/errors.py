"""Every error `spillway dev` raises on purpose before it starts anything, under one base.

    DevError            the system cannot start as asked; the message says what to do
    ├── PortUnavailable the API's port is held by another program (or another `spillway dev`),
    │                   or not open to this user
    └── AlreadyRunning  another `spillway dev` is running on the same Redis and key prefix

`spillway dev` (commands.py) shows a DevError as one `spillway: error:` line and exits 2. A
configuration it cannot start with is a ConfigError (functions/errors.py), a manifest the
scaler cannot follow a ScalingError (functions/scaling/errors.py), and no Redis a NoRedis
(functions/localredis.py); it shows those the same way.
"""

from __future__ import annotations


class DevError(Exception):
    """`spillway dev` cannot start as asked."""


class PortUnavailable(DevError):
    """The API's port cannot be listened on."""


class AlreadyRunning(DevError):
    """Another `spillway dev` uses this Redis and key prefix."""
