"""OpenAPI 3.1 document generated from the route table and its pydantic models (it cannot drift)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from gateway.api.models import ErrorResponse
from gateway.http.keys import ROUTES
from gateway.http.routes import Route

REF_TEMPLATE = "#/components/schemas/{model}"
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
STANDARD_ERRORS = {401: "Missing or invalid token.", 403: "The token's role may not use this route.",
                   429: "Failed-auth back-off for this client address."}


def _schema_ref(model: type[BaseModel], schemas: dict[str, Any], mode: str) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode=mode)  # type: ignore[arg-type]
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": REF_TEMPLATE.format(model=model.__name__)}


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    error_ref = _schema_ref(ErrorResponse, schemas, "serialization")
    error_content = {"application/json": {"schema": error_ref}}
    if route.response is not None:
        success_content = {route.content_type: {"schema": _schema_ref(route.response, schemas, "serialization")}}
    else:
        success_content = {route.content_type: {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {str(route.status): {"description": "Success.", "content": success_content}}
    statuses = dict.fromkeys(route.errors, "Refused; see the error's code and message.")
    if not route.public:
        statuses.update(STANDARD_ERRORS)
    if route.body is not None:
        statuses.update({400: "Body is not JSON.", 413: "Body too large.", 415: "Body is not application/json.",
                         422: "Unknown field or wrong type; the field is named."})
    for status in sorted(statuses):
        responses[str(status)] = {"description": statuses[status], "content": error_content}
    operation: dict[str, Any] = {"operationId": route.name, "summary": route.summary, "responses": responses}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in PATH_PARAM.findall(route.path)
    ] + [
        {"name": q.name, "in": "query", "required": False, "schema": q.schema, "description": q.description}
        for q in route.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(route.body, schemas, "validation")}},
        }
    if route.public:
        operation["security"] = []
    else:
        operation["x-required-permission"] = str(route.permission)
    return operation


def build_openapi(routes: Iterable[Route], *, title: str, version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (EdDSA)"}},
        },
        "security": [{"bearer": []}],
    }


async def openapi_handler(request: web.Request) -> web.Response:
    from gateway import __version__

    document = build_openapi(request.app[ROUTES].values(), title="edge-gateway local API", version=__version__)
    return web.json_response(document)
