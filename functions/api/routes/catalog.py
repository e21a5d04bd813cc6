"""The function catalog, generated from the registry."""

from __future__ import annotations

from fastapi import APIRouter

from functions.api.deps import CallerDep, RegistryDep
from functions.api.schemas import FunctionPublic, FunctionsPublic

router = APIRouter(prefix="/v1", tags=["functions"])


@router.get("/functions", response_model=FunctionsPublic)
async def list_functions(registry: RegistryDep, caller: CallerDep) -> FunctionsPublic:
    """Every registered function with its queue and input/output JSON Schemas (any valid key)."""
    return FunctionsPublic(
        functions=[
            FunctionPublic(
                name=spec.name,
                queue=spec.queue,
                description=spec.description,
                input_schema=spec.input_model.model_json_schema(),
                output_schema=spec.output_model.model_json_schema(),
            )
            for spec in registry
        ]
    )
