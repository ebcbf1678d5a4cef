"""What to do after each attempt to push a batch (pure: injected clock and random source).

* 2xx: acknowledged; the cursor may advance.
* 429, 502, 503, 504, 408 and network errors (refused, reset, timeout, lost response): retry the same
  batch after an exponential back-off with full jitter, or after ``Retry-After`` (seconds or an
  HTTP-date) when the receiver gives one. Retried for as long as it takes: the data waits in the buffer.
* Other 4xx and 500 (a poison batch the receiver will not take): retried ``max_attempts`` times in all,
  then the batch is dead-lettered and sync moves on.
* 401/403, 3xx and TLS certificate problems (ours refused, theirs unverifiable, hostname mismatch):
  nothing a retry can fix; sync stops with a plain message until the certificate files change.
"""

from __future__ import annotations

import email.utils
import math
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from gateway.sync import const

RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504})
CREDENTIAL_STATUSES = frozenset({401, 403})
CERT_ALERT_REASONS = frozenset({
    "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED", "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "SSLV3_ALERT_CERTIFICATE_REVOKED",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE", "TLSV1_ALERT_ACCESS_DENIED", "TLSV1_ALERT_DECRYPT_ERROR",
})
LOCAL_CERT_REASONS = frozenset({"PEM_LIB", "KEY_VALUES_MISMATCH", "NO_START_LINE", "CA_MD_TOO_WEAK", "EE_KEY_TOO_SMALL"})


class Outcome(StrEnum):
    ACK = "ack"  # delivered: advance the cursor
    RETRY = "retry"  # transient: same batch again after delay_s
    REJECT = "reject"  # refused by the receiver: counts toward max_attempts, then dead-letter
    STOP = "stop"  # configuration/certificate problem: stop until it is fixed


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str
    delay_s: float = 0.0


def backoff_delay_s(attempt: int, *, initial_s: float, max_s: float, rng: Callable[[], float]) -> float:
    """Full jitter: uniform in [0, min(max_s, initial_s * 2**(attempt-1))] for the attempt-th failure (1-based)."""
    ceiling = min(max_s, initial_s * 2 ** min(max(0, attempt - 1), 62))
    return rng() * ceiling


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), clamped; None if absent/invalid."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - now
    if not math.isfinite(seconds):
        return None
    return min(max(0.0, seconds), const.RETRY_AFTER_MAX_S)


def certificate_problem(exc: BaseException) -> str | None:
    """A plain description if ``exc`` (or anything it wraps) is a TLS certificate problem, else None."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # aiohttp's ClientConnectorCertificateError subclasses ssl.CertificateError without its attributes:
        # look inside it (certificate_error) for the real one
        if isinstance(current, ssl.SSLCertVerificationError) and getattr(current, "verify_message", None):
            return f"server certificate rejected: {current.verify_message}"
        if isinstance(current, ssl.SSLError):
            reason = getattr(current, "reason", None) or ""
            if reason == "CERTIFICATE_VERIFY_FAILED":
                return f"server certificate rejected: {current}"
            if reason in CERT_ALERT_REASONS:
                return f"the endpoint refused our client certificate ({reason.lower()})"
            if reason in LOCAL_CERT_REASONS:
                return f"client certificate or key unusable ({reason.lower()})"
        stack.extend([current.__cause__, current.__context__, getattr(current, "os_error", None),
                      getattr(current, "certificate_error", None)])
    return None


class RetryPolicy:
    """Turns a response status or an exception into a Decision for attempt number ``attempt`` (1-based)."""

    def __init__(self, *, initial_s: float, max_s: float, max_attempts: int,
                 clock: Callable[[], float], rng: Callable[[], float]) -> None:
        self._initial_s = initial_s
        self._max_s = max_s
        self.max_attempts = max_attempts
        self._clock = clock
        self._rng = rng

    def _backoff(self, attempt: int) -> float:
        return backoff_delay_s(attempt, initial_s=self._initial_s, max_s=self._max_s, rng=self._rng)

    def after_response(self, status: int, headers: Mapping[str, str], attempt: int) -> Decision:
        if 200 <= status < 300:
            return Decision(Outcome.ACK, f"HTTP {status}")
        if status in RETRYABLE_STATUSES:
            retry_after = parse_retry_after(headers.get("Retry-After"), self._clock())
            if retry_after is not None:
                return Decision(Outcome.RETRY, f"HTTP {status}, Retry-After {retry_after:.0f} s", retry_after)
            return Decision(Outcome.RETRY, f"HTTP {status}", self._backoff(attempt))
        if status in CREDENTIAL_STATUSES:
            return Decision(Outcome.STOP, f"the endpoint refused this gateway (HTTP {status}); check its client certificate")
        if 300 <= status < 400:
            return Decision(Outcome.STOP, f"the endpoint redirects (HTTP {status}); configure the final URL")
        return Decision(Outcome.REJECT, f"HTTP {status}", self._backoff(attempt))

    def after_error(self, exc: BaseException, attempt: int) -> Decision:
        problem = certificate_problem(exc)
        if problem is not None:
            return Decision(Outcome.STOP, problem)
        text = str(exc) or type(exc).__name__
        return Decision(Outcome.RETRY, f"network error: {text}"[: const.MESSAGE_MAX_CHARS], self._backoff(attempt))
