"""Prometheus metrics of the gateway, in a registry of its own (no process-global state).

Each part adds its metrics to the same registry when it is composed (see the app factory). Gauges that
mirror state kept elsewhere (uptime, part health) are set by refreshers that run only when the metrics
are scraped, so the request path does not pay for them.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

HTTP_LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class GatewayMetrics:
    """The core metrics: HTTP, authentication, audit, parts."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._refreshers: list[Callable[[], None]] = []
        r = self.registry
        self.http_requests = Counter(
            "gateway_http_requests", "HTTP requests by route name, method and status.", ["route", "method", "status"], registry=r
        )
        self.http_latency = Histogram(
            "gateway_http_request_duration_seconds", "HTTP request handling time.", ["route"],
            buckets=HTTP_LATENCY_BUCKETS_S, registry=r,
        )
        self.auth_failures = Counter(
            "gateway_auth_failures", "Failed authentications by reason.", ["reason"], registry=r
        )
        self.auth_blocked = Counter(
            "gateway_auth_blocked_requests", "Requests refused with 429 during a failed-auth back-off.", registry=r
        )
        self.auth_blocked_addresses = Gauge(
            "gateway_auth_blocked_addresses", "Client addresses currently in failed-auth back-off.", registry=r
        )
        self.audit_entries = Counter("gateway_audit_entries", "Audit entries written.", registry=r)
        self.audit_failures = Counter("gateway_audit_write_failures", "Audit entries that could not be written.", registry=r)
        self.part_up = Gauge("gateway_part_up", "1 while a part runs, 0 while it is failed or stopped.", ["part"], registry=r)
        self.part_restarts = Gauge("gateway_part_restarts", "Restarts of a part since start-up.", ["part"], registry=r)
        self.printer_link_state = Gauge(
            "gateway_printer_link_state", "1 for the state each printer's link is in (connecting, online, offline, "
            "auth_failed, tls_refused, not_configured), 0 for the others.", ["printer", "state"], registry=r,
        )
        self.loop_lag = Gauge("gateway_event_loop_lag_seconds", "Last measured event-loop lag.", registry=r)
        self.uptime = Gauge("gateway_uptime_seconds", "Seconds since the gateway started.", registry=r)

    def add_refresher(self, refresh: Callable[[], None]) -> None:
        """Run `refresh` before every scrape (it sets gauges from the state it mirrors)."""
        self._refreshers.append(refresh)

    def render(self) -> bytes:
        for refresh in self._refreshers:
            refresh()
        return generate_latest(self.registry)
