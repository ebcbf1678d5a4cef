"""HTTPS with a certificate made by a test CA; plain HTTP refused off loopback by config validation."""

from __future__ import annotations

import ssl
from pathlib import Path

import aiohttp
import pytest

from gateway.factory import create_gateway
from tests.support.certs import TestCA
from tests.support.gateway import ApiClient, issue, make_config


async def test_api_over_tls_with_device_certificate(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    device = ca.issue("gw-test-01", hosts=("127.0.0.1",))
    config = make_config(tmp_path / "state", http={
        "listen": [{"host": "127.0.0.1", "port": 0}],
        "tls": {"cert_file": str(device.cert_file), "key_file": str(device.key_file)},
    })
    gateway = await create_gateway(config)
    await gateway.start()
    try:
        assert gateway.urls[0].startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(ca.cert_file))
        api = ApiClient(gateway.urls[0], ssl=trusted)
        try:
            reply = await api.request("GET", "/api/v1/status", token=await issue(gateway, "viewer"))
            assert reply.status == 200
            assert reply.headers["Strict-Transport-Security"].startswith("max-age=")
        finally:
            await api.close()
        # a client that does not trust the CA refuses the connection
        untrusted = ApiClient(gateway.urls[0], ssl=ssl.create_default_context())
        try:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await untrusted.request("GET", "/healthz")
        finally:
            await untrusted.close()
        # TLS 1.1 and older are refused
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(cafile=str(ca.cert_file))
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        legacy = ApiClient(gateway.urls[0], ssl=old)
        try:
            with pytest.raises(aiohttp.ClientError):
                await legacy.request("GET", "/healthz")
        finally:
            await legacy.close()
    finally:
        await gateway.stop()


async def test_ipv6_loopback_binding(tmp_path: Path) -> None:
    config = make_config(tmp_path / "state", http={"listen": [{"host": "::1", "port": 0}]})
    gateway = await create_gateway(config)
    await gateway.start()
    try:
        assert gateway.urls[0].startswith("http://[::1]:")
        api = ApiClient(gateway.urls[0])
        try:
            assert (await api.request("GET", "/healthz")).status == 200
        finally:
            await api.close()
    finally:
        await gateway.stop()
