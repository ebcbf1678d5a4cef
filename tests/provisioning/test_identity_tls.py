"""The generated identity: keys and certificates load and chain, the API serves with the device
certificate, the CSRs carry the gateway id, the first admin token verifies, the secrets key works."""

from __future__ import annotations

import datetime as dt
import ssl
import time
import tomllib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.auth.keyring import Keyring
from gateway.auth.tokens import TokenService
from gateway.config.loader import load_config, validate_config_data
from gateway.factory import create_gateway
from gateway.secrets.fernet import decrypt, encrypt
from provisioning.answers import SiteAnswers
from provisioning.run import ProvisionResult, provision
from tests.support.certs import TestCA
from tests.support.gateway import ApiClient
from tests.support.provisioned import GATEWAY_ID, seed_root

TLS = Path("etc/edge-gateway/tls")


@pytest.fixture(scope="module")
def provisioned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ProvisionResult]:
    root = seed_root(tmp_path_factory.mktemp("device") / "root")
    answers = SiteAnswers(gateway_id=GATEWAY_ID, listen=["127.0.0.1:18443"], tls_hosts=["gw.factory.example"])
    return root, provision(root, answers)


def _cert(root: Path, name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((root / TLS / name).read_bytes())


def _csr(root: Path, name: str) -> x509.CertificateSigningRequest:
    return x509.load_pem_x509_csr((root / TLS / name).read_bytes())


def _key(root: Path, name: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key((root / TLS / name).read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _public_der(key: object) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]


def test_server_certificate_is_self_signed_for_the_gateway(provisioned: tuple[Path, ProvisionResult]) -> None:
    root, _ = provisioned
    cert = _cert(root, "server.crt")
    cert.verify_directly_issued_by(cert)  # self-signed: its own signature checks out
    assert _public_der(cert.public_key()) == _public_der(_key(root, "server.key"))
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GATEWAY_ID
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert GATEWAY_ID in names.get_values_for_type(x509.DNSName)
    assert "gw.factory.example" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    now = dt.datetime.now(dt.timezone.utc)
    assert cert.not_valid_before_utc < now < cert.not_valid_after_utc


async def test_api_serves_over_tls_with_the_device_certificate(provisioned: tuple[Path, ProvisionResult]) -> None:
    root, result = provisioned
    config_file = root / "etc/edge-gateway/config.toml"
    data = tomllib.loads(config_file.read_text())
    data["http"]["listen"] = [{"host": "127.0.0.1", "port": 0}]  # a free port; everything else as provisioned
    config = validate_config_data(data, source="test", base_dir=config_file.parent)
    gateway = await create_gateway(config)
    await gateway.start()
    try:
        assert gateway.urls[0].startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(root / TLS / "server.crt"))  # the device cert, pinned
        api = ApiClient(gateway.urls[0], ssl=trusted)
        try:
            reply = await api.request("GET", "/api/v1/status", token=result.admin_token)
            assert reply.status == 200
            assert reply.json()["gateway_id"] == GATEWAY_ID
        finally:
            await api.close()
        strangers = ApiClient(gateway.urls[0], ssl=ssl.create_default_context())  # system CAs only
        try:
            with pytest.raises(Exception, match="certificate verify failed"):
                await strangers.request("GET", "/healthz")
        finally:
            await strangers.close()
    finally:
        await gateway.stop()


def test_server_csr_chains_once_a_site_ca_signs_it(provisioned: tuple[Path, ProvisionResult], tmp_path: Path) -> None:
    root, _ = provisioned
    csr = _csr(root, "server.csr")
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GATEWAY_ID
    assert _public_der(csr.public_key()) == _public_der(_key(root, "server.key"))
    ca = TestCA(tmp_path / "site-ca")
    names = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    now = dt.datetime.now(dt.timezone.utc)
    issued = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.cert.subject)
              .public_key(csr.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=30))
              .add_extension(names, critical=False).sign(ca.key, hashes.SHA256()))
    issued.verify_directly_issued_by(ca.cert)
    cert_file = tmp_path / "server.crt"
    cert_file.write_bytes(issued.public_bytes(serialization.Encoding.PEM))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(str(cert_file), str(root / TLS / "server.key"))  # the CA's cert fits the device key


def test_client_csr_carries_the_gateway_id(provisioned: tuple[Path, ProvisionResult]) -> None:
    root, _ = provisioned
    csr = _csr(root, "client.csr")
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == GATEWAY_ID
    assert csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [GATEWAY_ID]
    assert list(csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    client_key = _key(root, "client.key")
    assert _public_der(csr.public_key()) == _public_der(client_key)
    assert _public_der(client_key) != _public_der(_key(root, "server.key"))


def test_first_admin_token_verifies_with_the_device_keyring(provisioned: tuple[Path, ProvisionResult]) -> None:
    root, result = provisioned
    assert result.admin_token is not None
    config = load_config(root / "etc/edge-gateway/config.toml", {})
    with Keyring.open(config.signing_keys_dir, time.time, create=False) as keyring:
        claims = TokenService(keyring, GATEWAY_ID, time.time).verify(result.admin_token)
    assert (claims.role, claims.sub) == ("admin", "provisioning-admin")
    record = root / "var/lib/edge-gateway/first-admin-token.jti"
    assert record.read_text().strip() == claims.jti  # only its id is kept


def test_secrets_key_is_a_fernet_key(provisioned: tuple[Path, ProvisionResult]) -> None:
    root, _ = provisioned
    key = (root / "var/lib/edge-gateway/secrets.key").read_bytes().strip()
    Fernet(key)
    assert decrypt(key, encrypt(key, "printer access code")) == "printer access code"
