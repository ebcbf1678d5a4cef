"""Authentication and the role matrix over real HTTP (spec: local-api.md, Authentication and Roles)."""

from __future__ import annotations

import time

import pytest

from gateway.factory import Gateway, create_gateway
from gateway.http.keys import ROUTES
from tests.support import tokens as forge
from tests.support.gateway import ApiClient, issue

ROLES = ("viewer", "technician", "admin", "sync")
ALL_BUT_SYNC = {"viewer", "technician", "admin"}

# The spec's route table, written out here independently of the code's table so that drift in either
# is caught. Every route the gateway serves must be listed (a new route makes this test fail until
# its expected roles are written down).
EXPECTED_ROLES: dict[tuple[str, str], set[str] | None] = {
    ("GET", "/healthz"): None,  # public
    ("GET", "/api/v1/status"): ALL_BUT_SYNC,
    ("GET", "/api/v1/openapi.json"): ALL_BUT_SYNC,
    ("GET", "/metrics"): ALL_BUT_SYNC,
    ("GET", "/api/v1/tokens"): {"admin"},
    ("POST", "/api/v1/tokens"): {"admin"},
    ("DELETE", "/api/v1/tokens/{jti}"): {"admin"},
    ("GET", "/api/v1/audit"): {"admin"},
    ("GET", "/"): None,  # the technician page: holds no data
    ("GET", "/static/{name}"): None,
    ("GET", "/api/v1/live"): None,  # WebSocket: authenticates in its first message (tests/gateway/web)
}
WEBSOCKET_PATHS = {"/api/v1/live"}  # a plain GET is not an upgrade: 400, never 401/403
SAMPLE_PATHS = {"/api/v1/tokens/{jti}": "/api/v1/tokens/AAAAAAAAAAAAAAAA", "/static/{name}": "/static/app.js"}
SAMPLE_BODIES = {("POST", "/api/v1/tokens"): {"sub": "matrix", "role": "viewer", "ttl_s": 600}}


def served_routes(gateway: Gateway) -> list[tuple[str, str]]:
    assert gateway.http is not None
    return [(r.method, r.path) for r in gateway.http.runner.app[ROUTES].values()]


async def test_every_served_route_is_in_the_expected_table(gateway: Gateway) -> None:
    assert sorted(served_routes(gateway)) == sorted(EXPECTED_ROLES)


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(gateway: Gateway, client: ApiClient, role: str) -> None:
    token = await issue(gateway, role)
    for (method, path), allowed in EXPECTED_ROLES.items():
        url = SAMPLE_PATHS.get(path, path)
        reply = await client.request(method, url, token=token, json=SAMPLE_BODIES.get((method, path)))
        if path in WEBSOCKET_PATHS:
            assert reply.status == 400, (role, method, path, reply.status, reply.body)
        elif allowed is None or role in allowed:
            assert reply.status not in (401, 403), (role, method, path, reply.status, reply.body)
            assert reply.status < 400, (role, method, path, reply.status, reply.body)
        else:
            assert reply.status == 403, (role, method, path, reply.status)
            assert reply.json()["error"]["code"] == "forbidden"


async def test_healthz_needs_no_token_and_discloses_nothing(client: ApiClient) -> None:
    reply = await client.request("GET", "/healthz")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


def bad_tokens(gateway: Gateway) -> dict[str, str | None]:
    now = int(time.time())
    return {
        "no token": None,
        "garbage": "not-a-jwt",
        "two segments": "abc.def",
        "wrong signature": forge.signed(gateway, key=forge.other_key()),
        "alg none": forge.unsigned_alg_none(gateway),
        "HS256 with public key (PEM)": forge.hs256_with_public_key(gateway, pem=True),
        "HS256 with public key (raw)": forge.hs256_with_public_key(gateway, pem=False),
        "expired": forge.signed(gateway, iat=now - 7200, nbf=now - 7200, exp=now - 3600),
        "not yet valid": forge.signed(gateway, nbf=now + 3600, exp=now + 7200),
        "wrong aud": forge.signed(gateway, aud="another-gateway"),
        "wrong iss": forge.signed(gateway, iss="another-gateway"),
        "unknown kid": forge.signed(gateway, headers={"kid": "no-such-kid"}),
        "missing jti": forge.signed(gateway, jti=None),
        "missing exp": forge.signed(gateway, exp=None),
        "unknown role": forge.signed(gateway, role="root"),
    }


async def test_bad_tokens_get_401(gateway: Gateway, client: ApiClient) -> None:
    for index, (name, token) in enumerate(bad_tokens(gateway).items()):
        # a fresh source address per case, so the failed-auth back-off does not mask the 401
        other = ApiClient(gateway.urls[0], local_addr=f"127.0.1.{index + 1}")
        try:
            reply = await other.request("GET", "/api/v1/status", token=token)
        finally:
            await other.close()
        assert reply.status == 401, name
        assert reply.json()["error"]["code"] == "unauthorized", name
        assert reply.headers["WWW-Authenticate"].startswith("Bearer"), name
        if token:
            assert token not in reply.body.decode(), name


async def test_other_authorization_schemes_get_401(client: ApiClient) -> None:
    for header in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  ", "Token abc"):
        reply = await client.request("GET", "/api/v1/status", headers={"Authorization": header})
        assert reply.status == 401, header


async def test_token_in_query_string_is_ignored(gateway: Gateway, client: ApiClient) -> None:
    token = await issue(gateway, "admin")
    for name in ("access_token", "token", "jwt", "auth"):
        reply = await client.request("GET", f"/api/v1/status?{name}={token}")
        assert reply.status == 401, name


async def test_revoked_token_refused_also_after_restart(gateway_config, tmp_path) -> None:
    first = await create_gateway(gateway_config)
    await first.start()
    try:
        admin = await issue(first, "admin")
        victim = await issue(first, "technician")
        api = ApiClient(first.urls[0])
        assert (await api.request("GET", "/api/v1/status", token=victim)).status == 200
        jti = next(t.jti for t in await first.context.registry.list_tokens() if t.role == "technician")
        reply = await api.request("DELETE", f"/api/v1/tokens/{jti}", token=admin)
        assert reply.status == 200 and reply.json() == {"jti": jti, "revoked": True}
        assert (await api.request("GET", "/api/v1/status", token=victim)).status == 401
        await api.close()
    finally:
        await first.stop()
    second = await create_gateway(gateway_config)
    await second.start()
    try:
        api = ApiClient(second.urls[0])
        assert (await api.request("GET", "/api/v1/status", token=victim)).status == 401
        assert (await api.request("GET", "/api/v1/status", token=admin)).status == 200
        await api.close()
    finally:
        await second.stop()


async def test_key_rotation_and_revocation(gateway: Gateway, client: ApiClient) -> None:
    keyring = gateway.context.keyring
    old_token = await issue(gateway, "viewer")
    old_kid = keyring.active_kid
    keyring.rotate(retain_s=gateway.config.auth.max_ttl_s)
    new_token = await issue(gateway, "viewer")
    assert keyring.active_kid != old_kid
    # a retired key's tokens stay valid until they expire
    assert (await client.request("GET", "/api/v1/status", token=old_token)).status == 200
    assert (await client.request("GET", "/api/v1/status", token=new_token)).status == 200
    keyring.revoke(old_kid)
    assert (await client.request("GET", "/api/v1/status", token=old_token)).status == 401
    assert (await client.request("GET", "/api/v1/status", token=new_token)).status == 200
