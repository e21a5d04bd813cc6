"""Every error `spillway sender` raises on purpose, under one base.

    SenderError         the sender cannot run as asked; the message says what to do
    └── OutboxUnavailable  Redis cannot be reached or refuses the outbox's scripts at start

A setting it cannot start with (no or a malformed SPILLWAY_CALLBACK_SECRET, a bad sink URL) is
a ConfigError (functions/errors.py). `spillway sender` (commands.py) shows both as one
`spillway: error:` line and exits 2. Once running, a Redis outage is waited out, not raised.
"""

from __future__ import annotations


class SenderError(Exception):
    """`spillway sender` cannot run as asked."""


class OutboxUnavailable(SenderError):
    """Redis cannot serve the outbox."""
