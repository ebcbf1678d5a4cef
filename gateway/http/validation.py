"""Reading request input into pydantic models: 415/400/422 with the offending field named."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.config.loader import format_location
from gateway.http.errors import ApiError

M = TypeVar("M", bound=BaseModel)


def _validation_error(exc: ValidationError, prefix: str) -> ApiError:
    fields = []
    for item in exc.errors(include_url=False, include_input=False):
        location = format_location((prefix, *item["loc"])) if item["loc"] else prefix
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"].removeprefix("Value error, ")
        fields.append({"field": location, "message": message})
    first = fields[0]
    return ApiError(422, "validation_error", f"{first['field']}: {first['message']}", extra={"fields": fields})


async def read_body(request: web.Request, model: type[M]) -> M:
    """Parse the JSON body as `model` (strict types, unknown fields refused)."""
    if request.content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the body as application/json")
    raw = await request.read()  # bounded by the app's client_max_size: 413 beyond it
    if not raw:
        raise ApiError(400, "invalid_json", "request body is empty")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(item["type"] == "json_invalid" for item in exc.errors(include_url=False)):
            raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
        raise _validation_error(exc, "body") from None


def read_query(request: web.Request, model: type[M]) -> M:
    """Parse the query string as `model` (values are strings; the model converts and bounds them)."""
    data = {}
    for key in request.query:
        values = request.query.getall(key)
        if len(values) > 1:
            raise ApiError(422, "validation_error", f"query.{key}: given more than once")
        data[key] = values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, "query") from None
