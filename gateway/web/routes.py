"""Routes of the technician page: the page, its static files, the live socket (all public at the
HTTP level: the page holds no data, and the socket authenticates in its first message)."""

from __future__ import annotations

from importlib import resources

from aiohttp import web

from gateway.http.errors import ApiError
from gateway.http.routes import Route
from gateway.web.const import STATIC_FILES
from gateway.web.live import LiveHub

PAGE_FILE = "index.html"


class StaticFiles:
    """The page's files, read once from the package (a handful of small files, no directory walking)."""

    def __init__(self) -> None:
        root = resources.files("gateway.web") / "static"
        self._page = (root / PAGE_FILE).read_bytes()
        self._files = {name: (root / name).read_bytes() for name in STATIC_FILES}

    async def page(self, request: web.Request) -> web.Response:
        return web.Response(body=self._page, content_type="text/html", charset="utf-8")

    async def static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = self._files.get(name)
        if body is None:
            raise ApiError(404, "not_found", "no such file")
        content_type = STATIC_FILES[name]
        charset = None if content_type.startswith("image/") and not content_type.endswith("svg+xml") else "utf-8"
        return web.Response(body=body, content_type=content_type, charset=charset)


def web_routes(hub: LiveHub, files: StaticFiles | None = None) -> list[Route]:
    files = files or StaticFiles()
    return [
        Route("GET", "/", "page", files.page, "The technician page.", public=True, content_type="text/html"),
        Route("GET", "/static/{name}", "page.static", files.static, "Scripts, styles and icons of the page.",
              public=True, content_type="text/plain", errors=(404,)),
        Route("GET", "/api/v1/live", "live", hub.handle,
              "Live view over a WebSocket: send {\"type\": \"auth\", \"token\": ...} first; snapshots follow.",
              public=True, content_type="application/json"),
    ]
