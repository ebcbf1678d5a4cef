"""The API's one error shape: `{"error": {"code": ..., "message": ...}}` with a proper status."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

# Status codes aiohttp raises itself, and the machine code the API gives them.
HTTP_STATUS_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """Raised by handlers and middlewares; the error middleware turns it into a JSON response."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def error_body(code: str, message: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **(extra or {})}}


def error_response(error: ApiError) -> web.Response:
    return web.json_response(error_body(error.code, error.message, error.extra), status=error.status, headers=error.headers)


def from_http_exception(exc: web.HTTPException) -> ApiError:
    """Map aiohttp's own HTTP exceptions (404, 405, 413...) onto the API's error shape."""
    code = HTTP_STATUS_CODES.get(exc.status, "http_error")
    message = exc.reason
    if exc.status == 413:
        message = "request body too large"
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}
    return ApiError(exc.status, code, message, headers=headers)
