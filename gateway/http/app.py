"""The aiohttp application: middlewares in their order, and the route table."""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from gateway.api.context import ApiContext
from gateway.http.keys import CONTEXT
from gateway.http.middlewares.audit import audit_middleware
from gateway.http.middlewares.auth import auth_middleware
from gateway.http.middlewares.body_limit import body_limit_middleware
from gateway.http.middlewares.errors import error_middleware
from gateway.http.middlewares.metrics import metrics_middleware
from gateway.http.middlewares.request_id import request_id_middleware, request_id_on_prepare
from gateway.http.middlewares.security_headers import security_headers_on_prepare
from gateway.http.routes import Route, register_routes


def build_web_app(context: ApiContext, routes: Iterable[Route]) -> web.Application:
    """Middlewares outermost first: request id, metrics, audit, errors, body limit, auth. The request id
    header and the security headers are set by `on_response_prepare` hooks, just before any response's
    headers are sent (streamed responses and WebSocket handshakes included)."""
    max_body = context.config.http.max_body_bytes
    app = web.Application(
        client_max_size=max_body,
        middlewares=[
            request_id_middleware,
            metrics_middleware,
            audit_middleware,
            error_middleware,
            body_limit_middleware(max_body),
            auth_middleware,
        ],
    )
    app[CONTEXT] = context
    app.on_response_prepare.append(request_id_on_prepare)
    app.on_response_prepare.append(security_headers_on_prepare)
    register_routes(app, routes)
    return app
