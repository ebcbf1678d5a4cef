"""Request counts and latencies per route (route names, never raw paths: bounded label sets)."""

from __future__ import annotations

import time

from aiohttp import web

from gateway.http.keys import CONTEXT
from gateway.http.routes import Handler, route_of

UNMATCHED_ROUTE = "unmatched"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[CONTEXT].metrics
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        route = route_of(request)
        name = route.name if route is not None else UNMATCHED_ROUTE
        metrics.http_requests.labels(name, request.method, str(status)).inc()
        metrics.http_latency.labels(name).observe(time.perf_counter() - started)
