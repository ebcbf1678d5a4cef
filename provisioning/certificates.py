"""TLS material of the device: the local API's key, certificate and CSR, and the upstream client key and CSR.

The local API gets a self-signed certificate at once (clients pin it, or trust it as its own anchor),
and a CSR with the same key, names and gateway id for a site CA: install the certificate the CA returns
as `server.crt` and provisioning keeps it. The client key and CSR are for mutual TLS with the upstream
receiver; the CSR's subject common name (and a DNS name) is the gateway id. Keys are ECDSA P-256.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provisioning import const
from provisioning.files import Changes, ensure_mode_owner, write_file
from provisioning.layout import Layout
from provisioning.users import Accounts

ORGANIZATION = "edge-gateway"


def ensure_server_tls(layout: Layout, gateway_id: str, hosts: list[str], accounts: Accounts, changes: Changes,
                      *, rotate: bool) -> None:
    """server.key (0600), a self-signed server.crt and server.csr naming `hosts` and the gateway id."""
    key, new_key = _key(layout.server_key, accounts, changes, rotate=rotate, what="local API TLS key")
    names = _subject_alt_names(gateway_id, hosts)
    cert = _self_signed(key, gateway_id, names)
    write_file(layout.server_cert, cert.public_bytes(serialization.Encoding.PEM), const.PUBLIC_FILE_MODE,
               accounts.config_owner, changes, replace=new_key, what="self-signed local API certificate")
    csr = _csr(key, gateway_id, names, ExtendedKeyUsageOID.SERVER_AUTH)
    write_file(layout.server_csr, csr.public_bytes(serialization.Encoding.PEM), const.PUBLIC_FILE_MODE,
               accounts.config_owner, changes, replace=new_key, what="local API CSR for a site CA")


def ensure_client_identity(layout: Layout, gateway_id: str, accounts: Accounts, changes: Changes,
                           *, rotate: bool) -> None:
    """client.key (0600) and client.csr for upstream mutual TLS, carrying the gateway id."""
    key, new_key = _key(layout.client_key, accounts, changes, rotate=rotate, what="upstream client key")
    csr = _csr(key, gateway_id, [x509.DNSName(gateway_id)], ExtendedKeyUsageOID.CLIENT_AUTH)
    write_file(layout.client_csr, csr.public_bytes(serialization.Encoding.PEM), const.PUBLIC_FILE_MODE,
               accounts.config_owner, changes, replace=new_key, what="upstream client CSR")


def _key(path: Path, accounts: Accounts, changes: Changes, *, rotate: bool,
         what: str) -> tuple[ec.EllipticCurvePrivateKey, bool]:
    """The key in `path`, or a new one (written 0600) if missing or rotated; says whether it is new."""
    if path.exists() and not rotate:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{path}: not an EC private key")
        ensure_mode_owner(path, const.SECRET_FILE_MODE, accounts.service, changes)
        return key, False
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    write_file(path, pem, const.SECRET_FILE_MODE, accounts.service, changes, what=what)
    return key, True


def _subject_alt_names(gateway_id: str, hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(gateway_id), x509.DNSName(f"{gateway_id}.local")]
    for host in hosts:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            name: x509.GeneralName = x509.DNSName(host)
        else:
            if address.is_unspecified:
                continue
            name = x509.IPAddress(address)
        if name not in names:
            names.append(name)
    return names


def _subject(gateway_id: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                      x509.NameAttribute(NameOID.COMMON_NAME, gateway_id)])


def _self_signed(key: ec.EllipticCurvePrivateKey, gateway_id: str,
                 names: list[x509.GeneralName]) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(_subject(gateway_id))
        .issuer_name(_subject(gateway_id))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(seconds=const.CERT_BACKDATE_S))
        .not_valid_after(now + dt.timedelta(days=const.SERVER_CERT_VALID_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def _csr(key: ec.EllipticCurvePrivateKey, gateway_id: str, names: list[x509.GeneralName],
         usage: x509.ObjectIdentifier) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(_subject(gateway_id))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .sign(key, hashes.SHA256())
    )
