"""Authentication and the role matrix over real HTTP (spec: local-api.md, Authentication and Roles)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from gateway.auth.roles import PRINTER_COMMAND_PERMISSIONS, role_allows
from gateway.factory import Gateway, create_gateway
from gateway.http.keys import ROUTES
from gateway.http.routes import Route
from tests.support import tokens as forge
from tests.support.extruder import SiteFactory, extruder_site  # noqa: F401  (fixture)
from tests.support.gateway import ApiClient, issue

ROLES = ("viewer", "technician", "admin", "sync")
PUBLIC = None
VIEWER_UP = frozenset({"viewer", "technician", "admin"})
TECHNICIAN_UP = frozenset({"technician", "admin"})
ADMIN = frozenset({"admin"})
SYNC = frozenset({"sync"})

# The spec's route table (local-api.md, "Routes" and "Roles"), written out here independently of the
# code's tables so that drift in either is caught. Routes of later issues are listed already: the
# matrix iterates over the routes the composed gateway really serves, so each is checked as soon as
# it is served, and a served route missing here fails until its roles are written down.
SPEC_ROLES: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/v1/status"): VIEWER_UP,
    ("GET", "/api/v1/printers"): VIEWER_UP,
    ("GET", "/api/v1/printers/{serial}"): VIEWER_UP,
    # "by command": with the sample body below (pause); each command's role: test_printer_command_roles
    ("POST", "/api/v1/printers/{serial}/commands"): TECHNICIAN_UP,
    ("GET", "/api/v1/extruder"): VIEWER_UP,
    ("PUT", "/api/v1/extruder/zones/{zone}"): TECHNICIAN_UP,
    ("PUT", "/api/v1/extruder/motor"): TECHNICIAN_UP,
    ("POST", "/api/v1/extruder/estop"): VIEWER_UP,  # every authenticated role except sync
    ("POST", "/api/v1/extruder/reset"): TECHNICIAN_UP,
    ("POST", "/api/v1/extruder/zones/{zone}/autotune"): ADMIN,
    ("GET", "/api/v1/telemetry"): SYNC,
    ("POST", "/api/v1/telemetry/ack"): SYNC,
    ("GET", "/api/v1/tokens"): ADMIN,
    ("POST", "/api/v1/tokens"): ADMIN,
    ("DELETE", "/api/v1/tokens/{jti}"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/metrics"): VIEWER_UP,
    # Served beyond the table: the API's own description (Transport), read like status...
    ("GET", "/api/v1/openapi.json"): VIEWER_UP,
    # ...and the technician page, which holds no data; its live socket authenticates in its first message.
    ("GET", "/"): PUBLIC,
    ("GET", "/static/{name}"): PUBLIC,
    ("GET", "/api/v1/live"): PUBLIC,
}
SPEC_PRINTER_COMMAND_ROLES = {
    "pause": TECHNICIAN_UP, "resume": TECHNICIAN_UP, "light": TECHNICIAN_UP, "pushall": TECHNICIAN_UP,
    "stop": ADMIN, "set_temperature": ADMIN,
}
SAMPLE_PATH_PARAMS = {"jti": "AAAAAAAAAAAAAAAA", "serial": "01S00A000000000", "zone": "1", "name": "app.js"}
SAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/api/v1/tokens"): {"sub": "matrix", "role": "viewer", "ttl_s": 600},
    ("POST", "/api/v1/printers/{serial}/commands"): {"command": "pause"},
    ("PUT", "/api/v1/extruder/zones/{zone}"): {"setpoint_c": None},
    ("PUT", "/api/v1/extruder/motor"): {"rpm": 0.0},
    ("POST", "/api/v1/telemetry/ack"): {"cursor": "sample"},
}
# Core routes whose sample request must succeed for an allowed role (for the others, any answer but
# 401/403 shows that the role check passed: 404 for an unknown printer, 409, 422...).
MUST_SUCCEED = {("GET", "/healthz"), ("GET", "/api/v1/status"), ("GET", "/api/v1/openapi.json"), ("GET", "/metrics"),
                ("GET", "/api/v1/tokens"), ("POST", "/api/v1/tokens"),
                ("GET", "/api/v1/audit")}
PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def served_routes(gateway: Gateway) -> list[Route]:
    assert gateway.http is not None
    return sorted(gateway.http.runner.app[ROUTES].values(), key=lambda r: (r.path, r.method))


def sample_url(path: str) -> str:
    return PATH_PARAM.sub(lambda m: SAMPLE_PATH_PARAMS.get(m.group(1), "sample"), path)


async def test_every_served_route_is_in_the_spec_table(gateway: Gateway) -> None:
    served = {(r.method, r.path) for r in served_routes(gateway)}
    assert served - set(SPEC_ROLES) == set(), "served routes missing from SPEC_ROLES"
    assert {("GET", "/healthz"), ("GET", "/api/v1/status"), ("GET", "/api/v1/tokens")} <= served


async def test_route_table_data_matches_the_spec(gateway: Gateway) -> None:
    check_route_table_data(gateway)


def check_route_table_data(gateway: Gateway) -> None:
    """The code's own data (public flag, permission, role table) says what the spec says, per route."""
    for route in served_routes(gateway):
        expected = SPEC_ROLES[(route.method, route.path)]
        if expected is PUBLIC:
            assert route.public, (route.method, route.path)
            continue
        assert route.permission is not None and not route.public, (route.method, route.path)
        allowed = {role for role in ROLES if role_allows(role, route.permission)}
        assert allowed == expected, (route.method, route.path, allowed)


def test_printer_command_roles() -> None:
    assert set(PRINTER_COMMAND_PERMISSIONS) == set(SPEC_PRINTER_COMMAND_ROLES)
    for command, permission in PRINTER_COMMAND_PERMISSIONS.items():
        allowed = {role for role in ROLES if role_allows(role, permission)}
        assert allowed == SPEC_PRINTER_COMMAND_ROLES[command], command


async def check_role_matrix(gateway: Gateway, client: ApiClient, role: str) -> None:
    """Each served route over HTTP for `role`: allowed, or 403 (and that 403 written to the audit log)."""
    token = await issue(gateway, role, sub=f"matrix-{role}")
    denied: list[str] = []
    for route in served_routes(gateway):
        key = (route.method, route.path)
        allowed = SPEC_ROLES[key]
        reply = await client.request(route.method, sample_url(route.path), token=token, json=SAMPLE_BODIES.get(key))
        if allowed is PUBLIC or role in allowed:
            assert reply.status not in (401, 403), (role, key, reply.status, reply.body)
            if key in MUST_SUCCEED:
                assert reply.status < 400, (role, key, reply.status, reply.body)
            if key == ("DELETE", "/api/v1/tokens/{jti}"):  # a made-up jti: the role passed, the jti is unknown
                assert reply.status == 404, (role, key, reply.status, reply.body)
        else:
            assert reply.status == 403, (role, key, reply.status, reply.body)
            assert reply.json()["error"]["code"] == "forbidden"
            denied.append(reply.headers["X-Request-ID"])
    refused = [e for e in await gateway.context.audit.list(limit=500)
               if e.actor == f"matrix-{role}" and e.outcome == "refused" and e.details.get("status") == 403]
    assert sorted(e.details["request_id"] for e in refused) == sorted(denied)


@pytest.mark.parametrize("role", ROLES)
async def test_role_matrix(gateway: Gateway, client: ApiClient, role: str) -> None:
    await check_role_matrix(gateway, client, role)


async def test_role_matrix_on_a_site_with_every_part(extruder_site: SiteFactory) -> None:
    """The same matrix on a gateway that also serves the extruder routes (they exist only when configured)."""
    site = await extruder_site()
    served = {(r.method, r.path) for r in served_routes(site.gateway)}
    assert served - set(SPEC_ROLES) == set(), "served routes missing from SPEC_ROLES"
    assert ("POST", "/api/v1/extruder/estop") in served
    check_route_table_data(site.gateway)
    for role in ROLES:
        await check_role_matrix(site.gateway, site.api, role)
    assert served >= {key for key in SPEC_ROLES if key[1].startswith(("/api/v1/extruder", "/api/v1/printers",
                                                                      "/api/v1/telemetry"))}


async def test_healthz_needs_no_token_and_discloses_nothing(client: ApiClient) -> None:
    reply = await client.request("GET", "/healthz")
    assert reply.status == 200
    assert reply.json() == {"status": "ok"}


async def test_healthz_is_503_while_shutting_down(gateway: Gateway, client: ApiClient) -> None:
    gateway.stopping = True  # what stop() sets first, before the listeners close
    try:
        reply = await client.request("GET", "/healthz")
    finally:
        gateway.stopping = False
    assert reply.status == 503
    assert reply.json() == {"status": "unavailable"}


def bad_tokens(gateway: Gateway) -> dict[str, tuple[str | None, str]]:
    """Each refused credential of the spec, with the reason the gateway must find for it."""
    now = int(time.time())
    return {
        "no token": (None, "missing"),
        "garbage": ("not-a-jwt", "malformed"),
        "two segments": ("abc.def", "malformed"),
        "wrong signature": (forge.signed(gateway, key=forge.other_key()), "bad_signature"),
        "alg none": (forge.unsigned_alg_none(gateway), "bad_alg"),
        "HS256 with public key (PEM)": (forge.hs256_with_public_key(gateway, pem=True), "bad_alg"),
        "HS256 with public key (raw)": (forge.hs256_with_public_key(gateway, pem=False), "bad_alg"),
        "expired": (forge.signed(gateway, iat=now - 7200, nbf=now - 7200, exp=now - 3600), "expired"),
        "not yet valid": (forge.signed(gateway, nbf=now + 3600, exp=now + 7200), "not_yet_valid"),
        "wrong aud": (forge.signed(gateway, aud="another-gateway"), "bad_audience"),
        "wrong iss": (forge.signed(gateway, iss="another-gateway"), "bad_issuer"),
        "unknown kid": (forge.signed(gateway, headers={"kid": "no-such-kid"}), "unknown_kid"),
        "missing jti": (forge.signed(gateway, jti=None), "missing_claim"),
        "missing exp": (forge.signed(gateway, exp=None), "missing_claim"),
        "missing aud": (forge.signed(gateway, aud=None), "missing_claim"),
        "unknown role": (forge.signed(gateway, role="root"), "bad_role"),
    }


async def refused_reason(gateway: Gateway, client_address: str) -> str:
    """The reason in the newest audit entry of a refused request from `client_address`."""
    entry = next(e for e in await gateway.context.audit.list(limit=50) if e.client == client_address)
    assert entry.outcome == "refused" and entry.details["status"] == 401, entry
    return str(entry.details["reason"])


async def test_bad_tokens_get_401(gateway: Gateway, client: ApiClient) -> None:
    for index, (name, (token, reason)) in enumerate(bad_tokens(gateway).items()):
        # a fresh source address per case, so the failed-auth back-off does not mask the 401
        address = f"127.0.1.{index + 1}"
        other = ApiClient(gateway.urls[0], local_addr=address)
        try:
            reply = await other.request("GET", "/api/v1/status", token=token)
        finally:
            await other.close()
        assert reply.status == 401, name
        assert reply.json()["error"]["code"] == "unauthorized", name
        assert reply.headers["WWW-Authenticate"].startswith("Bearer"), name
        if token:
            assert token not in reply.body.decode(), name
        assert await refused_reason(gateway, address) == reason, name


async def test_other_authorization_schemes_get_401(client: ApiClient) -> None:
    for header in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer  ", "Token abc"):
        reply = await client.request("GET", "/api/v1/status", headers={"Authorization": header})
        assert reply.status == 401, header


async def test_token_in_query_string_is_ignored(gateway: Gateway) -> None:
    token = await issue(gateway, "admin")
    for index, name in enumerate(("access_token", "token", "jwt", "auth", "bearer", "authorization")):
        # a fresh source address per name: each refusal counts towards that address's back-off
        client = ApiClient(gateway.urls[0], local_addr=f"127.0.2.{index + 1}")
        try:
            reply = await client.request("GET", f"/api/v1/status?{name}={token}")
            assert reply.status == 401, name
            assert reply.json()["error"]["message"] == "no bearer token was presented", name
            # the query is not read at all: a garbage query token does not spoil a valid header either
            reply = await client.request("GET", f"/api/v1/status?{name}=garbage", token=token)
            assert reply.status == 200, name
        finally:
            await client.close()


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
        refused = await api.request("GET", "/api/v1/status", token=victim)
        assert refused.status == 401 and refused.json()["error"]["message"] == "the token has been revoked"
        await api.close()
    finally:
        await first.stop()
    second = await create_gateway(gateway_config)
    await second.start()
    try:
        api = ApiClient(second.urls[0])
        refused = await api.request("GET", "/api/v1/status", token=victim)
        assert refused.status == 401 and refused.json()["error"]["message"] == "the token has been revoked"
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
    refused = await client.request("GET", "/api/v1/status", token=old_token)
    assert refused.status == 401 and refused.json()["error"]["message"] == "the token was signed with a revoked key"
    assert (await client.request("GET", "/api/v1/status", token=new_token)).status == 200
