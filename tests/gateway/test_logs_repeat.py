"""A line repeated in a flood is written once per interval, with how many were held back."""

from __future__ import annotations

import logging

from gateway.logs import REPEAT_KEYS_MAX, RepeatFilter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(message: str, *args: object, name: str = "gateway.printers.driver") -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, None)


def test_a_flood_of_one_line_is_written_once_per_interval_with_a_count() -> None:
    clock = Clock()
    repeat = RepeatFilter(10.0, clock)
    written = []
    for index in range(20_000):
        clock.now = index * 0.001  # 20,000 in 20 s
        rec = record("printer %s: message queue full", "P1")
        if repeat.filter(rec):
            written.append(rec.getMessage())
    assert written[0] == "printer P1: message queue full"
    assert len(written) == 2, written
    assert written[1] == "printer P1: message queue full (9999 more like this in the last 10 s)"


def test_distinct_lines_do_not_hold_each_other_back() -> None:
    clock = Clock()
    repeat = RepeatFilter(10.0, clock)
    assert repeat.filter(record("a")) and repeat.filter(record("b")) and repeat.filter(record("a", name="other"))
    assert not repeat.filter(record("a"))
    clock.now = 10.0
    assert repeat.filter(record("a"))


def test_memory_is_bounded_by_the_number_of_distinct_lines_kept() -> None:
    repeat = RepeatFilter(10.0, Clock())
    for index in range(REPEAT_KEYS_MAX * 3):
        assert repeat.filter(record(f"line {index}"))
    assert len(repeat._seen) <= REPEAT_KEYS_MAX  # noqa: SLF001
