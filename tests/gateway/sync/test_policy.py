"""The retry policy, pure: classification, full-jitter back-off, Retry-After in both forms, certificate errors."""

from __future__ import annotations

import email.utils
import ssl

import aiohttp
import pytest

from gateway.sync import const
from gateway.sync.policy import Outcome, RetryPolicy, backoff_delay_s, certificate_problem, parse_retry_after

NOW = 1_763_900_000.0


def policy(rng: float = 0.5, max_attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(initial_s=1.0, max_s=300.0, max_attempts=max_attempts, clock=lambda: NOW, rng=lambda: rng)


@pytest.mark.parametrize(("status", "outcome"), [
    (200, Outcome.ACK), (201, Outcome.ACK), (204, Outcome.ACK),
    (429, Outcome.RETRY), (502, Outcome.RETRY), (503, Outcome.RETRY), (504, Outcome.RETRY), (408, Outcome.RETRY),
    (400, Outcome.REJECT), (404, Outcome.REJECT), (409, Outcome.REJECT), (413, Outcome.REJECT), (422, Outcome.REJECT),
    (500, Outcome.REJECT),
    (401, Outcome.STOP), (403, Outcome.STOP), (301, Outcome.STOP), (308, Outcome.STOP),
])
def test_status_classification(status: int, outcome: Outcome) -> None:
    assert policy().after_response(status, {}, 1).outcome is outcome


def test_full_jitter_doubles_to_the_cap() -> None:
    assert [backoff_delay_s(n, initial_s=1, max_s=300, rng=lambda: 1.0) for n in (1, 2, 3, 9, 10, 200)] == \
        [1, 2, 4, 256, 300, 300]
    assert backoff_delay_s(5, initial_s=1, max_s=300, rng=lambda: 0.0) == 0.0  # full jitter: anywhere from 0
    assert backoff_delay_s(5, initial_s=1, max_s=300, rng=lambda: 0.25) == 4.0
    assert policy(rng=0.5).after_response(503, {}, 3).delay_s == 2.0


def test_retry_after_seconds_and_http_date_are_honoured() -> None:
    assert policy().after_response(429, {"Retry-After": "120"}, 1).delay_s == 120.0
    date = email.utils.formatdate(NOW + 90, usegmt=True)
    decision = policy().after_response(503, {"Retry-After": date}, 1)
    assert decision.outcome is Outcome.RETRY and decision.delay_s == 90.0 and "Retry-After" in decision.reason


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("0", 0.0), ("  7 ", 7.0), ("soon", None), ("-5", None), ("1.5", None),
    (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: now
    ("99999999", const.RETRY_AFTER_MAX_S),  # clamped
    ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP-date
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_retry_after_garbage_falls_back_to_backoff() -> None:
    assert policy(rng=0.5).after_response(503, {"Retry-After": "later"}, 2).delay_s == 1.0


def test_network_errors_retry() -> None:
    for exc in (aiohttp.ServerDisconnectedError(), ConnectionResetError(104, "reset"), TimeoutError()):
        decision = policy().after_error(exc, 1)
        assert decision.outcome is Outcome.RETRY and decision.reason.startswith("network error")


def _ssl_error(reason: str) -> ssl.SSLError:
    error = ssl.SSLError(1, f"[SSL: {reason}] alert")
    error.reason = reason
    return error


def test_certificate_problems_stop_with_plain_words() -> None:
    verify = ssl.SSLCertVerificationError(1, "certificate verify failed")
    verify.verify_message = "certificate has expired"
    wrapped = aiohttp.ClientConnectorCertificateError(None, verify)  # type: ignore[arg-type]
    assert policy().after_error(wrapped, 1).reason == "server certificate rejected: certificate has expired"
    alert = aiohttp.ClientOSError()
    alert.__cause__ = _ssl_error("TLSV1_ALERT_UNKNOWN_CA")
    decision = policy().after_error(alert, 1)
    assert decision.outcome is Outcome.STOP and "refused our client certificate" in decision.reason
    assert "unusable" in (certificate_problem(_ssl_error("KEY_VALUES_MISMATCH")) or "")
    assert certificate_problem(_ssl_error("WRONG_VERSION_NUMBER")) is None
    assert certificate_problem(ConnectionResetError()) is None
