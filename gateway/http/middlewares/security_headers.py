"""Security headers on every response; no-store and a locked-down CSP on API responses."""

from __future__ import annotations

from aiohttp import web


SERVER_HEADER = "edge-gateway"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
# API and machine responses: nothing in them may load or be framed, and nothing may be cached.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
# The technician page: own scripts and styles only (no inline script), WebSocket to itself.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HSTS = "max-age=31536000"
MACHINE_PATH_PREFIXES = ("/api/", "/healthz", "/metrics")


def is_machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PATH_PREFIXES)


async def security_headers_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare` hook: runs for every response just before its headers are sent, so also
    for streamed responses and WebSocket handshakes, which a middleware would see too late."""
    apply_security_headers(request, response)


def apply_security_headers(request: web.BaseRequest, response: web.StreamResponse, *, machine: bool | None = None) -> None:
    """`machine` forces the API policy (JSON error answers to requests the parser refused, whose path is
    unknown); by default it follows the request's path."""
    headers = response.headers
    headers.update(COMMON_HEADERS)
    headers["Server"] = SERVER_HEADER
    if machine if machine is not None else is_machine_path(request.path):
        headers["Content-Security-Policy"] = API_CSP
        headers["Cache-Control"] = "no-store"
    else:
        headers["Content-Security-Policy"] = PAGE_CSP
        headers.setdefault("Cache-Control", "no-cache")
    if request.secure:
        headers["Strict-Transport-Security"] = HSTS
