"""Shared fixtures: a real gateway on a free loopback port, and clients that talk to it over sockets."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the source tree first, and `tests.support` helpers

from tests.support.gateway import ApiClient, make_config  # noqa: E402

from gateway.config.models import GatewayConfig  # noqa: E402
from gateway.factory import Gateway, create_gateway  # noqa: E402


@pytest.fixture
def gateway_config(tmp_path: Path) -> GatewayConfig:
    return make_config(tmp_path / "state")


@pytest.fixture
async def gateway(gateway_config: GatewayConfig) -> AsyncIterator[Gateway]:
    gw = await create_gateway(gateway_config)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[ApiClient]:
    api = ApiClient(gateway.urls[0])
    try:
        yield api
    finally:
        await api.close()
