"""A reference receiver for push sync: an aiohttp app over mutual TLS, for tests, the demo and the benchmark.

It verifies client certificates against its CA, parses each batch, checks that the ``Idempotency-Key``
header matches the body, and records what it got, deduplicated by idempotency key. Failure modes are
switchable at run time (``Behaviour``; over HTTP with ``PUT /_receiver/behaviour``):
503 to everything, 429 with ``Retry-After``, 400 for batches holding given seqs, drop the connection
after reading the body (the response is lost), and slow answers. ``GET /_receiver/stats`` reports.

    python -m gateway.sync.receiver --ca ca.pem --cert server.pem --key server.key --port 9443
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from aiohttp import web

from gateway.sync import const
from gateway.sync.batch import BatchError, decode_batch
from gateway.sync.tls import server_context

BATCH_PATH = "/v1/batches"
STATS_PATH = "/_receiver/stats"
BEHAVIOUR_PATH = "/_receiver/behaviour"
MAX_BODY_BYTES = 256 * 1024 * 1024


@dataclass
class Behaviour:
    """How the receiver answers; change the fields at any time."""

    unavailable: bool = False  # 503 to every batch
    throttle: int = 0  # the next N batches get 429 with Retry-After
    retry_after: str = "1"  # seconds or an HTTP-date
    reject_seqs: set[int] = field(default_factory=set)  # 400 for a batch holding any of these seqs
    drop_responses: int = 0  # the next N batches are read and recorded, then the connection is dropped
    delay_s: float = 0.0  # slow: wait this long after storing a batch, before answering


@dataclass(frozen=True)
class Attempt:
    at: float  # time.monotonic() when the request arrived
    key: str | None
    status: int  # 0 for a dropped response


@dataclass
class Received:
    key: str
    count: int
    client: str | None
    times: int = 1


class Receiver:
    """The app's state: what arrived, and how to answer."""

    def __init__(self, *, keep_items: bool = True) -> None:
        self.behaviour = Behaviour()
        self.keep_items = keep_items
        self.batches: dict[str, Received] = {}
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.attempts: list[Attempt] = []
        self.duplicate_keys: list[str] = []
        self.dropped_keys: list[str] = []
        self.bytes_received = 0  # request bodies as they came over the wire (compressed)
        self.in_flight = 0  # batch requests being handled right now

    @property
    def unique_samples(self) -> int:
        return sum(batch.count for batch in self.batches.values())

    def delivered(self) -> list[dict[str, Any]]:
        """Every recorded item once (first arrival of each key), ordered by (epoch, seq)."""
        every = [item for items in self.items.values() for item in items]
        return sorted(every, key=lambda item: item["seq"])

    def stats(self) -> dict[str, Any]:
        return {"batches": len(self.batches), "unique_samples": self.unique_samples,
                "attempts": len(self.attempts), "in_flight": self.in_flight, "bytes_received": self.bytes_received, "duplicates": len(self.duplicate_keys),
                "duplicate_keys": self.duplicate_keys[-100:], "dropped_keys": self.dropped_keys[-100:],
                "behaviour": {k: sorted(v) if isinstance(v, set) else v for k, v in asdict(self.behaviour).items()}}

    def set_behaviour(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in fields(Behaviour)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown behaviour field(s): {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self.behaviour, name, set(value) if name == "reject_seqs" else value)

    async def handle_batch(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._handle_batch(request)
        finally:
            self.in_flight -= 1

    async def _handle_batch(self, request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        header_key = request.headers.get(const.IDEMPOTENCY_HEADER)
        behaviour = self.behaviour
        body = await request.read()
        self.bytes_received += len(body)
        if behaviour.unavailable:
            return self._answer(arrived, header_key, 503, "unavailable")
        if behaviour.throttle > 0:
            behaviour.throttle -= 1
            response = self._answer(arrived, header_key, 429, "slow down")
            response.headers["Retry-After"] = behaviour.retry_after
            return response
        try:
            batch = decode_batch(body, content_type=request.content_type,
                                 content_encoding=request.headers.get("Content-Encoding"))
        except BatchError as exc:
            return self._answer(arrived, header_key, 400, str(exc))
        if header_key != batch.key:
            return self._answer(arrived, header_key, 400, "Idempotency-Key header does not match the body")
        if behaviour.reject_seqs and any(item.get("seq") in behaviour.reject_seqs for item in batch.items):
            return self._answer(arrived, batch.key, 400, "batch refused by rule")
        known = self.batches.get(batch.key)
        if known is not None:
            known.times += 1
            self.duplicate_keys.append(batch.key)
        else:
            self.batches[batch.key] = Received(batch.key, len(batch.items), _client_name(request))
            if self.keep_items:
                self.items[batch.key] = batch.items
        if behaviour.drop_responses > 0:
            behaviour.drop_responses -= 1
            self.dropped_keys.append(batch.key)
            self.attempts.append(Attempt(arrived, batch.key, 0))
            assert request.transport is not None
            request.transport.abort()  # the batch is stored, the client never hears so
            raise asyncio.CancelledError
        if behaviour.delay_s > 0:
            await asyncio.sleep(behaviour.delay_s)
        return self._answer(arrived, batch.key, 200, "duplicate" if known else "stored")

    def _answer(self, arrived: float, key: str | None, status: int, message: str) -> web.Response:
        self.attempts.append(Attempt(arrived, key, status))
        return web.json_response({"status": message, "idempotency_key": key}, status=status)

    async def handle_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def handle_behaviour(self, request: web.Request) -> web.Response:
        try:
            self.set_behaviour(await request.json())
        except (ValueError, TypeError) as exc:
            return web.json_response({"error": {"code": "bad_behaviour", "message": str(exc)}}, status=400)
        return web.json_response(self.stats()["behaviour"])


def _client_name(request: web.Request) -> str | None:
    peer = request.transport.get_extra_info("peercert") if request.transport else None
    for rdn in (peer or {}).get("subject", ()):
        for name, value in rdn:
            if name == "commonName":
                return str(value)
    return None


def build_app(receiver: Receiver) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(BATCH_PATH, receiver.handle_batch)
    app.router.add_get(STATS_PATH, receiver.handle_stats)
    app.router.add_put(BEHAVIOUR_PATH, receiver.handle_behaviour)
    return app


@dataclass
class RunningReceiver:
    receiver: Receiver
    runner: web.AppRunner
    url: str  # the batch endpoint

    async def stop(self) -> None:
        await self.runner.cleanup()


async def start_receiver(*, ca_file: Path, cert_file: Path, key_file: Path, host: str = "127.0.0.1",
                         port: int = 0, receiver: Receiver | None = None, url_host: str | None = None) -> RunningReceiver:
    """Serve on host:port (0: a free port); ``url_host`` is the name put in the URL (default: host)."""
    receiver = receiver or Receiver()
    runner = web.AppRunner(build_app(receiver), access_log=None, handle_signals=False,
                           auto_decompress=False)  # decode_batch sees the body as sent
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=server_context(ca_file=ca_file, cert_file=cert_file,
                                                                      key_file=key_file))
    await site.start()
    server = site._server
    assert server is not None and server.sockets  # type: ignore[attr-defined]
    bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    name = url_host or host
    if ":" in name:
        name = f"[{name}]"
    return RunningReceiver(receiver, runner, f"https://{name}:{bound}{BATCH_PATH}")


async def _serve(args: argparse.Namespace) -> None:
    receiver = Receiver(keep_items=not args.counts_only)
    receiver.behaviour.unavailable = args.unavailable
    receiver.behaviour.reject_seqs = set(args.reject_seq)
    receiver.behaviour.delay_s = args.delay
    running = await start_receiver(ca_file=args.ca, cert_file=args.cert, key_file=args.key, host=args.host,
                                   port=args.port, receiver=receiver)
    print(f"receiver listening on {running.url}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await running.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway.sync.receiver", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback by default)")
    parser.add_argument("--port", type=int, default=0, help="port (0: a free one, printed on start)")
    parser.add_argument("--ca", type=Path, required=True, help="CA that client certificates must chain to")
    parser.add_argument("--cert", type=Path, required=True, help="server certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="server key (PEM)")
    parser.add_argument("--unavailable", action="store_true", help="start answering 503 to everything")
    parser.add_argument("--reject-seq", type=int, action="append", default=[], help="400 for batches holding this seq")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer")
    parser.add_argument("--counts-only", action="store_true", help="do not keep the items (benchmarks)")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
