"""Token issuance bounded by the issuer, cascading revocation and 404 for unknown ids, over real HTTP."""

from __future__ import annotations

from gateway.cli.token_cmd import issue_token as cli_issue_token
from gateway.factory import Gateway
from tests.support.gateway import ApiClient, issue

HOUR_S = 3600
DAY_S = 24 * HOUR_S


def jti_of(gateway: Gateway, token: str) -> str:
    return gateway.context.tokens.verify(token).jti


async def issue_over_api(client: ApiClient, issuer: str, sub: str, role: str, ttl_s: int | None = None) -> dict:
    body: dict[str, object] = {"sub": sub, "role": role}
    if ttl_s is not None:
        body["ttl_s"] = ttl_s
    reply = await client.request("POST", "/api/v1/tokens", token=issuer, json=body)
    assert reply.status == 201, reply.body
    return reply.json()


async def audit_entries(client: ApiClient, admin: str, limit: int = 20) -> list[dict]:
    reply = await client.request("GET", f"/api/v1/audit?limit={limit}", token=admin)
    assert reply.status == 200, reply.body
    return reply.json()["entries"]


async def test_a_token_never_outlives_its_issuer(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin", sub="short-admin", ttl_s=HOUR_S)
    admin_exp = gateway.context.tokens.verify(admin).exp

    # A 1 h admin token cannot mint a longer-lived admin token: refused, the field and the bound named.
    refused = await client.request("POST", "/api/v1/tokens", token=admin,
                                   json={"sub": "mallory", "role": "admin", "ttl_s": 7 * DAY_S})
    assert refused.status == 422
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"][0]["field"] == "body.ttl_s"
    assert "may not outlive the token that issues it" in error["message"]
    assert f"expires at {admin_exp}" in error["message"]
    assert not [t for t in (await client.request("GET", "/api/v1/tokens", token=admin)).json()["tokens"]
                if t["sub"] == "mallory"]  # nothing issued, nothing recorded

    # Within the issuer's lifetime: issued, ending no later than the issuer.
    ok = await issue_over_api(client, admin, "bob", "technician", ttl_s=HOUR_S // 2)
    assert ok["expires_at"] <= admin_exp and ok["issuer_jti"] == jti_of(gateway, admin)

    # No ttl_s: the default (8 h) is capped to the issuer's remaining lifetime, and the audit says so.
    assert gateway.config.auth.default_ttl_s > HOUR_S
    capped = await issue_over_api(client, admin, "carol", "viewer")
    assert capped["expires_at"] == admin_exp
    entry = next(e for e in await audit_entries(client, admin) if e["target"] == capped["jti"])
    assert entry["details"]["ttl_capped_to_issuer"] is True
    assert entry["details"]["issuer_jti"] == jti_of(gateway, admin)
    assert entry["details"]["ttl_s"] == capped["expires_at"] - capped["issued_at"]

    # A child cannot stretch the chain either: it is bounded by the same expiry.
    child_admin = await issue_over_api(client, admin, "deputy", "admin", ttl_s=HOUR_S // 2)
    grandchild = await client.request("POST", "/api/v1/tokens", token=child_admin["token"],
                                      json={"sub": "eve", "role": "viewer", "ttl_s": HOUR_S})
    assert grandchild.status == 422 and grandchild.json()["error"]["fields"][0]["field"] == "body.ttl_s"


async def test_an_issuer_about_to_expire_cannot_issue(gateway: Gateway, client: ApiClient) -> None:
    dying = await issue(gateway, "admin", ttl_s=30)
    for body in ({"sub": "x", "role": "viewer"}, {"sub": "x", "role": "viewer", "ttl_s": 60}):
        reply = await client.request("POST", "/api/v1/tokens", token=dying, json=body)
        assert reply.status == 422, reply.body
        assert reply.json()["error"]["fields"][0]["field"] == "body.ttl_s"


async def test_the_admin_cli_on_the_device_is_not_bounded_by_an_issuer(gateway: Gateway, client: ApiClient) -> None:
    """The device's own CLI issues without an issuer: up to auth.max_ttl_s, recorded with no issuer_jti."""
    token, info = await cli_issue_token(gateway.config, "site-admin", "admin", 30 * DAY_S)
    assert int(info["expires_at"]) - int(info["issued_at"]) == 30 * DAY_S  # type: ignore[call-overload]
    listing = (await client.request("GET", "/api/v1/tokens", token=token)).json()["tokens"]
    mine = next(t for t in listing if t["jti"] == info["jti"])
    assert mine["issuer_jti"] is None
    # ...and what it issues over the API is bounded by it, not by the API's own token
    issued = await issue_over_api(client, token, "long", "viewer", ttl_s=20 * DAY_S)
    assert issued["issuer_jti"] == info["jti"]


async def test_revoking_a_token_revokes_what_it_issued(gateway: Gateway, client: ApiClient) -> None:
    root = await issue(gateway, "admin", sub="root", ttl_s=4 * HOUR_S)
    other = await issue(gateway, "admin", sub="other", ttl_s=4 * HOUR_S)  # unrelated: stays valid
    deputy = await issue_over_api(client, root, "deputy", "admin", ttl_s=3 * HOUR_S)
    tech = await issue_over_api(client, deputy["token"], "tech", "technician", ttl_s=HOUR_S)
    sub_admin = await issue_over_api(client, deputy["token"], "sub-admin", "admin", ttl_s=2 * HOUR_S)
    viewer = await issue_over_api(client, sub_admin["token"], "viewer", "viewer", ttl_s=HOUR_S)
    sibling = await issue_over_api(client, root, "sibling", "viewer", ttl_s=HOUR_S)
    for t in (deputy, tech, sub_admin, viewer, sibling):
        assert (await client.request("GET", "/api/v1/status", token=t["token"])).status == 200

    reply = await client.request("DELETE", f"/api/v1/tokens/{deputy['jti']}", token=other)
    assert reply.status == 200 and reply.json() == {"jti": deputy["jti"], "revoked": True}
    for t in (deputy, tech, sub_admin, viewer):  # at once, transitively
        refused = await client.request("GET", "/api/v1/status", token=t["token"])
        assert refused.status == 401, t["sub"]
    for token in (root, other, sibling["token"]):
        assert (await client.request("GET", "/api/v1/status", token=token)).status == 200

    listing = {t["sub"]: t for t in (await client.request("GET", "/api/v1/tokens", token=other)).json()["tokens"]}
    assert all(listing[s]["revoked_at"] is not None for s in ("deputy", "tech", "sub-admin", "viewer"))
    assert listing["sibling"]["revoked_at"] is None and listing["root"]["revoked_at"] is None
    assert listing["tech"]["issuer_jti"] == deputy["jti"] and listing["viewer"]["issuer_jti"] == sub_admin["jti"]

    entry = next(e for e in await audit_entries(client, other) if e["action"] == "tokens.revoke")
    assert entry["target"] == deputy["jti"] and entry["outcome"] == "ok"
    assert entry["details"]["cascaded"] == 3
    assert sorted(entry["details"]["cascaded_jtis"]) == sorted([tech["jti"], sub_admin["jti"], viewer["jti"]])

    # The revocations are in the database: a restarted gateway's cache loads them (checked through
    # the registry, the store the server reloads from).
    revoked = await gateway.context.registry.revoked_jtis()
    assert {deputy["jti"], tech["jti"], sub_admin["jti"], viewer["jti"]} <= revoked

    # Revoking the root takes what is left of its tree (the sibling), and only that.
    reply = await client.request("DELETE", f"/api/v1/tokens/{jti_of(gateway, root)}", token=other)
    assert reply.json()["revoked"] is True
    assert (await client.request("GET", "/api/v1/status", token=sibling["token"])).status == 401
    assert (await client.request("GET", "/api/v1/status", token=other)).status == 200


async def test_revoking_an_unknown_id_is_404_and_audited(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin", sub="alice")
    reply = await client.request("DELETE", "/api/v1/tokens/AAAAAAAAAAAAAAAA", token=admin)
    assert reply.status == 404
    assert reply.json()["error"]["code"] == "not_found"
    assert "AAAAAAAAAAAAAAAA" not in await gateway.context.registry.revoked_jtis()  # nothing recorded
    entry = (await audit_entries(client, admin))[0]
    assert entry["action"] == "tokens.revoke" and entry["outcome"] == "failed"
    assert entry["target"] == "AAAAAAAAAAAAAAAA" and entry["details"]["status"] == 404
    assert entry["details"]["known"] is False

    # A known token: 200, then 200 with revoked false; an id that is not a token id at all: 422.
    issued = await issue_over_api(client, admin, "bob", "viewer", ttl_s=600)
    first = await client.request("DELETE", f"/api/v1/tokens/{issued['jti']}", token=admin)
    again = await client.request("DELETE", f"/api/v1/tokens/{issued['jti']}", token=admin)
    assert (first.status, first.json()["revoked"]) == (200, True)
    assert (again.status, again.json()["revoked"]) == (200, False)
    assert (await client.request("DELETE", "/api/v1/tokens/x;drop", token=admin)).status == 422


async def test_openapi_documents_the_issuance_rules(gateway: Gateway, client: ApiClient) -> None:
    document = (await client.request("GET", "/api/v1/openapi.json", token=await issue(gateway, "viewer"))).json()
    issue_op = document["paths"]["/api/v1/tokens"]["post"]
    revoke_op = document["paths"]["/api/v1/tokens/{jti}"]["delete"]
    assert "never expires after the issuing token" in issue_op["summary"]
    assert "422" in issue_op["responses"]
    assert {"404", "422"} <= set(revoke_op["responses"])
    assert "every token it issued" in revoke_op["summary"]
    request_schema = document["components"]["schemas"]["TokenIssueRequest"]
    assert "capped" in request_schema["description"] and "refused" in request_schema["description"]
    assert "issuing token" in request_schema["properties"]["ttl_s"]["description"]
    assert "issuer_jti" in document["components"]["schemas"]["TokenIssued"]["properties"]
    assert "issuer_jti" in document["components"]["schemas"]["TokenInfo"]["properties"]

