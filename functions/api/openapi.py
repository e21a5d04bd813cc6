"""OpenAPI generated from the registry: one documented operation per registered function.

The runtime submit routes are generic (`/v1/functions/{name}/invocations`, plain Starlette routes
that FastAPI does not document; routes/submissions.py) so that the submit path parses the body once,
straight from bytes, with the function's model. The document has one concrete path per function
instead, whose request body is that function's model.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from functions.api.schemas import BatchAccepted, Invocation, InvocationAccepted, ProblemDetails
from functions.registry import FunctionSpec, Registry

_REF = "#/components/schemas/{model}"
_PROBLEM_CODES = (401, 403, 404, 409, 413, 415, 422, 429, 503)
# Every /v1 operation takes an API key (functions/api/auth.py); /docs' "Authorize" button
# fills the header in from this scheme. The probes, /metrics and the docs declare none.
_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key from `spillway keys create`: spw_<id>_<secret>.",
}

_IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x21-\\x7e]+$"},
    "description": "Same key and body within the TTL returns the first id without enqueuing.",
}
_CALLBACK_PARAM = {
    "name": "X-Callback-Url",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "format": "uri", "maxLength": 2048},
    "description": "Where the finished invocation's record is POSTed, signed per Standard "
    "Webhooks (README, 'Callbacks and completion events'); absolute http(s), no user info.",
}
_WAIT_PARAM = {
    "name": "wait",
    "in": "query",
    "required": False,
    "schema": {"type": "number", "minimum": 0},
    "description": "Seconds to wait for the result (at most SPILLWAY_MAX_WAIT).",
}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": _REF.format(model=model.__name__)}


def _json_response(description: str, schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    content = {"application/json": {"schema": schema}}
    return {"description": description, "content": content, **extra}


def _problems() -> dict[str, Any]:
    content = {"application/problem+json": {"schema": _ref(ProblemDetails)}}
    return {str(code): {"description": "Problem", "content": content} for code in _PROBLEM_CODES}


def _operation(spec: FunctionSpec, input_ref: dict[str, Any], batch: bool) -> dict[str, Any]:
    suffix = "_batch" if batch else ""
    if batch:
        body: dict[str, Any] = {
            "type": "object",
            "required": ["items"],
            "additionalProperties": False,
            "properties": {"items": {"type": "array", "minItems": 1, "items": input_ref}},
        }
        responses = {"202": _json_response("Accepted", _ref(BatchAccepted))}
        parameters = [_IDEMPOTENCY_PARAM, _CALLBACK_PARAM]
    else:
        body = input_ref
        location = {"Location": {"schema": {"type": "string"}, "description": "The status URL."}}
        responses = {
            "202": _json_response("Accepted", _ref(InvocationAccepted), headers=location),
            "200": _json_response("Finished within ?wait", _ref(Invocation)),
        }
        parameters = [_IDEMPOTENCY_PARAM, _CALLBACK_PARAM, _WAIT_PARAM]
    return {
        "tags": ["invocations"],
        "summary": f"Invoke {spec.name}{' (batch)' if batch else ''}",
        "description": spec.description,
        "operationId": f"invoke_{spec.name.replace('-', '_')}{suffix}",
        "parameters": parameters,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**responses, **_problems()},
    }


def _ce_header(name: str, description: str) -> dict[str, Any]:
    return {
        "name": f"ce-{name}",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "minLength": 1},
        "description": description + " Required in binary mode (CloudEvents HTTP binding 3.1).",
    }


def events_operation(data: dict[str, Any]) -> dict[str, Any]:
    """`POST /v1/events` (routes/events.py): one operation, three request content types, one
    per CloudEvents HTTP mode; `data` is the schema of what a routed function takes."""
    required = ["specversion", "id", "source", "type"]
    envelope = {
        "type": "object",
        "description": "A CloudEvent in the JSON format (structured mode); extension "
        "attributes are kept with the invocation.",
        "required": required,
        "properties": {
            "specversion": {"const": "1.0"},
            **{name: {"type": "string", "minLength": 1} for name in required[1:]},
            "datacontenttype": {"type": "string"},
            "subject": {"type": "string"},
            "time": {"type": "string"},
            "dataschema": {"type": "string"},
            "data": data,
            "data_base64": {"type": "string", "contentEncoding": "base64"},
        },
    }
    location = {"Location": {"schema": {"type": "string"}, "description": "The status URL."}}
    return {
        "tags": ["events"],
        "summary": "Submit CloudEvents",
        "description": "CloudEvents 1.0 over HTTP, in binary mode (`ce-*` headers, the body is "
        "the data), structured (`application/cloudevents+json`) or batched "
        "(`application/cloudevents-batch+json`, all or nothing). Each event runs the function "
        "whose `events` take its type (and source); its data is the input. `source` + `id` is "
        "the idempotency key: a redelivered event answers the id it got first.",
        "operationId": "submit_events",
        "parameters": [
            _ce_header("specversion", "`1.0`."),
            _ce_header("id", "Unique per source."),
            _ce_header("source", "Who produced it (a URI reference)."),
            _ce_header("type", "What happened; picks the function."),
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": data},
                "application/cloudevents+json": {"schema": envelope},
                "application/cloudevents-batch+json": {
                    "schema": {"type": "array", "items": envelope}
                },
            },
        },
        "responses": {
            "202": _json_response(
                "Accepted (one event; a batch answers `{ids}`)",
                {"anyOf": [_ref(InvocationAccepted), _ref(BatchAccepted)]},
                headers=location,
            ),
            **_problems(),
            "400": _problems()["422"],
        },
    }


def build_openapi(app: FastAPI, registry: Registry) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, routes=app.routes, description=app.description
    )
    specs = list(registry)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (spec.input_model, "validation") for spec in specs
    ]
    for model in (InvocationAccepted, BatchAccepted, Invocation, ProblemDetails):
        models.append((model, "serialization"))
    refs, defs = models_json_schema(models, ref_template=_REF)
    doc.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    for spec in specs:
        input_ref = refs[(spec.input_model, "validation")]
        path = f"/v1/functions/{spec.name}/invocations"
        doc["paths"][path] = {"post": _operation(spec, input_ref, batch=False)}
        doc["paths"][path + "/batch"] = {"post": _operation(spec, input_ref, batch=True)}
    takers = [refs[(spec.input_model, "validation")] for spec in specs if spec.events]
    if takers:
        data = takers[0] if len(takers) == 1 else {"anyOf": takers}
        doc["paths"]["/v1/events"] = {"post": events_operation(data)}
    doc["components"]["securitySchemes"] = {"bearer": _BEARER}
    problem = {"$ref": "#/components/responses/Problem"}
    doc["components"].setdefault("responses", {})["Problem"] = {
        "description": "Problem",
        "content": {"application/problem+json": {"schema": _ref(ProblemDetails)}},
    }
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            if path.startswith("/v1/"):
                operation["security"] = [{"bearer": []}]
                for code in ("401", "403"):
                    operation["responses"].setdefault(code, problem)
            else:
                operation["security"] = []
    app.openapi_schema = doc
    return doc
