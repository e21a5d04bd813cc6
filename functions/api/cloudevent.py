"""CloudEvents 1.0 over HTTP, read into events: binary, structured and batched mode.

The rules followed (CloudEvents v1.0.2: cloudevents/spec.md, bindings/http-protocol-binding.md,
formats/json-format.md):
- The mode is told by the Content-Type (binding 3): `application/cloudevents-batch` is batched,
  `application/cloudevents` structured, anything else binary. Only the JSON event format is read.
- Binary (binding 3.1): every attribute but `datacontenttype` is a `ce-<name>` header whose value
  is percent-encoded (3.1.3.2); the Content-Type is the `datacontenttype`, so a
  `ce-datacontenttype` header must not be there; the body is the data.
- Structured (3.2, json-format): one JSON object holding the attributes, and `data` (a JSON value
  when the data content type is JSON or absent) or `data_base64`, never both (json-format 3.1).
- Batched (3.3): a JSON array of structured events, maybe empty, sharing one `specversion`.
- Required attributes: `specversion` "1.0", and non-empty `id`, `source` and `type` (spec.md
  "REQUIRED Attributes"); names are lower-case letters and digits ("Attribute Naming
  Convention").

A function's input is a JSON value, so data must be JSON: a data content type that is not
(`application/json`, `text/json`, `*/*+json`) is refused with 415. What is wrong with an event
itself raises `EventError` with RFC 6901 pointers to each problem; the data is validated later,
against the function's model, exactly as a direct invocation's body is.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from pydantic_core import from_json, to_json

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
SPECVERSION = "1.0"
REQUIRED = ("specversion", "id", "source", "type")
_ATTRIBUTE = re.compile(r"^[a-z0-9]+$")
# The spec's own attribute names, known to be well formed (no pattern to run on the hot path).
_STANDARD = frozenset(
    {"specversion", "id", "source", "type", "subject", "time", "dataschema", "traceparent"}
)
_JSON_TYPE = re.compile(r"^(application|text)/json$|^[a-z0-9.+-]+/[a-z0-9.+-]*\+json$")


class EventError(Exception):
    """A request that is not a valid CloudEvent (or batch of them): `slug` is the problem type
    (functions/api/problems.py), `errors` points at each problem."""

    def __init__(self, slug: str, detail: str, errors: list[dict[str, str]]) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.errors = errors


@dataclass(slots=True)  # not frozen: a frozen init costs a setattr call per field
class Event:
    """One CloudEvent: its attributes (everything but the data) and its data.

    `body` is the data as JSON bytes when the request carried it so (binary mode, or
    `data_base64`); otherwise `data` is the parsed JSON value (`has_data` False: no data at all).
    `pointer` is where the event is in the request ("" for one event, "/3" in a batch), `mode`
    how it came ("binary", "structured" or "batch").
    """

    attributes: dict[str, Any]
    body: bytes | None
    data: Any
    has_data: bool
    pointer: str
    mode: str

    @property
    def id(self) -> str:
        return str(self.attributes["id"])

    @property
    def source(self) -> str:
        return str(self.attributes["source"])

    @property
    def type(self) -> str:
        return str(self.attributes["type"])

    def data_pointer(self) -> str:
        return self.pointer if self.mode == "binary" else self.pointer + "/data"


RawHeaders = list[tuple[bytes, bytes]]  # an ASGI scope's headers: lower-case names


def mode_of(content_type: str) -> str:
    """binary, structured or batch, by the Content-Type's prefix (binding section 3)."""
    kind = content_type.lower()
    if kind.startswith("application/cloudevents-batch"):
        return "batch"
    if kind.startswith("application/cloudevents"):
        return "structured"
    return "binary"


def read(
    headers: RawHeaders, body: bytes, *, json_data_only: bool = True
) -> tuple[str, list[Event]]:
    """The mode and the events of one request, every one checked; EventError for the first bad
    request-level problem, or with every event's problems in a batch. `json_data_only` False
    takes data of any content type (the dead-letter sink keeps whatever could not be delivered).

    The headers are read once, as the ASGI server gives them: this is the hot path."""
    content_type = ""
    ce: RawHeaders = []
    for name, value in headers:
        if name[:3] == b"ce-":
            ce.append((name, value))
        elif name == b"content-type":
            content_type = value.decode("latin-1")
    mode = mode_of(content_type)
    if mode == "binary":
        return mode, [_binary(ce, content_type, body, json_data_only)]
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in (STRUCTURED, BATCH):
        raise EventError(
            "unsupported-media-type",
            f"only the JSON event format is read, not {kind}",
            [{"path": "/headers/content-type", "message": "JSON format only", "type": "format"}],
        )
    try:
        parsed = from_json(body)
    except ValueError as exc:
        raise EventError(
            "invalid-event",
            f"the body is not JSON: {exc}",
            [{"path": "", "message": str(exc), "type": "json_invalid"}],
        ) from None
    if mode == "structured":
        return mode, [_structured(parsed, "", "structured", json_data_only)]
    if not isinstance(parsed, list):
        raise EventError(
            "invalid-event",
            "a batch is a JSON array of events",
            [{"path": "", "message": "expected an array", "type": "list_type"}],
        )
    events: list[Event] = []
    errors: list[dict[str, str]] = []
    for index, item in enumerate(parsed):
        try:
            events.append(_structured(item, f"/{index}", "batch", json_data_only))
        except EventError as exc:
            errors += exc.errors
    versions = {str(event.attributes["specversion"]) for event in events}
    if errors:
        raise EventError("invalid-event", _count(errors, len(parsed)), errors)
    if len(versions) > 1:
        raise EventError(
            "invalid-event",
            "the events of a batch share one specversion",
            [{"path": "", "message": "mixed specversions", "type": "specversion"}],
        )
    return mode, events


def _count(errors: list[dict[str, str]], total: int) -> str:
    bad = sorted({e["path"].split("/")[1] for e in errors if e["path"].count("/") >= 1})
    return (
        f"{len(bad)} of {total} events are invalid (indexes {', '.join(bad[:20])}); none was taken"
    )


def _binary(ce: RawHeaders, content_type: str, body: bytes, json_data_only: bool) -> Event:
    attributes: dict[str, Any] = {}
    errors: list[dict[str, str]] = []
    for raw_name, raw_value in ce:
        attribute = raw_name[3:].decode("latin-1")
        if attribute == "datacontenttype":
            error = "binary mode carries it as Content-Type"
            errors.append(_error(f"/headers/ce-{attribute}", error))
            continue
        if attribute not in _STANDARD and not _ATTRIBUTE.match(attribute):
            errors.append(_error(f"/headers/ce-{attribute}", "attribute names are a-z and 0-9"))
            continue
        value = raw_value.decode("latin-1")
        # Percent-decoded as UTF-8 (binding 3.1.3.2); most values have nothing to decode.
        attributes[attribute] = unquote(value) if "%" in value else value
    if content_type:
        attributes["datacontenttype"] = content_type
    if errors or not _complete(attributes):
        errors += _required(attributes, "/headers/ce-")
        raise EventError("invalid-event", _first(errors), errors)
    if json_data_only and not content_type.startswith("application/json"):
        _json_data(attributes, "/headers/content-type")
    return Event(attributes, body, None, bool(body), "", "binary")


def _structured(item: Any, pointer: str, mode: str, json_data_only: bool) -> Event:
    if not isinstance(item, dict):
        error = {"path": pointer, "message": "an event is a JSON object", "type": "dict_type"}
        raise EventError("invalid-event", "an event is a JSON object", [error])
    attributes = {k: v for k, v in item.items() if k not in ("data", "data_base64")}
    errors = [
        _error(f"{pointer}/{name}", "attribute names are a-z and 0-9")
        for name in attributes
        if not _ATTRIBUTE.match(name)
    ]
    errors += _required(attributes, pointer + "/")
    body: bytes | None = None
    if "data" in item and "data_base64" in item:
        errors.append(_error(f"{pointer}/data_base64", "data and data_base64 exclude each other"))
    elif "data_base64" in item:
        try:
            body = base64.b64decode(str(item["data_base64"]), validate=True)
        except (binascii.Error, ValueError):
            errors.append(_error(f"{pointer}/data_base64", "not base64"))
    if errors:
        raise EventError("invalid-event", _first(errors), errors)
    if json_data_only:
        _json_data(attributes, f"{pointer}/datacontenttype")
    has_data = "data" in item or body is not None
    return Event(attributes, body, item.get("data"), has_data, pointer, mode)


def _complete(attributes: dict[str, Any]) -> bool:
    """Whether the required attributes are all there and right (the common case, quickly)."""
    get = attributes.get
    return bool(
        get("specversion") == SPECVERSION
        and isinstance(get("id"), str)
        and get("id")
        and isinstance(get("source"), str)
        and get("source")
        and isinstance(get("type"), str)
        and get("type")
    )


def _required(attributes: dict[str, Any], where: str) -> list[dict[str, str]]:
    errors = []
    for name in REQUIRED:
        value = attributes.get(name)
        if not isinstance(value, str) or not value:
            errors.append(_error(where + name, f"the required attribute {name} is missing"))
    version = attributes.get("specversion")
    if isinstance(version, str) and version and version != SPECVERSION:
        errors.append(
            _error(where + "specversion", f"specversion {version[:20]!r} is not {SPECVERSION}")
        )
    return errors


def _json_data(attributes: dict[str, Any], where: str) -> None:
    kind = str(attributes.get("datacontenttype") or "").split(";", 1)[0].strip().lower()
    if kind and not _JSON_TYPE.match(kind):
        raise EventError(
            "unsupported-media-type",
            f"the event's data must be JSON (a function's input), not {kind}",
            [{"path": where, "message": "JSON data only", "type": "datacontenttype"}],
        )


def _error(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message, "type": "cloudevent"}


def _first(errors: list[dict[str, str]]) -> str:
    return f"not a CloudEvent 1.0: {errors[0]['message']} ({errors[0]['path'] or 'body'})"


def data_json(event: Event) -> bytes:
    """The event's data as JSON bytes, to validate as a direct invocation's body is."""
    if event.body is not None:
        return event.body
    if not event.has_data:
        return b""
    return json.dumps(event.data, ensure_ascii=False, separators=(",", ":")).encode()


def attributes_json(event: Event) -> bytes:
    """The attributes kept with the invocation (its record's `event`), as compact JSON."""
    return to_json(event.attributes)
