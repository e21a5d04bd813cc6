"""Failures the project already knows about, kept visible without hiding anything else.

A test checks a known defect last, with `known_bug`, and carries
`@pytest.mark.xfail(raises=KnownBug, strict=True, reason=...)` naming who fixes it: any other
failure of the test still fails the run, and once the defect is fixed the strict xfail turns
the pass into a failure, so the marker is removed with the fix.
"""

from __future__ import annotations


class KnownBug(AssertionError):
    """A known defect, tracked in the reason of the test's xfail marker."""


def known_bug(holds: bool, message: str) -> None:
    """Raise KnownBug(message) unless `holds`."""
    if not holds:
        raise KnownBug(message)
