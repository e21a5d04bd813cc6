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
        parameters = [_IDEMPOTENCY_PARAM]
    else:
        body = input_ref
        location = {"Location": {"schema": {"type": "string"}, "description": "The status URL."}}
        responses = {
            "202": _json_response("Accepted", _ref(InvocationAccepted), headers=location),
            "200": _json_response("Finished within ?wait", _ref(Invocation)),
        }
        parameters = [_IDEMPOTENCY_PARAM, _WAIT_PARAM]
    return {
        "tags": ["invocations"],
        "summary": f"Invoke {spec.name}{' (batch)' if batch else ''}",
        "description": spec.description,
        "operationId": f"invoke_{spec.name.replace('-', '_')}{suffix}",
        "parameters": parameters,
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {**responses, **_problems()},
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
