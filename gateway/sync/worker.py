"""The push-sync part: reads the buffer from the acked cursor, POSTs batches over mutual TLS, acks on 2xx.

One batch is in flight at a time, so the acked cursor only ever moves past rows the endpoint has
acknowledged (2xx) or that were set aside as dead letters. Meanwhile the following batch is read and
encoded (only a prefetch: nothing about it is persisted until it is sent), and the previous batch's ack
runs. Every decision after an attempt comes from ``RetryPolicy``; this module is the thin I/O shell
around it. Runs under the Supervisor as part "sync".
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
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
from gateway.sync.tracker import SyncTracker

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
        self._tls_paths = (settings.ca_file, settings.cert_file, settings.key_file)
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
        self._track = SyncTracker(settings.endpoint, monotonic())
        self._backlog_at = float("-inf")
        self._persisted_at = float("-inf")
        self._acking: asyncio.Task[None] | None = None

    # ---- status -------------------------------------------------------------------------------------

    def status(self) -> SyncStatus:
        return self._track.status(now=self._clock(), now_monotonic=self._monotonic())

    async def _set_state(self, state: SyncState, message: str | None = None) -> None:
        track = self._track
        changed = state != track.state or message != track.message
        track.state, track.message = state, message
        if state != "backing_off":
            track.next_attempt_at = None
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
            self._track.backlog = await self._source.backlog()

    async def _refresh_deadletters(self) -> None:
        summary = await self._deadletters.summary()
        self._track.dead_batches, self._track.dead_samples = summary.batches, summary.samples

    # ---- the part -----------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            await self._finish_pending_ack()

    async def _finish_pending_ack(self) -> None:
        """On the way out (cancelled or failed): let a running ack end (it is short), never outlive the part."""
        acking, self._acking = self._acking, None
        if acking is None:
            return
        if not acking.done():
            await asyncio.wait({acking}, timeout=const.ACK_FINISH_TIMEOUT_S)
        if not acking.done():
            await _cancel(acking)  # the store rolls the chunk back; the batch is re-sent with its key
        elif not acking.cancelled() and acking.exception() is not None:
            log.error("sync: acking the last batch failed: %s", acking.exception())

    async def _run(self) -> None:
        await self._deadletters.ensure_schema()
        await self._progress.ensure_schema()
        await self._refresh_deadletters()
        while True:
            signature = self._tls_files()
            try:
                ca_file, cert_file, key_file = self._tls_paths
                context = client_context(ca_file=ca_file, cert_file=cert_file, key_file=key_file)
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
        return files_signature(*self._tls_paths)

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
                self._track.oldest_pending_ts = None
                await self._set_state("idle")
                await self._persist()
                await self._sleep(self._settings.idle_poll_s)
                continue
            batch, encoded = ready
            self._track.oldest_pending_ts = batch.rows[0].ts
            following = asyncio.create_task(self._read_following(batch))
            try:
                stop = await self._deliver(session, batch, encoded)
            except BaseException:
                await _cancel(following)
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
            self._track.last_attempt_at = self._clock()
            decision = await self._attempt(session, encoded.body, encoded.headers, failures + 1)
            if decision.outcome is Outcome.ACK:
                await self._ack_done()  # acks stay in order
                self._acking = asyncio.create_task(self._settle(batch))  # runs while the next batch is sent
                self._track.delivered(len(batch.rows), now=self._clock(), now_monotonic=self._monotonic())
                return None
            if decision.outcome is Outcome.STOP:
                return decision.reason
            failures += 1
            if decision.outcome is Outcome.REJECT:
                refusals += 1
                if refusals >= self._policy.max_attempts:
                    await self._dead_letter(batch, decision)
                    return None
            self._track.retries += 1
            log.warning("sync batch %s: %s; retry in %.1f s", batch.key, decision.reason, decision.delay_s)
            self._track.next_attempt_at = self._monotonic() + decision.delay_s
            self._track.state, self._track.message = "backing_off", decision.reason
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

    async def _dead_letter(self, batch: Batch, decision: Decision) -> None:
        reason = f"refused {self._policy.max_attempts} time(s), last: {decision.reason}"
        await self._ack_done()
        await self._deadletters.put(batch, reason)
        log.error("sync batch %s dead-lettered (%d samples): %s", batch.key, len(batch.rows), reason)
        await self._settle(batch)
        await self._refresh_deadletters()
