"""`spillway keys`: check the options, run the store, and end a refusal on one line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from functions.apikeys import specs
from functions.apikeys.errors import KeysError
from functions.apikeys.model import DEFAULT_SCOPES, FUNCTION, TENANT, ApiKey, new_id, new_secret
from functions.apikeys.model import token as make_token
from functions.apikeys.store import KeyStore
from functions.cliargs import fail
from functions.errors import ConfigError
from functions.settings import get_settings

T = TypeVar("T")


def _run(work: Callable[[KeyStore], T]) -> T:
    try:
        settings = get_settings()
    except ConfigError as exc:
        fail(str(exc))
    store = KeyStore.connect(settings.REDIS_URL, settings.KEY_PREFIX)
    try:
        return work(store)
    except KeysError as exc:
        fail(str(exc), exc.exit_status)
    finally:
        store.close()


def _template(args: argparse.Namespace) -> ApiKey:
    if not TENANT.match(args.tenant):
        fail("--tenant: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    for name in args.functions or ():
        if not FUNCTION.match(name):
            fail(f"--functions: {name!r} is not a function name")
    if args.expires is not None and args.expires <= time.time():
        fail("--expires is in the past")
    scopes = tuple(dict.fromkeys(args.scope)) if args.scope else DEFAULT_SCOPES
    return ApiKey(
        id="",
        tenant=args.tenant,
        sha256="",
        scopes=scopes,
        functions=args.functions,
        rate=args.rate,
        burst=args.burst,
        max_backlog=args.max_backlog,
        expires=args.expires,
    )


def _print(key: ApiKey, token: str | None, as_json: bool) -> None:
    shown: dict[str, Any] = key.public()
    if token is not None:
        shown = {"id": key.id, "key": token, **shown}
    if as_json:
        json.dump(shown, sys.stdout)
        print()
        return
    if token is not None:
        print(token)
        print("(shown once: store it now; only its hash is kept)", file=sys.stderr)
    _line(key)


def _line(key: ApiKey) -> None:
    def limit(value: object) -> str:
        return "default" if value is None else str(value)

    expires = _when(key.expires) if key.expires else "never"
    state = "revoked" if key.revoked else ("expired" if _expired(key) else "active")
    functions = ",".join(key.functions) if key.functions is not None else "*"
    print(
        f"{key.id}  tenant={key.tenant}  scopes={','.join(key.scopes)}  functions={functions}  "
        f"rate={limit(key.rate)}  burst={limit(key.burst)}  max-backlog={limit(key.max_backlog)}"
        f"  expires={expires}  {state}  ({key.source})"
    )


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, tz=UTC).isoformat().replace("+00:00", "Z")


def _expired(key: ApiKey) -> bool:
    return key.expired(time.time())


def create(args: argparse.Namespace) -> None:
    template = _template(args)
    if args.spec:
        secret = new_secret()
        key = replace(template, id=new_id(), created_at=time.time(), source="file")
        key = key.rotated(secret)
        token = make_token(key.id, secret)
        line = specs.spec_of(key)
        if args.json:
            json.dump({"id": key.id, "key": token, "tenant": key.tenant,
                       "scopes": list(key.scopes), "spec": line}, sys.stdout)  # fmt: skip
            print()
        else:
            print(token)
            print(json.dumps(line))
        return
    key, token = _run(lambda store: store.create(template))
    _print(key, token, args.json)


def list_(args: argparse.Namespace) -> None:
    found = _run(lambda store: store.list())
    if args.json:
        json.dump({"keys": [k.public() for k in found]}, sys.stdout)
        print()
        return
    if not found:
        print("no API keys (create one: spillway keys create --tenant T)", file=sys.stderr)
    for key in found:
        _line(key)


def revoke(args: argparse.Namespace) -> None:
    key = _run(lambda store: store.revoke(args.id))
    if args.json:
        json.dump({"id": key.id, "revoked": True}, sys.stdout)
        print()
    else:
        print(f"revoked {key.id} (tenant {key.tenant}): refused everywhere within a second")


def rotate(args: argparse.Namespace) -> None:
    key, token = _run(lambda store: store.rotate(args.id))
    _print(key, token, args.json)
