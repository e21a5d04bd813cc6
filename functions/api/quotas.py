"""Per-key quotas, enforced by the submit script (functions/api/submit.py) in its one round trip.

- Rate: GCRA (the generic cell rate algorithm, as rwz/redis-gcra's perform_gcra_ratelimit.lua
  and brandur/redis-cell do it): one number per key, its theoretical arrival time (TAT), in
  Redis TIME milliseconds. A key of rate r and burst b may submit n invocations when
  TAT + n/r - b/r <= now; it then stores TAT + n/r. A batch counts as its items.
- Backlog share: a counter per tenant of its unfinished invocations, added to by the submit
  script and taken from by the worker's scripts when one finishes (functions/worker/lua/_lib.lua,
  release_share), so the check is O(1) whatever the queue holds.

The 429 answers carry `Retry-After` and the RateLimit header fields of
draft-ietf-httpapi-ratelimit-headers-10 (structured-field lists of `"<policy>";q=;w=` and
`"<policy>";r=;t=`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Quota:
    """What the submit script checks for one caller; 0 turns a limit off."""

    tenant: str
    key_id: str
    rate: float  # invocations per second
    burst: int
    max_backlog: int  # the tenant's unfinished invocations

    def encode(self) -> str:
        """ARGV[4] of the submit script."""
        return f"{self.tenant}\t{self.rate!r}\t{self.burst}\t{self.max_backlog}"

    def policy(self) -> str:
        """`RateLimit-Policy`: at most `burst` invocations in the time the key takes to earn
        them back (burst / rate, at least 1 s)."""
        window = max(1, math.ceil(self.burst / self.rate))
        return f'"burst";q={self.burst};w={window}'

    def backlog_policy(self) -> str:
        return f'"backlog";q={self.max_backlog};qu="concurrent-requests"'


@dataclass(frozen=True, slots=True)
class RateState:
    """What a GCRA check left: invocations that could go now, and ms until the burst is whole."""

    remaining: int
    reset_ms: int


class RateLimited(Exception):
    """Over the key's rate: nothing was written. `never`: the batch is larger than the burst."""

    def __init__(self, retry_ms: int, reset_ms: int, never: bool) -> None:
        super().__init__(retry_ms)
        self.retry_ms = retry_ms
        self.reset_ms = reset_ms
        self.never = never


class TenantBacklogFull(Exception):
    """The tenant's unfinished invocations would pass its share: nothing was written."""

    def __init__(self, held: int, limit: int) -> None:
        super().__init__(held, limit)
        self.held = held
        self.limit = limit


def seconds(ms: int) -> int:
    """Whole seconds for a header, rounded up (a client that waits this long gets through)."""
    return max(1, math.ceil(ms / 1000))


def rate_headers(quota: Quota, state: RateState) -> dict[str, str]:
    return {
        "RateLimit-Policy": quota.policy(),
        "RateLimit": f'"burst";r={max(0, state.remaining)};t={math.ceil(state.reset_ms / 1000)}',
    }


def limited_headers(quota: Quota, exc: RateLimited) -> dict[str, str]:
    return {
        "Retry-After": str(seconds(exc.retry_ms)),
        "RateLimit-Policy": quota.policy(),
        "RateLimit": f'"burst";r=0;t={seconds(exc.retry_ms)}',
    }


def backlog_headers(quota: Quota, held: int, retry_after: int) -> dict[str, str]:
    return {
        "Retry-After": str(retry_after),
        "RateLimit-Policy": quota.backlog_policy(),
        "RateLimit": f'"backlog";r={max(0, quota.max_backlog - held)};t={retry_after}',
    }
