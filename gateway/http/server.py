"""Binding the API: only the configured addresses, HTTPS with the device certificate, or plain HTTP on loopback."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from aiohttp import web

from gateway.config.models import HttpSection, TlsSection
from gateway.http.bad_requests import PARSE_ERROR_ROUTE, GatewayAppRunner, OnBadRequest
from gateway.http.keys import CONTEXT

SHUTDOWN_GRACE_S = 2.0
KEEPALIVE_TIMEOUT_S = 15.0


class BindError(Exception):
    """An address could not be bound (in use, not on this host, permission)."""


def server_ssl_context(tls: TlsSection) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile=str(tls.cert_file), keyfile=str(tls.key_file))
    return context


@dataclass
class HttpServer:
    """The running sites of one aiohttp app."""

    runner: web.AppRunner
    urls: list[str]

    async def stop(self) -> None:
        await self.runner.cleanup()


def _bad_request_counter(app: web.Application) -> OnBadRequest | None:
    """Requests aiohttp's parser refused count in `gateway_http_requests` (route `unparsed`, method `-`)."""
    context = app.get(CONTEXT)
    if context is None:
        return None
    requests = context.metrics.http_requests

    def count(status: int) -> None:
        requests.labels(PARSE_ERROR_ROUTE, "-", str(status)).inc()

    return count


async def start_http(app: web.Application, http: HttpSection, *, shutdown_timeout_s: float) -> HttpServer:
    """Bind every configured address (config validation already refused unsafe ones)."""
    ssl_context = server_ssl_context(http.tls) if http.tls is not None else None
    runner = GatewayAppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=shutdown_timeout_s,
        keepalive_timeout=KEEPALIVE_TIMEOUT_S, on_bad_request=_bad_request_counter(app),
    )
    await runner.setup()
    urls: list[str] = []
    scheme = "https" if ssl_context is not None else "http"
    try:
        for address in http.listen:
            site = web.TCPSite(runner, address.host, address.port, ssl_context=ssl_context, reuse_address=True)
            try:
                await site.start()
            except OSError as exc:
                raise BindError(f"cannot listen on {address.host}:{address.port}: {exc.strerror or exc}") from None
    except BaseException:
        await runner.cleanup()
        raise
    for sockname in runner.addresses:  # the real ports, also when port 0 was asked for
        host, port = sockname[:2]
        urls.append(f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}")
    return HttpServer(runner=runner, urls=urls)
