"""TLS contexts of the push sync: the gateway's client side, and the reference receiver's server side."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path


def client_context(*, ca_file: Path, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """TLS 1.2+ only, the endpoint verified against ``ca_file`` alone, hostname checked, our cert presented."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED and check_hostname by default
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.load_verify_locations(cafile=str(ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def server_context(*, ca_file: Path, cert_file: Path, key_file: Path) -> ssl.SSLContext:
    """A server that requires a client certificate chained to ``ca_file`` (TLS 1.2+)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context


def files_signature(*paths: Path | None) -> tuple[tuple[str, int, int], ...]:
    """(path, mtime_ns, size) of each file, to notice when provisioning replaces certificates."""
    signature = []
    for path in paths:
        if path is None:
            continue
        try:
            stat = path.stat()
            signature.append((str(path), stat.st_mtime_ns, stat.st_size))
        except OSError:
            signature.append((str(path), -1, -1))
    return tuple(signature)


def probe_refusal(host: str, port: int, context: ssl.SSLContext, timeout_s: float) -> BaseException | str | None:
    """After a connection was reset: open a fresh TLS connection, send nothing, and listen briefly.

    With TLS 1.3 a server verifies the client certificate only after the client considers the handshake
    done, so a refused certificate shows up as a reset of the request, not as a handshake error. A
    server that refuses us then sends an alert (raised here as ``ssl.SSLError``, returned) or just
    closes (returned as a plain description); a server that accepts us waits for a request (None).
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as raw:
            with context.wrap_socket(raw, server_hostname=host) as tls:
                if tls.recv(1) == b"":
                    return ("the endpoint refused our client certificate (it closes every connection right after the "
                            "TLS handshake)")
    except (TimeoutError, socket.timeout):
        return None
    except ssl.SSLError as exc:
        return exc
    except OSError:
        return None
    return None
