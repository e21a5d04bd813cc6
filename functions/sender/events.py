"""Completion events: a CloudEvent per finished invocation, in the HTTP binding's binary mode.

Binary mode (cloudevents/spec v1.0.2, bindings/http-protocol-binding.md, 3.1): every attribute
is a `ce-<name>` header and the body is the data, here the invocation record as JSON with
`Content-Type: application/json` (which stands for `datacontenttype`, so no
`ce-datacontenttype`). Header values are percent-encoded where the binding asks (3.1.3.2).

    type     dev.spillway.invocation.succeeded | dev.spillway.invocation.failed
    source   /spillway/<function>
    id       <invocation id>-<n>-event: the same on every attempt of one emission, so a consumer
             dedupes a retried send by (source, id) as the spec allows; new for each outcome
    subject  the invocation id;  time: when it finished

`K_CE_OVERRIDES` (set by a Knative SinkBinding with `spec.ceOverrides`, knative/eventing
pkg/apis/sources/v1/sinkbinding_lifecycle.go, SinkBinding.Do) is `{"extensions": {...}}`: each
extension is added as a header, as Knative's own sources do. When the sink publishes CA
certificates (Eventing's TLS), the binding also injects them as PEM in K_CA_CERTS: the events
client trusts them besides the system's.
"""

from __future__ import annotations

import json
import ssl
from typing import Any
from urllib.parse import quote

from functions.errors import ConfigError

SPEC_VERSION = "1.0"
TYPE_PREFIX = "dev.spillway.invocation."
# Attributes every completion event sets: an override may add extensions, not replace these.
_RESERVED = frozenset({"specversion", "id", "source", "type", "subject", "time", "datacontenttype"})
# http-protocol-binding.md 3.1.3.2: percent-encode space, '"', '%' and everything outside
# U+0021-U+007E; everything else printable stays as it is.
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in '"%')


def extensions(overrides: str | None) -> dict[str, str]:
    """The extensions in K_CE_OVERRIDES; ConfigError if it is not the JSON Knative writes."""
    if not overrides:
        return {}
    try:
        value = json.loads(overrides)
    except ValueError:
        raise ConfigError("K_CE_OVERRIDES is not JSON") from None
    found = value.get("extensions") if isinstance(value, dict) else None
    if found is None:
        return {}
    if not isinstance(found, dict):
        raise ConfigError('K_CE_OVERRIDES must be {"extensions": {"name": "value", ...}}')
    for name in found:
        # spec.md v1.0.2, "Attribute Naming Convention": a-z and 0-9 only (at most 20 SHOULD).
        if not (isinstance(name, str) and name.isascii() and name.isalnum() and name.islower()):
            raise ConfigError(
                f"K_CE_OVERRIDES: {name!r} is not a CloudEvents attribute name (a-z, 0-9)"
            )
        if name in _RESERVED:
            raise ConfigError(f"K_CE_OVERRIDES: {name!r} is set by Spillway itself")
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in found.items()}


def event_headers(event_id: str, record: dict[str, Any], overrides: str | None) -> dict[str, str]:
    """The `ce-*` headers of the completion event of `record` (as records.decode shows it)."""
    headers = {
        f"ce-{name}": quote(value, safe=_SAFE) for name, value in extensions(overrides).items()
    }
    attributes = {
        "specversion": SPEC_VERSION,
        "id": event_id,
        "source": f"/spillway/{record.get('function') or 'unknown'}",
        "type": TYPE_PREFIX + str(record.get("status")),
        "subject": str(record.get("id")),
    }
    if record.get("finished_at"):
        attributes["time"] = str(record["finished_at"])
    headers.update({f"ce-{k}": quote(v, safe=_SAFE) for k, v in attributes.items()})
    return headers


def trust(pem: str | None) -> ssl.SSLContext | bool:
    """TLS verification for the sink: the system's CAs, plus K_CA_CERTS when given."""
    if not pem:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError):
        raise ConfigError(
            "K_CA_CERTS (SPILLWAY_EVENTS_CA_CERTS) holds no PEM certificate"
        ) from None
    return context
