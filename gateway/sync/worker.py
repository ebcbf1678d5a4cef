"""The push-sync part: reads the buffer from the acked cursor, POSTs batches over mutual TLS, acks on 2xx.

One batch is in flight at a time, so the acked cursor only ever moves past rows the endpoint has
acknowledged (2xx) or that were set aside as dead letters; the following batch is read and encoded
meanwhile (it is only a prefetch: nothing about it is persisted until it is sent). Every decision after an attempt comes from
``RetryPolicy``; this module is the thin I/O shell around it. Runs under the Supervisor as part "sync".
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import aiohttp

from gateway.sync import const
from gateway.sync.batch import Batch, EncodedBatch, SyncRow, encode_batch
from gateway.sync.config import SyncSection
from gateway.sync.deadletter import DeadLetterStore
from gateway.sync.policy import Decision, Outcome, RetryPolicy, certificate_problem
from gateway.sync.progress import InFlight, SyncProgress
from gateway.sync.source import SourceCursor, StaleCursorError, SyncSource
from gateway.sync.status import SyncState, SyncStatus
from gateway.sync.tls import client_context, files_signature, probe_refusal

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Prepared = tuple[Batch, EncodedBatch]
BACKLOG_REFRESH_S = 0.5


async def _cancel(task: asyncio.Task[object]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def disabled_status() -> SyncStatus:
    return SyncStatus(enabled=False, state="disabled")


class SyncWorker:
    """Supervised part "sync". ``status()`` is cheap and synchronous (for /api/v1/status)."""

    name = "sync"

    def __init__(
        self,
        settings: SyncSection,
        *,
        gateway_id: str,
        source: SyncSource,
        deadletters: DeadLetterStore,
        progress: SyncProgress,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if settings.endpoint is None or settings.ca_file is None or settings.cert_file is None or settings.key_file is None:
            raise ValueError("sync settings are incomplete (endpoint, ca_file, cert_file, key_file)")
        self._settings = settings
        self._endpoint = settings.endpoint
        endpoint = urlsplit(settings.endpoint)
        self._host = endpoint.hostname or ""
        self._port = endpoint.port or 443
        self._context: ssl.SSLContext | None = None
        self._gateway_id = gateway_id
        self._source = source
        self._deadletters = deadletters
        self._progress = progress
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._policy = RetryPolicy(initial_s=settings.backoff_initial_s, max_s=settings.backoff_max_s,
                                   max_attempts=settings.max_attempts, clock=clock, rng=rng)
        self._started = monotonic()
        self._state: SyncState = "starting"
        self._message: str | None = None
        self._last_success_at: float | None = None
        self._last_attempt_at: float | None = None
        self._backlog: int | None = None
        self._backlog_at = float("-inf")
        self._oldest_pending_ts: float | None = None
        self._delivered = deque[tuple[float, int]]()
        self._delivered_samples = 0
        self._delivered_batches = 0
        self._retries = 0
        self._next_attempt_at: float | None = None
        self._dead_batches = 0
        self._dead_samples = 0
        self._persisted_at = float("-inf")
        self._acking: asyncio.Task[None] | None = None

    # ---- status -------------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        now_m = self._monotonic()
        while self._delivered and self._delivered[0][0] < now_m - const.RATE_WINDOW_S:
            self._delivered.popleft()
        window = max(1e-3, min(const.RATE_WINDOW_S, now_m - self._started))
        lag = None if self._oldest_pending_ts is None else max(0.0, self._clock() - self._oldest_pending_ts)
        return SyncStatus(
            enabled=True, state=self._state, message=self._message, endpoint=self._endpoint,
            last_success_at=self._last_success_at, last_attempt_at=self._last_attempt_at, backlog=self._backlog,
            lag_s=round(lag, 3) if lag is not None else (0.0 if self._state == "idle" else None),
            rate_samples_per_s=round(sum(n for _, n in self._delivered) / window, 1),
            delivered_samples=self._delivered_samples, delivered_batches=self._delivered_batches,
            retries=self._retries,
            next_attempt_in_s=None if self._next_attempt_at is None else round(max(0.0, self._next_attempt_at - now_m), 3),
            dead_letter_batches=self._dead_batches, dead_letter_samples=self._dead_samples,
        )

    async def _set_state(self, state: SyncState, message: str | None = None) -> None:
        changed = state != self._state or message != self._message
        self._state, self._message = state, message
        if state != "backing_off":
            self._next_attempt_at = None
        await self._persist(force=changed and state in ("stopped", "idle"))

    async def _persist(self, *, force: bool = False) -> None:
        now_m = self._monotonic()
        if not force and now_m - self._persisted_at < const.STATUS_PERSIST_INTERVAL_S:
            return
        self._persisted_at = now_m
        await self._progress.write_snapshot(self.status().model_dump(), self._clock())

    async def _refresh_backlog(self, *, force: bool = False) -> None:
        now_m = self._monotonic()
        if force or now_m - self._backlog_at >= BACKLOG_REFRESH_S:
            self._backlog_at = now_m
            self._backlog = await self._source.backlog()

    async def _refresh_deadletters(self) -> None:
        summary = await self._deadletters.summary()
        self._dead_batches, self._dead_samples = summary.batches, summary.samples

    # ---- the part -----------------------------------------------------------------------------------

    async def run(self) -> None:
        await self._deadletters.ensure_schema()
        await self._progress.ensure_schema()
        await self._refresh_deadletters()
        while True:
            signature = self._tls_files()
            try:
                context = client_context(ca_file=self._settings.ca_file, cert_file=self._settings.cert_file,  # type: ignore[arg-type]
                                         key_file=self._settings.key_file)  # type: ignore[arg-type]
            except (OSError, ssl.SSLError) as exc:
                problem = certificate_problem(exc) or f"cannot load the sync certificates: {exc}"
                await self._stop_until_files_change(problem, signature)
                continue
            self._context = context
            timeout = aiohttp.ClientTimeout(total=self._settings.request_timeout_s,
                                            connect=self._settings.connect_timeout_s)
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context, limit=1),
                                             timeout=timeout) as session:
                problem = await self._push_until_stopped(session)
            await self._stop_until_files_change(problem, signature)

    def _tls_files(self) -> tuple[tuple[str, int, int], ...]:
        return files_signature(self._settings.ca_file, self._settings.cert_file, self._settings.key_file)

    async def _stop_until_files_change(self, problem: str, signature: tuple[tuple[str, int, int], ...]) -> None:
        """Sync stays stopped (nothing is lost: rows stay buffered) until provisioning replaces a file."""
        message = (f"sync stopped: {problem}. Data stays buffered; sync tries again when the certificate files "
                   f"change, or in {const.STOPPED_RECHECK_S / 60:.0f} min.")
        log.error("%s", message)
        await self._set_state("stopped", message[: const.MESSAGE_MAX_CHARS * 2])
        give_up_at = self._monotonic() + const.STOPPED_RECHECK_S
        while self._tls_files() == signature and self._monotonic() < give_up_at:
            await self._refresh_backlog()
            await self._persist()
            await self._sleep(const.CERT_RECHECK_INTERVAL_S)
        log.info("sync: trying the endpoint again after a certificate problem")

    async def _push_until_stopped(self, session: aiohttp.ClientSession) -> str:
        """Send batch after batch; the next one is read and encoded while the current one is in flight."""
        ready: Prepared | None = None
        while True:
            await self._refresh_backlog()
            if ready is None:
                await self._ack_done()
                try:
                    ready = await self._encode(await self._next_batch())
                except StaleCursorError:
                    await self._progress.clear_inflight()
                    continue
            if ready is None:
                self._oldest_pending_ts = None
                await self._set_state("idle")
                await self._persist()
                await self._sleep(self._settings.idle_poll_s)
                continue
            batch, encoded = ready
            self._oldest_pending_ts = batch.rows[0].ts
            following = asyncio.create_task(self._read_following(batch))
            try:
                stop = await self._deliver(session, batch, encoded)
            except BaseException:
                await _cancel(following)
                if self._acking is not None:
                    await _cancel(self._acking)
                raise
            if stop is not None:
                await _cancel(following)
                await self._ack_done()
                return stop
            ready = await self._not_yet_acked(await following)

    async def _encode(self, batch: Batch | None) -> Prepared | None:
        if batch is None:
            return None
        return batch, await asyncio.to_thread(encode_batch, batch, self._settings.format)

    async def _not_yet_acked(self, ready: Prepared | None) -> Prepared | None:
        """A prefetched batch minus what was acked meanwhile by someone else (the pull API shares the cursor)."""
        if ready is None:
            return None
        batch = ready[0]
        acked = await self._source.acked_cursor()
        if acked.epoch != batch.epoch or acked.seq >= batch.last_seq:
            return None  # re-read from the acked cursor
        if acked.seq < batch.first_seq:
            return ready
        return await self._encode(Batch(self._gateway_id, batch.epoch, [r for r in batch.rows if r.seq > acked.seq]))

    async def _read_following(self, batch: Batch) -> Prepared | None:
        """The batch after ``batch`` (not yet in flight: nothing is persisted about it), encoded."""
        try:
            rows = await self._source.read_after(SourceCursor(batch.epoch, batch.last_seq), self._settings.batch_size)
        except StaleCursorError:
            return None
        return await self._encode(Batch(self._gateway_id, batch.epoch, rows)) if rows else None

    async def _next_batch(self) -> Batch | None:
        acked = await self._source.acked_cursor()
        inflight = await self._progress.inflight()
        limit = self._settings.batch_size
        if inflight is not None and inflight.epoch == acked.epoch and inflight.last_seq > acked.seq:
            start = max(inflight.first_seq - 1, acked.seq)  # the same rows again: same idempotency key
            rows: Sequence[SyncRow] = [
                row for row in await self._source.read_after(SourceCursor(acked.epoch, start), limit)
                if row.seq <= inflight.last_seq
            ]
        else:
            if inflight is not None:
                await self._progress.clear_inflight()
            rows = await self._source.read_after(acked, limit)
        return Batch(self._gateway_id, acked.epoch, rows) if rows else None

    async def _deliver(self, session: aiohttp.ClientSession, batch: Batch, encoded: EncodedBatch) -> str | None:
        """Push one batch until it is acked or dead-lettered (None), or sync must stop (the reason)."""
        if len(batch.rows) < self._settings.batch_size:
            # A full batch is re-read identically after a restart (acked cursor + batch_size); a short one
            # is not (more rows may have arrived), so its exact range is noted first (same key on re-send).
            await self._progress.set_inflight(InFlight(batch.epoch, batch.first_seq, batch.last_seq, batch.key),
                                              self._clock())
        failures = 0
        refusals = 0
        while True:
            await self._set_state("sending")
            self._last_attempt_at = self._clock()
            decision = await self._attempt(session, encoded.body, encoded.headers, failures + 1)
            if decision.outcome is Outcome.ACK:
                await self._ack_done()  # acks stay in order
                self._acking = asyncio.create_task(self._settle(batch))  # runs while the next batch is sent
                self._count_delivery(len(batch.rows))
                return None
            if decision.outcome is Outcome.STOP:
                return decision.reason
            failures += 1
            if decision.outcome is Outcome.REJECT:
                refusals += 1
                if refusals >= self._policy.max_attempts:
                    await self._dead_letter(batch, decision)
                    return None
            self._retries += 1
            log.warning("sync batch %s: %s; retry in %.1f s", batch.key, decision.reason, decision.delay_s)
            self._next_attempt_at = self._monotonic() + decision.delay_s
            self._state, self._message = "backing_off", decision.reason
            await self._persist()
            await self._sleep(decision.delay_s)

    async def _attempt(self, session: aiohttp.ClientSession, body: bytes, headers: dict[str, str], attempt: int) -> Decision:
        try:
            async with session.post(self._endpoint, data=body, headers=headers) as response:
                await response.read()
                return self._policy.after_response(response.status, response.headers, attempt)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            decision = self._policy.after_error(exc, attempt)
            if decision.outcome is Outcome.RETRY and isinstance(exc, (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
                decision = await self._diagnose_reset(decision, attempt)
            return decision

    async def _diagnose_reset(self, decision: Decision, attempt: int) -> Decision:
        """A reset may be the endpoint refusing our certificate (TLS 1.3 reports it late): look once more."""
        if self._context is None:
            return decision
        found = await asyncio.to_thread(probe_refusal, self._host, self._port, self._context, const.TLS_PROBE_TIMEOUT_S)
        if isinstance(found, str):
            return Decision(Outcome.STOP, found)
        if found is not None:
            stop = self._policy.after_error(found, attempt)
            if stop.outcome is Outcome.STOP:
                return stop
        return decision

    async def _settle(self, batch: Batch) -> None:
        """The batch's rows are done with: ack them in the buffer (then they may be deleted).

        The in-flight note is left for the next batch to overwrite (one state-db commit per batch, not
        two); a note at or below the acked cursor is stale and ignored after a restart.
        """
        try:
            await self._source.ack(SourceCursor(batch.epoch, batch.last_seq))
        except StaleCursorError:
            log.warning("sync: the buffer was re-created while batch %s was in flight", batch.key)
        await self._refresh_backlog(force=True)

    async def _ack_done(self) -> None:
        """Wait for the previous batch's ack (started when its 2xx came)."""
        acking, self._acking = self._acking, None
        if acking is not None:
            await acking

    def _count_delivery(self, count: int) -> None:
        self._delivered.append((self._monotonic(), count))
        self._delivered_samples += count
        self._delivered_batches += 1
        self._last_success_at = self._clock()
        self._message = None

    async def _dead_letter(self, batch: Batch, decision: Decision) -> None:
        reason = f"refused {self._policy.max_attempts} time(s), last: {decision.reason}"
        await self._ack_done()
        await self._deadletters.put(batch, reason)
        log.error("sync batch %s dead-lettered (%d samples): %s", batch.key, len(batch.rows), reason)
        await self._settle(batch)
        await self._refresh_deadletters()
