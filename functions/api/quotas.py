"""Per-key quotas, enforced by the submit script (functions/api/submit.py) in its one round trip.

- Rate: GCRA (the generic cell rate algorithm, as rwz/redis-gcra's perform_gcra_ratelimit.lua
  and brandur/redis-cell do it): one number per key, its theoretical arrival time (TAT), in
  milliseconds of the submitting API's clock (the submit's `submitted_at`; Redis TIME would cost
  a call and, on Redis 6.2, effects replication, and NTP keeps pods within a millisecond or so,
  which shifts a key's allowance by that times its rate). A key of rate r and burst b may
  submit n invocations when TAT + n/r - b/r <= now; it then stores TAT + n/r. A batch counts as
  its items.
- Backlog share: a counter per tenant of its unfinished invocations, added to by the submit
  script and taken from by the worker's scripts when one finishes (functions/worker/lua/_lib.lua,
  release_share), so the check is O(1) whatever the queue holds.

The 429 answers carry `Retry-After` and the RateLimit header fields of
draft-ietf-httpapi-ratelimit-headers-10 (structured-field lists of `"<policy>";q=;w=` and
`"<policy>";r=;t=`). Accepted submits do not: the draft makes them optional there, and with them
a submit cost measurably more (docs/benchmarks.md, "API keys and quotas").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from functions import keys


@dataclass(frozen=True, slots=True)
class Quota:
    """What the submit script checks for one caller; 0 turns a limit off. Built once per read of
    the key (functions/api/auth.py), with what every submit sends precomputed."""

    tenant: str
    key_id: str
    rate: float  # invocations per second
    burst: int
    max_backlog: int  # the tenant's unfinished invocations
    script_keys: tuple[str, str] = ("", "")  # the key's rate state, the tenant's counter
    argv: str = ""  # ARGV[4] of the submit script
    policy: str = ""  # `RateLimit-Policy` of the rate

    @classmethod
    def of(cls, prefix: str, tenant: str, key_id: str, rate: float, burst: int,
           max_backlog: int) -> Quota:  # fmt: skip
        window = max(1, math.ceil(burst / rate)) if rate > 0 else 1
        return cls(
            tenant,
            key_id,
            rate,
            burst,
            max_backlog,
            script_keys=(keys.rate_key(prefix, key_id), keys.tenant_backlog_key(prefix, tenant)),
            argv=f"{tenant}\t{rate!r}\t{burst}\t{max_backlog}",
            # At most `burst` invocations in the time the key takes to earn them back.
            policy=f'"burst";q={burst};w={window}',
        )

    def backlog_policy(self) -> str:
        return f'"backlog";q={self.max_backlog};qu="concurrent-requests"'


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


def limited_headers(quota: Quota, exc: RateLimited) -> dict[str, str]:
    return {
        "Retry-After": str(seconds(exc.retry_ms)),
        "RateLimit-Policy": quota.policy,
        "RateLimit": f'"burst";r=0;t={seconds(exc.retry_ms)}',
    }


def backlog_headers(quota: Quota, held: int, retry_after: int) -> dict[str, str]:
    return {
        "Retry-After": str(retry_after),
        "RateLimit-Policy": quota.backlog_policy(),
        "RateLimit": f'"backlog";r={max(0, quota.max_backlog - held)};t={retry_after}',
    }
