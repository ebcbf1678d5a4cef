"""Core routes: health, status, metrics."""

from __future__ import annotations

from aiohttp import web

from gateway.api.json import model_response
from gateway.api.models import HealthResponse
from gateway.http.keys import CONTEXT

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def healthz(request: web.Request) -> web.Response:
    """Liveness for load balancers and probes: discloses nothing beyond ok / unavailable."""
    healthy = request.app[CONTEXT].is_healthy()
    return model_response(HealthResponse(status="ok" if healthy else "unavailable"), status=200 if healthy else 503)


async def status(request: web.Request) -> web.Response:
    return model_response(request.app[CONTEXT].status())


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=request.app[CONTEXT].metrics.render())
    response.headers["Content-Type"] = PROMETHEUS_CONTENT_TYPE
    return response
