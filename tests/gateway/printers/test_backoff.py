"""Reconnect back-off: doubling from the first delay to the cap, with +-30 % jitter."""

from __future__ import annotations

from gateway.printers.const import RECONNECT_JITTER_FRACTION
from gateway.printers.driver import reconnect_delay_s


def test_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    exact = [reconnect_delay_s(n, initial_s=1, max_s=60, rng=lambda: 0.5) for n in range(1, 10)]
    assert exact == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    low = reconnect_delay_s(3, initial_s=1, max_s=60, rng=lambda: 0.0)
    high = reconnect_delay_s(3, initial_s=1, max_s=60, rng=lambda: 1.0)
    assert low == 4 * (1 - RECONNECT_JITTER_FRACTION) and high == 4 * (1 + RECONNECT_JITTER_FRACTION)


def test_errors_are_put_in_words_without_errno() -> None:
    from gateway.printers.driver import plain_error

    assert plain_error(ConnectionRefusedError(111, "Connection refused")) == "connection refused"
    assert plain_error(OSError("[Errno 113] No route to host")) == "no route to host"
    assert plain_error(TimeoutError()) == "TimeoutError"
