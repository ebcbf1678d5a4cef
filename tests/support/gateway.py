"""An in-process gateway on a free loopback port, and a small HTTP client for it (real sockets)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from gateway.config.loader import validate_config_data
from gateway.config.models import GatewayConfig
from gateway.factory import Gateway

GATEWAY_ID = "gw-test-01"


def make_config(state_dir: Path, **sections: Mapping[str, Any]) -> GatewayConfig:
    """A valid config for tests: loopback, port 0, state in `state_dir`; `sections` override/extend."""
    data: dict[str, Any] = {
        "gateway": {"id": GATEWAY_ID, "state_dir": str(state_dir)},
        "http": {"listen": [{"host": "127.0.0.1", "port": 0}]},
        "lifecycle": {"restart_initial_s": 0.05, "restart_max_s": 0.5},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return validate_config_data(data, source="test", base_dir=None)


async def issue(gateway: Gateway, role: str, *, sub: str | None = None, ttl_s: int = 3600) -> str:
    """A real token from the gateway's own token service, recorded like the API records it."""
    context = gateway.context
    token, claims = context.tokens.issue(sub or f"test-{role}", role, ttl_s)
    await context.registry.record_issued(claims.jti, claims.sub, claims.role, claims.kid, claims.iat, claims.exp)
    return token


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class ApiClient:
    """Sends requests to a running gateway; `local_addr` picks the client's source address."""

    def __init__(self, base_url: str, *, local_addr: str | None = None, ssl: Any = None) -> None:
        self.base_url = base_url
        connector = aiohttp.TCPConnector(local_addr=(local_addr, 0) if local_addr else None, ssl=ssl)
        self.session = aiohttp.ClientSession(connector=connector)

    async def request(
        self, method: str, path: str, *, token: str | None = None, json: Any = None, data: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, self.base_url + path, json=json, data=data, headers=all_headers) as resp:
            return Reply(resp.status, resp.headers, await resp.read())

    async def close(self) -> None:
        await self.session.close()
