"""TLS contexts of the push sync: the gateway's client side, and the reference receiver's server side."""

from __future__ import annotations

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
