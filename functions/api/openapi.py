"""OpenAPI generated from the registry: one documented operation per registered function.

The runtime routes are generic (`/v1/functions/{name}/invocations`) so that the submit path
parses the body once, straight from bytes, with the function's model. The document replaces the
generic paths with one concrete path per function whose request body is that function's model.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from functions.registry import Registry

_GENERIC = ("/v1/functions/{name}/invocations", "/v1/functions/{name}/invocations/batch")


def build_openapi(app: FastAPI, registry: Registry) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, routes=app.routes, description=app.description
    )
    specs = list(registry)
    refs, defs = models_json_schema(
        [(spec.input_model, "validation") for spec in specs],
        ref_template="#/components/schemas/{model}",
    )
    doc.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))
    single, batch = (doc["paths"].pop(path) for path in _GENERIC)
    for spec in specs:
        ref = refs[(spec.input_model, "validation")]
        for template, suffix, body in (
            (single, "", ref),
            (
                batch,
                "/batch",
                {
                    "type": "object",
                    "required": ["items"],
                    "additionalProperties": False,
                    "properties": {"items": {"type": "array", "minItems": 1, "items": ref}},
                },
            ),
        ):
            item = copy.deepcopy(template)
            op = item["post"]
            op["operationId"] = f"invoke_{spec.name.replace('-', '_')}{suffix.replace('/', '_')}"
            op["summary"] = f"Invoke {spec.name}{' (batch)' if suffix else ''}"
            op["description"] = spec.description
            op["parameters"] = [p for p in op.get("parameters", []) if p["name"] != "name"]
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
            doc["paths"][f"/v1/functions/{spec.name}/invocations{suffix}"] = item
    app.openapi_schema = doc
    return doc
