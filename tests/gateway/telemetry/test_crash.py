"""SIGKILL while ingesting, several times at random moments: the file opens, every batch committed
before the kill is there exactly once, and sequence numbers continue without reuse."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from gateway.telemetry.integrity import check_file

CHILD = Path(__file__).with_name("ingest_child.py")
KILLS = 5
START_TIMEOUT_S = 20.0


def committed_ranges(report: Path) -> tuple[int, list[tuple[int, int]]]:
    """(committed seq when the child opened the file, committed (first, last) ranges)."""
    opened, ranges = -1, []
    for line in report.read_text().splitlines():
        head, tail = line.split()
        if head == "open":
            opened = int(tail)
        else:
            ranges.append((int(head), int(tail)))
    return opened, ranges


def wait_for_commits(report: Path, process: subprocess.Popen[bytes], count: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"child exited early: {process.stderr.read().decode() if process.stderr else ''}")
        if report.exists() and len(committed_ranges(report)[1]) >= count:
            return
        time.sleep(0.01)
    raise AssertionError("child committed nothing in time")


def test_sigkill_at_random_moments_loses_no_committed_batch(tmp_path: Path) -> None:
    db = tmp_path / "telemetry.db"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    highest_committed = 0
    for run in range(KILLS):
        report = tmp_path / f"report-{run}.txt"
        child = subprocess.Popen([sys.executable, str(CHILD), str(db), str(report), str(run)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_commits(report, child, 1)
            time.sleep(rng.uniform(0.05, 0.6))  # a random moment: mid-batch, mid-commit, between flushes
            child.send_signal(signal.SIGKILL)
        finally:
            child.kill()
            child.wait(10)
        opened_at, ranges = committed_ranges(report)
        assert opened_at == highest_committed  # the reopened file resumed at the last committed sequence

        assert check_file(db) is None  # the file opens and passes quick_check after the kill
        with sqlite3.connect(db) as conn:
            series = dict(conn.execute("SELECT source, id FROM series").fetchall())
            rows = conn.execute("SELECT seq, value FROM samples WHERE series = ? ORDER BY seq",
                                (series[f"run{run}"],)).fetchall()
            max_seq = conn.execute("SELECT MAX(seq) FROM samples").fetchone()[0]
        seqs = [seq for seq, _ in rows]
        # every reported batch is there, exactly once
        reported = [seq for first, last in ranges for seq in range(first, last + 1)]
        assert set(reported) <= set(seqs)
        assert len(seqs) == len(set(seqs))
        # sequences continue after the previous run's last commit, never reused
        assert seqs[0] == highest_committed + 1
        # value i of this run sits at seq first+i: no sample missing, duplicated or reordered
        assert [int(value) for _, value in rows] == list(range(len(rows)))
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert max_seq == seqs[-1]
        highest_committed = max_seq
    assert highest_committed > KILLS * 1_000
