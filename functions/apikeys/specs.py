"""Key specs from a file, for GitOps: a Kubernetes Secret mounted into the API pods and loaded
into Redis when the API starts (SPILLWAY_KEYS_FILE).

The file holds digests, never secrets, so the Secret's source can live in Git (sealed or not):
    {"keys": [{"id": "0123456789abcdef", "tenant": "acme", "sha256": "<hex>",
               "scopes": ["invoke", "read"], "functions": ["resize"], "rate": 20, "burst": 40,
               "max_backlog": 500, "expires": "2027-01-31T00:00:00Z", "revoked": false}]}
`spillway keys create --spec` prints a new key and its line. Loading is idempotent: each key
carries the digest of its line (`spec`), and a key whose line has not changed is left alone, so
a `spillway keys revoke` of it holds until the file changes that key. Every replica loads the
same file; the writes are the same, so their order does not matter.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from functions import keys
from functions.apikeys.errors import BadSpec
from functions.apikeys.model import FUNCTION, KEY_ID, SCOPES, TENANT, ApiKey

_FIELDS = {"id", "tenant", "sha256", "scopes", "functions", "rate", "burst", "max_backlog",
           "expires", "revoked"}  # fmt: skip


def spec_of(key: ApiKey) -> dict[str, Any]:
    """A key's line for the file."""
    line: dict[str, Any] = {"id": key.id, "tenant": key.tenant, "sha256": key.sha256,
                            "scopes": list(key.scopes)}  # fmt: skip
    if key.functions is not None:
        line["functions"] = list(key.functions)
    for name in ("rate", "burst", "max_backlog", "expires"):
        if getattr(key, name) is not None:
            line[name] = getattr(key, name)
    return line


def read(path: str) -> list[ApiKey]:
    try:
        document = json.loads(Path(path).read_text())
    except OSError as exc:
        raise BadSpec(f"cannot read SPILLWAY_KEYS_FILE {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise BadSpec(f"SPILLWAY_KEYS_FILE {path} is not JSON: {exc}") from None
    lines = document.get("keys") if isinstance(document, dict) else document
    if not isinstance(lines, list):
        raise BadSpec(f'SPILLWAY_KEYS_FILE {path}: expected {{"keys": [...]}}')
    parsed = [parse(line, f"{path}: key {i}") for i, line in enumerate(lines)]
    ids = [k.id for k in parsed]
    if len(set(ids)) != len(ids):
        raise BadSpec(f"SPILLWAY_KEYS_FILE {path}: a key id appears twice")
    return parsed


def parse(line: Any, where: str) -> ApiKey:
    if not isinstance(line, dict):
        raise BadSpec(f"{where}: expected an object")
    unknown = set(line) - _FIELDS
    if unknown:
        raise BadSpec(f"{where}: unknown fields {sorted(unknown)}")
    key_id, tenant, sha = line.get("id"), line.get("tenant"), line.get("sha256")
    if not isinstance(key_id, str) or not KEY_ID.match(key_id):
        raise BadSpec(f"{where}: id must be 16 hex digits")
    if not isinstance(tenant, str) or not TENANT.match(tenant):
        raise BadSpec(f"{where}: tenant must be 1-64 letters, digits, '.', '_' or '-'")
    if not isinstance(sha, str) or len(sha) != 64 or not all(c in "0123456789abcdef" for c in sha):
        raise BadSpec(f"{where}: sha256 must be 64 lower-case hex digits")
    scopes = line.get("scopes", ["invoke", "read"])
    if not isinstance(scopes, list) or not scopes or not set(scopes) <= set(SCOPES):
        raise BadSpec(f"{where}: scopes must be a list of {', '.join(SCOPES)}")
    functions = line.get("functions")
    if functions is not None and (
        not isinstance(functions, list)
        or not all(isinstance(f, str) and FUNCTION.match(f) for f in functions)
    ):
        raise BadSpec(f"{where}: functions must be a list of function names")
    return ApiKey(
        id=key_id,
        tenant=tenant,
        sha256=sha,
        scopes=tuple(dict.fromkeys(scopes)),
        functions=None if functions is None else tuple(functions),
        rate=_number(line, "rate", where, float),
        burst=_number(line, "burst", where, int),
        max_backlog=_number(line, "max_backlog", where, int),
        expires=_expires(line.get("expires"), where),
        revoked=line.get("revoked") is True,
        created_at=time.time(),
        source="file",
        spec=hashlib.sha256(json.dumps(line, sort_keys=True).encode()).hexdigest(),
    )


def _number(line: dict[str, Any], name: str, where: str, kind: type) -> Any:
    value = line.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadSpec(f"{where}: {name} must be a number, zero or more")
    if kind is int and value != int(value):
        raise BadSpec(f"{where}: {name} must be a whole number")
    if name == "burst" and value < 1:
        raise BadSpec(f"{where}: burst must be at least 1")
    return kind(value)


def _expires(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        raise BadSpec(f"{where}: expires must be ISO 8601 or Unix seconds") from None
    if when.tzinfo is None:
        raise BadSpec(f"{where}: expires needs its offset (Z for UTC)")
    return when.timestamp()


Command = tuple[Any, ...]


async def apply(
    found: Iterable[ApiKey], prefix: str, run: Callable[[list[Command]], Awaitable[list[Any]]]
) -> int:
    """Write the keys whose line changed since it was last loaded; how many were written.

    `run` sends commands in one round trip and returns the replies (the API's RESP client)."""
    found = list(found)
    if not found:
        return 0
    stored = await run([("HGET", keys.api_key_key(prefix, k.id), "spec") for k in found])
    changed = [k for k, spec in zip(found, stored, strict=True) if _text(spec) != k.spec]
    commands: list[Command] = []
    for key in changed:
        # Every field at once in one HSET (no DEL, no MULTI: a reader never sees half a key,
        # and the API's Redis user needs no transaction commands).
        flat = [item for pair in key.to_fields().items() for item in pair]
        commands.append(("HSET", keys.api_key_key(prefix, key.id), *flat))
        commands.append(("SADD", keys.api_key_index(prefix), key.id))
    if commands:
        await run(commands)
    return len(changed)


def _text(value: Any) -> str | None:
    return value.decode() if isinstance(value, bytes) else value
