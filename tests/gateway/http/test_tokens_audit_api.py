"""Token and audit routes: issue once, list without secrets, revoke, audit every change with its chain link."""

from __future__ import annotations

from gateway.factory import Gateway
from tests.support.gateway import ApiClient, issue


async def test_issue_list_revoke_over_the_api(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin", sub="alice", ttl_s=7200)  # outlives the token it issues
    reply = await client.request("POST", "/api/v1/tokens", token=admin, json={"sub": "bob", "role": "technician", "ttl_s": 3600})
    assert reply.status == 201
    issued = reply.json()
    assert issued["role"] == "technician" and issued["sub"] == "bob"
    assert issued["expires_at"] - issued["issued_at"] == 3600
    bob = issued["token"]
    assert (await client.request("GET", "/api/v1/status", token=bob)).status == 200

    listing = (await client.request("GET", "/api/v1/tokens", token=admin)).json()["tokens"]
    assert {t["sub"] for t in listing} >= {"alice", "bob"}
    assert bob not in str(listing)  # the token itself is never stored or listed

    revoked = await client.request("DELETE", f"/api/v1/tokens/{issued['jti']}", token=admin)
    assert revoked.json() == {"jti": issued["jti"], "revoked": True}
    again = await client.request("DELETE", f"/api/v1/tokens/{issued['jti']}", token=admin)
    assert again.json() == {"jti": issued["jti"], "revoked": False}
    assert (await client.request("GET", "/api/v1/status", token=bob)).status == 401
    bad = await client.request("DELETE", "/api/v1/tokens/x;drop", token=admin)
    assert bad.status == 422


async def test_default_ttl_applies(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin", ttl_s=2 * gateway.config.auth.default_ttl_s)  # outlives the default
    issued = (await client.request("POST", "/api/v1/tokens", token=admin, json={"sub": "c", "role": "sync"})).json()
    assert issued["expires_at"] - issued["issued_at"] == gateway.config.auth.default_ttl_s


async def test_audit_records_changes_and_refusals_with_chain(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin", sub="alice")
    viewer = await issue(gateway, "viewer", sub="victor")
    await client.request("POST", "/api/v1/tokens", token=admin, json={"sub": "bob", "role": "viewer"})
    await client.request("POST", "/api/v1/tokens", token=viewer, json={"sub": "eve", "role": "admin"})  # 403
    await client.request("GET", "/api/v1/status", token="forged")  # 401
    await client.request("GET", "/api/v1/status", token=viewer)  # reads are not audited

    page = (await client.request("GET", "/api/v1/audit?limit=10", token=admin)).json()
    entries = page["entries"]
    assert [e["action"] for e in entries[:3]] == ["status.get", "tokens.issue", "tokens.issue"]
    unauthorized, forbidden, issued = entries[0], entries[1], entries[2]
    assert unauthorized["outcome"] == "refused" and unauthorized["details"]["status"] == 401
    assert unauthorized["client"] == "127.0.0.1" and unauthorized["actor"] is None
    assert forbidden["outcome"] == "refused" and forbidden["actor"] == "victor" and forbidden["details"]["status"] == 403
    assert issued["outcome"] == "ok" and issued["actor"] == "alice" and issued["details"]["sub"] == "bob"
    assert issued["jti"] and issued["target"]
    assert all("token" not in key for e in entries for key in e["details"])
    # newest first, each linked to the one before it
    for newer, older in zip(entries, entries[1:]):
        assert newer["id"] > older["id"]
        assert newer["prev_hash"] == older["hash"]

    older = (await client.request("GET", f"/api/v1/audit?before={entries[1]['id']}&limit=1", token=admin)).json()
    assert [e["id"] for e in older["entries"]] == [entries[2]["id"]]


async def test_metrics_in_prometheus_format(gateway: Gateway, client: ApiClient) -> None:
    viewer = await issue(gateway, "viewer")
    await client.request("GET", "/api/v1/status", token=viewer)
    await client.request("GET", "/api/v1/status", token="junk")
    reply = await client.request("GET", "/metrics", token=viewer)
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/plain")
    text = reply.body.decode()
    assert 'gateway_http_requests_total{method="GET",route="status.get",status="200"}' in text
    assert 'gateway_auth_failures_total{reason="malformed"}' in text
    assert 'gateway_part_up{part="event-loop"} 1.0' in text
    assert "gateway_uptime_seconds" in text


async def test_status_reports_each_part(gateway: Gateway, client: ApiClient) -> None:
    status = (await client.request("GET", "/api/v1/status", token=await issue(gateway, "viewer"))).json()
    assert status["gateway_id"] == gateway.config.gateway.id
    assert status["state"] == "ok"
    assert {p["name"] for p in status["parts"]} >= {"event-loop", "auth-refresh", "watchdog"}
    assert all(p["state"] == "running" for p in status["parts"])
    assert status["listen"] == gateway.urls
