"""TLS trust for printer connections: a CA bundle with the CN checked against the serial, or a SHA-256 pin.

The identity check runs inside the TLS handshake (a checking `SSLSocket` subclass set on the context),
so the MQTT CONNECT with the access code is only sent after the printer proved who it is. A printer
whose certificate does not match is refused with `TrustError`, which says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)


class TrustError(ssl.SSLError):
    """The printer's certificate is not the one expected (wrong CN, wrong pin, no anchor)."""


class NoTrustAnchor(ValueError):
    """Neither a CA bundle nor a pin is configured, and insecure_skip_verify is not set."""


@dataclass(frozen=True)
class PeerCertificate:
    sha256: str  # hex, lower case
    common_name: str | None


def describe(der: bytes) -> PeerCertificate:
    common_name = None
    try:
        names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else None
    except ValueError:
        pass
    return PeerCertificate(hashlib.sha256(der).hexdigest(), common_name)


def format_fingerprint(sha256_hex: str) -> str:
    return ":".join(sha256_hex[i:i + 2] for i in range(0, len(sha256_hex), 2)).upper()


@dataclass(frozen=True)
class Expectation:
    """What the printer's certificate must satisfy (None: not checked)."""

    common_name: str | None
    pin_sha256: str | None

    def problem(self, der: bytes | None) -> str | None:
        """Why the certificate `der` is refused, or None when it is the expected one."""
        if der is None:
            return "printer presented no certificate"
        peer = describe(der)
        if self.pin_sha256 is not None and not hmac.compare_digest(peer.sha256, self.pin_sha256):
            return f"certificate does not match the stored pin (got SHA-256 {format_fingerprint(peer.sha256)})"
        if self.common_name is not None and peer.common_name != self.common_name:
            return f"certificate CN is {peer.common_name!r}, expected the serial {self.common_name!r}"
        return None


def _checking_socket_class(expect: Expectation, on_refused: Callable[[str], None]) -> type[ssl.SSLSocket]:
    class CheckingSSLSocket(ssl.SSLSocket):
        def do_handshake(self, block: bool = False) -> None:
            try:
                super().do_handshake(block)
            except ssl.SSLCertVerificationError as exc:
                on_refused(f"certificate not trusted by the configured CA ({exc.verify_message})")
                self._close_now()
                raise
            reason = expect.problem(self.getpeercert(binary_form=True))
            if reason is not None:
                on_refused(reason)
                self._close_now()
                raise TrustError(reason)

        def _close_now(self) -> None:
            """Close the TCP connection of a refused handshake at once (the client may keep the object)."""
            with contextlib.suppress(OSError):
                self.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                self.close()

    return CheckingSSLSocket


def client_context(
    serial: str, *, ca_file: Path | None, pin_sha256: str | None, insecure: bool,
    on_refused: Callable[[str], None] = lambda reason: None, pinned_common_name: str | None = None,
) -> ssl.SSLContext:
    """The TLS context for one printer. Raises NoTrustAnchor when nothing could verify the printer.

    `on_refused` is told why a handshake was refused (the MQTT client reports only a generic error).
    A pin is checked together with the CN: the serial, or the CN stored with a pin forced onto a
    certificate whose CN is not the serial (`printers pin --force`). A refused handshake closes the
    socket at once (a printer accepts very few clients).
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # printers are reached by IP; identity is the CN = serial, checked below
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
        context.verify_mode = ssl.CERT_REQUIRED
        expect = Expectation(common_name=serial, pin_sha256=pin_sha256)
    elif pin_sha256 is not None:
        context.verify_mode = ssl.CERT_NONE  # self-signed printer certificates: the pin is the trust
        expect = Expectation(common_name=pinned_common_name or serial, pin_sha256=pin_sha256)
    elif insecure:
        context.verify_mode = ssl.CERT_NONE
        log.warning("printer %s: insecure_skip_verify is set: its certificate is NOT verified "
                    "(anyone on the network can impersonate it and read its access code)", serial)
        return context
    else:
        raise NoTrustAnchor(f"printer {serial}: no ca_file and no pin; run `edge-gateway printers pin {serial}`")
    context.sslsocket_class = _checking_socket_class(expect, on_refused)
    return context


async def fetch_certificate(host: str, port: int, timeout_s: float) -> PeerCertificate:
    """Connect once without verifying and return the certificate the printer presents (for pinning)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    _, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=context), timeout_s)
    try:
        ssl_object = writer.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass
    if der is None:
        raise TrustError("printer presented no certificate")
    return describe(der)
