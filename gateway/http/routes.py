"""The route table: every served route with the permission it needs, as data.

Auth is on by default: a route must name a permission, or say `public=True` (only `/healthz` and the
technician page's static files do). The auth middleware looks each request's route up in this table;
a route that is not in it cannot be served. The OpenAPI document is generated from the same entries.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import web
from pydantic import BaseModel

from gateway.auth.roles import Permission
from gateway.http.keys import ROUTES

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class QueryParam:
    name: str
    schema: dict[str, object]
    description: str


@dataclass(frozen=True)
class Route:
    """One API route."""

    method: str
    path: str
    name: str
    handler: Handler
    summary: str
    permission: Permission | None = None
    public: bool = False
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    content_type: str = "application/json"
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()
    audited: bool = False  # state-changing: every call is written to the audit log

    def __post_init__(self) -> None:
        if self.permission is None and not self.public:
            raise ValueError(f"route {self.method} {self.path} names no permission and is not public")
        if self.permission is not None and self.public:
            raise ValueError(f"route {self.method} {self.path} is public but names a permission")


def register_routes(app: web.Application, routes: Iterable[Route]) -> None:
    """Add the routes to the app's router and remember them for the auth middleware."""
    table = app.setdefault(ROUTES, {})
    for route in routes:
        if route.name in table:
            raise ValueError(f"route name {route.name!r} used twice")
        table[route.name] = route
        app.router.add_route(route.method, route.path, route.handler, name=route.name)


def route_of(request: web.Request) -> Route | None:
    """The table entry of the route a request matched, or None (no match, or not in the table)."""
    resource_route = request.match_info.route
    name = getattr(resource_route, "name", None)
    if name is None:
        return None
    return request.app[ROUTES].get(name)
