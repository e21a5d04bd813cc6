"""Who is calling: `Authorization: Bearer spw_<id>_<secret>` checked against the key's record.

Every /v1 route authenticates through `authenticate` (the submit routes directly, the FastAPI
routes through functions/api/deps.py); /healthz, /readyz, /metrics and the docs stay open
(README, "API keys"). Refusals are RFC 9457 problems: 401 with `WWW-Authenticate: Bearer` (RFC
6750 section 3) for a missing, malformed, unknown, wrong, revoked or expired key, 403 with
`error="insufficient_scope"` for a key without the scope. A token is never written anywhere:
not into a problem, a log line, a metric label, a record or a message; only its id is kept.
"""

from __future__ import annotations

import hmac
import re
import time
from dataclasses import dataclass

from starlette.datastructures import Headers

from functions.api.problems import Problem
from functions.api.quotas import Quota
from functions.api.submit import Submitter
from functions.apikeys.model import SCOPES, ApiKey, check

_CHALLENGE = 'Bearer realm="spillway"'


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated key, its limits resolved against the settings' defaults."""

    key_id: str
    tenant: str
    scopes: frozenset[str]
    functions: frozenset[str] | None  # None: every function
    quota: Quota | None  # None: no quotas (authentication off)

    @property
    def admin(self) -> bool:
        return "admin" in self.scopes

    @property
    def name(self) -> str:
        """Who, in a record's history: the key id, never its secret."""
        return f"key:{self.key_id}" if self.key_id else "api"


# SPILLWAY_AUTH=off: one caller that may do everything, with no tenant and no quotas, so the
# API behaves as it did before keys existed.
ANONYMOUS = Caller("", "", frozenset(SCOPES), None, None)


def unauthorized(detail: str, invalid: bool = True) -> Problem:
    challenge = _CHALLENGE + (', error="invalid_token"' if invalid else "")
    return Problem("unauthorized", detail, headers={"WWW-Authenticate": challenge})


def forbidden(detail: str, scope: str) -> Problem:
    challenge = f'{_CHALLENGE}, error="insufficient_scope", scope="{scope}"'
    return Problem("forbidden", detail, headers={"WWW-Authenticate": challenge})


# A well-formed header in one match; anything else takes the slow path, which says what is wrong.
_BEARER = re.compile(
    r"^[ \t]*[Bb][Ee][Aa][Rr][Ee][Rr] +spw_([0-9a-f]{16})_([A-Za-z0-9_-]{43})[ \t]*$"
)
# What a presented secret is compared with when no secret of that key was verified yet.
_NOT_A_SECRET = "-" * 43


async def authenticate(headers: Headers, submitter: Submitter) -> Caller:
    settings = submitter.settings
    if settings.AUTH == "off":
        return ANONYMOUS
    header = headers.get("authorization")
    match = _BEARER.match(header) if header else None
    if match is None:
        raise _malformed(header)
    key_id, secret = match[1], match[2]
    held = await submitter.key_cache.get(key_id, submitter.read_api_key)
    record = held.key
    # A secret verified since the key was read is compared as it is (SHA-256 once per read, not
    # once per request). Otherwise, the same words and the same work for an unknown id and a
    # wrong secret: one compare, one hash, one compare.
    verified = held.secret if held.secret is not None else _NOT_A_SECRET
    if not hmac.compare_digest(secret, verified):
        if not check(record, secret) or record is None:
            raise unauthorized("the key is not valid")
        held.secret = secret
    assert record is not None
    if record.revoked:
        raise unauthorized("the key was revoked")
    if record.expired(time.time()):
        raise unauthorized("the key has expired")
    if held.derived is None:  # once per read of the key, not once per request
        held.derived = _caller(record, submitter)
    caller: Caller = held.derived
    return caller


def _malformed(header: str | None) -> Problem:
    if not header:
        return unauthorized("this API needs `Authorization: Bearer <key>`", invalid=False)
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return unauthorized("the Authorization header must be `Bearer <key>`")
    return unauthorized("the key is malformed (keys look like spw_<id>_<secret>)")


def _caller(key: ApiKey, submitter: Submitter) -> Caller:
    settings = submitter.settings
    quota = Quota.of(
        settings.KEY_PREFIX,
        tenant=key.tenant,
        key_id=key.id,
        rate=settings.KEY_RATE if key.rate is None else key.rate,
        burst=settings.KEY_BURST if key.burst is None else key.burst,
        max_backlog=settings.TENANT_MAX_BACKLOG if key.max_backlog is None else key.max_backlog,
    )
    functions = None if key.functions is None else frozenset(key.functions)
    return Caller(key.id, key.tenant, frozenset(key.scopes), functions, quota)


def require(caller: Caller, scope: str) -> None:
    """403 unless the key has `scope`; `admin` includes `read` (it reads every tenant's)."""
    if scope not in caller.scopes and not (scope == "read" and caller.admin):
        raise forbidden(f"this key does not have the `{scope}` scope", scope)


def require_invoke(caller: Caller, function: str) -> None:
    require(caller, "invoke")
    if caller.functions is not None and function not in caller.functions:
        raise forbidden(f"this key may not invoke {function!r}", "invoke")


def owns(caller: Caller, tenant: str) -> bool:
    """Whether the caller may read an invocation of `tenant` ("" : submitted without keys)."""
    return caller.admin or caller.quota is None or tenant == caller.tenant
