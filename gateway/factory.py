"""The app factory: the one place where the gateway's parts are composed.

Start-up order: state directory, state database, signing keys, token and audit services, HTTP sites,
then the supervised parts. Shutdown runs the same list backwards. Every part receives what it needs as
arguments; nothing is looked up by name or held in globals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from gateway import __version__
from gateway.api.context import ApiContext
from gateway.api.extruder import extruder_routes
from gateway.api.models import AuthStatus, LoopStatus, PartStatus, StatusResponse, WatchdogStatus
from gateway.api.printers import printer_list, printer_routes
from gateway.api.table import core_routes
from gateway.api.telemetry import telemetry_routes
from gateway.audit.store import AuditLog
from gateway.auth.backoff import FailedAuthTracker
from gateway.auth.keyring import Keyring
from gateway.auth.revocation import RevocationCache
from gateway.auth.tokens import TokenService
from gateway.config.models import GatewayConfig
from gateway.control.client import ExtruderClient
from gateway.control.simulated import SimulatedController
from gateway.http.app import build_web_app
from gateway.http.routes import Route
from gateway.http.server import HttpServer, start_http
from gateway.lifecycle.notify import SystemdNotifier
from gateway.lifecycle.supervisor import PartHealth, PartState, Supervisor
from gateway.lifecycle.watchdog import LoopLagMonitor, WatchdogPinger
from gateway.metrics import GatewayMetrics
from gateway.printers.assembly import PrintersPart, build_printers
from gateway.statedb.connection import close_state_db, open_state_db
from gateway.statedb.tokens import TokenRegistry
from gateway.sync.assembly import build_sync_worker
from gateway.sync.worker import SyncWorker, disabled_status
from gateway.telemetry.integrity import record_quarantine
from gateway.telemetry.store import TelemetryStore
from gateway.web.feed import LiveFeed
from gateway.web.live import LiveHub
from gateway.web.routes import web_routes

log = logging.getLogger(__name__)

AUTH_REFRESH_INTERVAL_S = 1.0
STATE_DIR_MODE = 0o700


def ensure_private_dir(path: Path) -> None:
    """Create the directory (and parents) if needed; the leaf is made private to the service user."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_mode & 0o777 != STATE_DIR_MODE:
        os.chmod(path, STATE_DIR_MODE)


class AuthRefresher:
    """Picks up key and revocation changes made by the CLI in another process (about once a second)."""

    name = "auth-refresh"

    def __init__(self, keyring: Keyring, revocations: RevocationCache, registry: TokenRegistry,
                 tracker: FailedAuthTracker, metrics: GatewayMetrics) -> None:
        self._keyring = keyring
        self._revocations = revocations
        self._registry = registry
        self._tracker = tracker
        self._metrics = metrics

    async def run(self) -> None:
        while True:
            self._keyring.reload_if_changed()
            await self._revocations.refresh(self._registry)
            self._metrics.auth_blocked_addresses.set(self._tracker.blocked_addresses())
            await asyncio.sleep(AUTH_REFRESH_INTERVAL_S)


@dataclass
class Gateway:
    """A composed gateway: start it, read its URLs, stop it."""

    config: GatewayConfig
    notifier: SystemdNotifier
    clock: Callable[[], float]
    db: aiosqlite.Connection
    context: ApiContext
    supervisor: Supervisor
    loop_monitor: LoopLagMonitor
    watchdog: WatchdogPinger
    live: LiveHub
    routes: list[Route] = field(default_factory=list)
    """Every served route: the core table plus each part's own (composed by `create_gateway`)."""
    telemetry: TelemetryStore | None = None
    """The telemetry buffer: the `TelemetrySink` producers receive, and the pull API's store."""
    started_monotonic: float = field(default_factory=time.monotonic)
    http: HttpServer | None = None
    stopping: bool = False
    printers: PrintersPart | None = None
    extruder: ExtruderClient | None = None
    """The extruder control process's client (None when [extruder] is not enabled)."""
    sync: SyncWorker | None = None
    """The upstream push-sync part (None when [sync] is not enabled)."""

    @property
    def urls(self) -> list[str]:
        return self.http.urls if self.http else []

    async def start(self) -> None:
        try:
            self.http = await start_http(
                build_web_app(self.context, self.routes), self.config.http,
                shutdown_timeout_s=self.config.lifecycle.shutdown_timeout_s / 2,
            )
        except BaseException:
            if self.telemetry is not None:
                await self.telemetry.close()
            await close_state_db(self.db)
            raise
        self.supervisor.start()
        log.info("gateway %s %s listening on %s", self.config.gateway.id, __version__, ", ".join(self.urls))

    async def stop(self) -> None:
        """Stop accepting requests, stop the parts (reverse order), close the database."""
        self.stopping = True
        await self.live.close_all()
        if self.http is not None:
            await self.http.stop()
        await self.supervisor.stop(self.config.lifecycle.shutdown_timeout_s / 2)
        if self.telemetry is not None:
            await self.telemetry.close()  # final flush; joins its threads
        await close_state_db(self.db)
        self.notifier.close()

    def report_part_change(self, health: PartHealth) -> None:
        """Tell the service manager (STATUS=) when a part fails, and when all run again after that."""
        if health.state == PartState.FAILED:
            self.notifier.status(f"degraded: {health.name} failed ({health.last_error}); "
                                 f"restart in {health.next_restart_in_s} s")
        elif health.state == PartState.RUNNING and health.restarts > 0 and not self.degraded():
            self.notifier.status(f"serving on {', '.join(self.urls)}")

    def is_healthy(self) -> bool:
        """For /healthz: the service answers and is not shutting down (parts' health is in status)."""
        return not self.stopping

    def refresh_metrics(self) -> None:
        """Set the gauges that mirror status (run by the metrics registry before each scrape)."""
        metrics = self.context.metrics
        metrics.uptime.set(time.monotonic() - self.started_monotonic)
        metrics.loop_lag.set(self.loop_monitor.last_lag_s)
        for part in self.supervisor.health():
            metrics.part_up.labels(part.name).set(1 if part.up else 0)
            metrics.part_restarts.labels(part.name).set(part.restarts)
        if self.printers is not None:
            self.printers.export_link_states(metrics.printer_link_state)

    def degraded(self) -> bool:
        return any(p.state == PartState.FAILED or p.problem is not None for p in self.supervisor.health())

    def status(self) -> StatusResponse:
        parts = [_part_status(h) for h in self.supervisor.health()]
        for part in parts:
            if self.telemetry is not None and part.name == self.telemetry.name:
                part.detail = self.telemetry.stats()
            if self.extruder is not None and part.name == self.extruder.name:
                part.detail = self.extruder.status_detail()
            if self.printers is not None and part.name in self.printers.link_names:
                part.detail = self.printers.link_detail(part.name)
        state = "stopping" if self.stopping else ("degraded" if self.degraded() else "ok")
        uptime = time.monotonic() - self.started_monotonic
        return StatusResponse(
            gateway_id=self.config.gateway.id,
            version=__version__,
            uptime_s=round(uptime, 3),
            state=state,
            parts=parts,
            event_loop=LoopStatus(lag_s=round(self.loop_monitor.last_lag_s, 4),
                                  worst_lag_s=round(self.loop_monitor.worst_lag_s, 4)),
            watchdog=WatchdogStatus(
                enabled=self.notifier.watchdog_usec is not None, pings_sent=self.watchdog.pings_sent,
                pings_withheld=self.watchdog.pings_withheld, last_failure=self.watchdog.last_failure,
            ),
            auth=AuthStatus(active_kid=self.context.keyring.active_kid,
                            blocked_addresses=self.context.failed_auth.blocked_addresses()),
            listen=self.urls,
            sync=self.sync.status() if self.sync is not None else disabled_status(),
        )


def _part_status(health: PartHealth) -> PartStatus:
    problem = health.problem if health.state == PartState.RUNNING else None
    return PartStatus(
        name=health.name, state="degraded" if problem else str(health.state), since=health.since,
        restarts=health.restarts, last_error=problem or health.last_error, next_restart_in_s=health.next_restart_in_s,
    )


async def create_gateway(
    config: GatewayConfig,
    *,
    notifier: SystemdNotifier | None = None,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Gateway:
    """Compose every part from the config. Nothing listens until `Gateway.start()`."""
    notifier = notifier or SystemdNotifier(None)
    ensure_private_dir(config.gateway.state_dir)
    db = await open_state_db(config.state_db_path)
    try:
        keyring = Keyring.open(config.signing_keys_dir, clock)
        registry = TokenRegistry(db, clock)
        revocations = RevocationCache()
        await revocations.load(registry)
    except BaseException:
        await close_state_db(db)
        raise
    try:
        telemetry = await TelemetryStore.open(config.telemetry.db_path(config.gateway.state_dir), config.telemetry,
                                              clock=clock, monotonic=monotonic)
    except BaseException:
        await close_state_db(db)
        raise
    if telemetry.quarantined is not None:
        await record_quarantine(AuditLog(db, clock), telemetry.quarantined, telemetry.epoch)
    metrics = GatewayMetrics()
    backoff = config.auth.backoff
    tracker = FailedAuthTracker(
        monotonic, limit=backoff.limit, window_s=backoff.window_s, initial_block_s=backoff.initial_block_s,
        max_block_s=backoff.max_block_s, decay_s=backoff.decay_s,
    )
    supervisor = Supervisor(
        restart_initial_s=config.lifecycle.restart_initial_s, restart_max_s=config.lifecycle.restart_max_s,
        clock=clock, monotonic=monotonic, on_change=lambda health: gateway.report_part_change(health),
    )
    loop_monitor = LoopLagMonitor(max_lag_s=config.lifecycle.loop_lag_max_s, monotonic=monotonic)
    watchdog = WatchdogPinger(notifier, [loop_monitor.check])
    context = ApiContext(
        config=config, clock=clock, keyring=keyring,
        tokens=TokenService(keyring, config.gateway.id, clock, leeway_s=config.auth.leeway_s,
                            max_ttl_s=config.auth.max_ttl_s),
        registry=registry, revocations=revocations, audit=AuditLog(db, clock), failed_auth=tracker,
        metrics=metrics, status=lambda: gateway.status(),
    )
    printers = build_printers(config.printers, state_dir=config.gateway.state_dir, key_file=config.encryption_key_file,
                              sink=telemetry, clock=clock, monotonic=monotonic)
    feed = LiveFeed()
    live = LiveHub(feed)
    gateway = Gateway(config=config, notifier=notifier, clock=clock, db=db, context=context,
                      supervisor=supervisor, loop_monitor=loop_monitor, watchdog=watchdog, live=live,
                      routes=[*core_routes(), *web_routes(live), *telemetry_routes(telemetry),
                              *printer_routes(printers.manager)],
                      telemetry=telemetry, printers=printers)
    feed.add("status", lambda: gateway.status())
    context.is_healthy = gateway.is_healthy
    metrics.add_refresher(gateway.refresh_metrics)
    supervisor.add(loop_monitor)
    supervisor.add(AuthRefresher(keyring, revocations, registry, tracker, metrics))
    supervisor.add(watchdog)
    feed.add("printers", lambda: printer_list(printers.manager))
    for part in printers.parts:
        supervisor.add(part)
    supervisor.add(telemetry)
    if config.extruder.enabled:
        extruder = ExtruderClient(config.extruder, state_dir=config.gateway.state_dir, audit=context.audit,
                                  sink=telemetry, clock=clock, monotonic=monotonic,
                                  log_level=config.gateway.log_level, log_format=config.gateway.log_format)
        gateway.extruder = extruder
        gateway.routes.extend(extruder_routes(extruder))
        if config.extruder.simulator:
            supervisor.add(SimulatedController(config.extruder, config.gateway.state_dir))
        supervisor.add(extruder)
        watchdog.add_check(extruder.liveness)
        feed.add("extruder", lambda: extruder.latest)
    if config.sync.enabled:  # after the store: stopped before it closes
        gateway.sync = build_sync_worker(config.sync, gateway_id=config.gateway.id, store=telemetry, db=db,
                                         clock=clock, monotonic=monotonic)
        supervisor.add(gateway.sync)
    return gateway

