"""Every error `spillway load` raises on purpose, under one base.

    LoadError               the run cannot start or go on; the message says what to fix
    ├── ProfileError        the profile's options describe no schedule, or its trace is unreadable
    ├── PayloadError        --payload does not fit the function's input schema
    ├── SimulatorError      `--compare-sim`: the simulator is missing, failed, or wrote nonsense
    └── KubeUnavailable     `--kube-deployment`: no Kubernetes client or no configuration

`spillway load` (commands.py) shows a LoadError as one line and exits 2; a SimulatorError after
the run is reported in summary.json instead, since the measured run is already on disk.
"""

from __future__ import annotations


class LoadError(Exception):
    """Something the user must fix before a run can start."""


class ProfileError(LoadError):
    """A profile's parameters do not describe a schedule."""


class PayloadError(LoadError):
    """The payload would be refused by the API: it does not fit the function's input schema."""


class SimulatorError(LoadError):
    """The simulator is missing, failed, or wrote something this cannot read."""


class KubeUnavailable(LoadError):
    """No Kubernetes client (the `kube` extra) or no cluster configuration."""
