"""`edge-gateway sync status`: the push sync as the running service last reported it, plus dead letters.

The service writes a status snapshot to the state database every few seconds and on every stop; this
command reads it (the service may be running), the dead-letter table, and the buffer's current backlog.
Exit code 1 when sync is stopped on a problem that needs a person (certificates, endpoint refusing us).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from gateway.cli.common import EXIT_FAILED, EXIT_OK, config_path, finish_subcommands, load_or_exit
from gateway.config.models import GatewayConfig
from gateway.statedb.connection import state_db
from gateway.sync.deadletter import DeadLetterStore
from gateway.sync.progress import SyncProgress
from gateway.telemetry.inspect import read_stats

RECENT_DEAD_LETTERS = 10


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sync", help="upstream push sync: status and dead letters")
    commands = parser.add_subparsers(dest="sync_command", required=True)
    status = commands.add_parser("status", help="state, last success, backlog, lag, rate, dead letters")
    status.add_argument("--json", action="store_true", help="one JSON object instead of lines")
    finish_subcommands(commands, run)


def run(args: argparse.Namespace) -> int:
    config = load_or_exit(config_path(args))
    report = asyncio.run(_collect(config))
    if args.json:
        print(json.dumps(report, sort_keys=True))
    else:
        _print(report)
    return EXIT_FAILED if report.get("state") == "stopped" else EXIT_OK


async def _collect(config: GatewayConfig) -> dict[str, Any]:
    settings = config.sync
    report: dict[str, Any] = {"enabled": settings.enabled, "endpoint": settings.endpoint, "state": "disabled"}
    async with state_db(config.state_db_path) as db:
        deadletters = DeadLetterStore(db, time.time)
        progress = SyncProgress(db)
        await deadletters.ensure_schema()
        await progress.ensure_schema()
        snapshot = await progress.read_snapshot()
        summary = await deadletters.summary()
        recent = await deadletters.list(RECENT_DEAD_LETTERS)
    if snapshot is not None and settings.enabled:
        written_at, status = snapshot
        report.update(status)
        report["reported_at"] = written_at
        report["reported_s_ago"] = round(max(0.0, time.time() - written_at), 1)
    elif settings.enabled:
        report["state"] = "not reported yet"
    try:
        report["buffer_backlog"] = read_stats(config.telemetry.db_path(config.gateway.state_dir))["rows"]
    except (OSError, ValueError) as exc:  # no buffer yet, or unreadable: say so, do not fail
        report["buffer_backlog"] = None
        report["buffer_error"] = str(exc)
    report["dead_letter_batches"] = summary.batches
    report["dead_letter_samples"] = summary.samples
    report["dead_letters_evicted"] = summary.evicted_batches
    report["recent_dead_letters"] = [
        {"key": d.key, "count": d.count, "reason": d.reason, "at": d.created_at} for d in recent]
    return report


def _when(ts: float | None) -> str:
    return "never" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def _print(report: dict[str, Any]) -> None:
    if not report["enabled"]:
        print("sync: disabled in the config ([sync] enabled = false)")
    else:
        print(f"sync:          {report['state']}  -> {report['endpoint']}")
        if "reported_at" in report:
            print(f"reported:      {_when(report['reported_at'])} ({report['reported_s_ago']} s ago)")
        if report.get("message"):
            print(f"message:       {report['message']}")
        print(f"last success:  {_when(report.get('last_success_at'))}")
        lag = report.get("lag_s")
        print(f"lag:           {'-' if lag is None else f'{lag:.1f} s'}")
        print(f"rate:          {report.get('rate_samples_per_s', 0.0)} samples/s "
              f"({report.get('delivered_samples', 0)} delivered, {report.get('retries', 0)} retries since start)")
    backlog = report.get("buffer_backlog")
    print(f"backlog:       {'unknown' if backlog is None else f'{backlog} samples in the buffer'}")
    print(f"dead letters:  {report['dead_letter_batches']} batches, {report['dead_letter_samples']} samples"
          + (f" ({report['dead_letters_evicted']} oldest evicted)" if report["dead_letters_evicted"] else ""))
    for dead in report["recent_dead_letters"]:
        print(f"  {_when(dead['at'])}  {dead['key']}  {dead['count']} samples  {dead['reason']}")
