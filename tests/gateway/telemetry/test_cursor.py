"""Cursor rules (pure): opaque encoding, malformed input, stale epoch, future, harmless replayed acks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.telemetry.cursor import Cursor, CursorError, check_cursor, decide_ack, parse_cursor, start_seq

EPOCH = "0123456789abcdef"
OTHER = "fedcba9876543210"


def test_round_trip() -> None:
    cursor = Cursor(EPOCH, 42)
    assert parse_cursor(cursor.encode()) == cursor
    assert parse_cursor(f"{EPOCH}.0") == Cursor(EPOCH, 0)


@pytest.mark.parametrize("text", [
    "", "x", EPOCH, f"{EPOCH}.", f"{EPOCH}.-1", f"{EPOCH}.01", f"{EPOCH}.1.2", f"{EPOCH.upper()}.1",
    f"{EPOCH[:-1]}.1", f"{EPOCH}0.1", f"{EPOCH}.{2**63}", f"{EPOCH}.1e3", f" {EPOCH}.1", f"{EPOCH}.1\n",
])
def test_malformed(text: str) -> None:
    with pytest.raises(CursorError) as info:
        parse_cursor(text)
    assert info.value.kind == "malformed"


def test_stale_epoch_names_the_current_one() -> None:
    with pytest.raises(CursorError) as info:
        check_cursor(Cursor(OTHER, 1), epoch=EPOCH, last_seq=10)
    assert info.value.kind == "stale_epoch" and info.value.current_epoch == EPOCH


def test_future_cursor_refused() -> None:
    assert check_cursor(Cursor(EPOCH, 10), epoch=EPOCH, last_seq=10) == Cursor(EPOCH, 10)
    with pytest.raises(CursorError) as info:
        check_cursor(Cursor(EPOCH, 11), epoch=EPOCH, last_seq=10)
    assert info.value.kind == "future"


def test_ack_decisions() -> None:
    assert decide_ack(Cursor(EPOCH, 7), epoch=EPOCH, last_seq=10, acked_seq=3).delete_through == 7
    replay = decide_ack(Cursor(EPOCH, 3), epoch=EPOCH, last_seq=10, acked_seq=3)
    older = decide_ack(Cursor(EPOCH, 1), epoch=EPOCH, last_seq=10, acked_seq=3)
    assert replay.delete_through is None and older.delete_through is None and older.acked_seq == 3
    with pytest.raises(CursorError):
        decide_ack(Cursor(OTHER, 1), epoch=EPOCH, last_seq=10, acked_seq=3)


def test_start_defaults_to_acked() -> None:
    assert start_seq(None, acked_seq=5) == 5
    assert start_seq(Cursor(EPOCH, 2), acked_seq=5) == 2


@given(st.text(alphabet="0123456789abcdef", min_size=16, max_size=16), st.integers(0, 2**63 - 1))
def test_every_cursor_round_trips(epoch: str, seq: int) -> None:
    assert parse_cursor(Cursor(epoch, seq).encode()) == Cursor(epoch, seq)


@given(st.text(max_size=40))
def test_any_text_parses_exactly_or_is_refused(text: str) -> None:
    try:
        cursor = parse_cursor(text)
    except CursorError as exc:
        assert exc.kind == "malformed"
    else:
        assert cursor.encode() == text
