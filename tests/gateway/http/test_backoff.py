"""Failed-auth back-off per client address, over real sockets from two loopback source addresses."""

from __future__ import annotations

from gateway.factory import Gateway
from tests.support.extruder import SiteFactory, extruder_site  # noqa: F401  (fixture)
from tests.support.gateway import ApiClient, issue


async def test_sixth_bad_attempt_gets_429_and_other_address_still_works(gateway: Gateway) -> None:
    attacker = ApiClient(gateway.urls[0], local_addr="127.0.0.1")
    bystander = ApiClient(gateway.urls[0], local_addr="127.0.0.2")
    good = await issue(gateway, "viewer")
    try:
        for attempt in range(1, 6):
            reply = await attacker.request("GET", "/api/v1/status", token=f"bad-token-{attempt}")
            assert reply.status == 401, attempt
        sixth = await attacker.request("GET", "/api/v1/status", token="bad-token-6")
        assert sixth.status == 429
        assert sixth.json()["error"]["code"] == "too_many_failures"
        retry_after = int(sixth.headers["Retry-After"])
        assert 1 <= retry_after <= gateway.config.auth.backoff.initial_block_s
        # while blocked, a valid token from that address is served (a shared address: a NAT, a tablet)...
        assert (await attacker.request("GET", "/api/v1/status", token=good)).status == 200
        # ...and bad ones still wait
        assert (await attacker.request("GET", "/api/v1/status", token="bad-token-7")).status == 429
        # another address is not affected
        assert (await bystander.request("GET", "/api/v1/status", token=good)).status == 200
        assert (await bystander.request("GET", "/healthz")).status == 200
        # the failure that started the block is in the audit log with the address
        entries = await gateway.context.audit.list(limit=10)
        started = [e for e in entries if "backoff_s" in e.details]
        assert started and started[0].client == "127.0.0.1" and started[0].outcome == "refused"
    finally:
        await attacker.close()
        await bystander.close()


async def test_an_anonymous_flood_is_blocked_and_cannot_fill_the_audit_log(gateway: Gateway) -> None:
    flooder = ApiClient(gateway.urls[0], local_addr="127.0.0.4")
    bystander = ApiClient(gateway.urls[0], local_addr="127.0.0.5")
    try:
        before = await gateway.context.audit.count()
        statuses = [(await flooder.request("GET", "/api/v1/status")).status for _ in range(50)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        # 5 refusals, then one entry for the block; the other 44 blocked requests are only counted
        assert await gateway.context.audit.count() - before == 6
        good = await issue(gateway, "viewer")
        assert (await bystander.request("GET", "/api/v1/status", token=good)).status == 200
    finally:
        await flooder.close()
        await bystander.close()


async def test_x_forwarded_for_is_not_trusted(gateway: Gateway) -> None:
    attacker = ApiClient(gateway.urls[0], local_addr="127.0.0.3")
    try:
        for attempt in range(6):
            reply = await attacker.request(
                "GET", "/api/v1/status", token="bad", headers={"X-Forwarded-For": f"10.9.9.{attempt}"}
            )
        assert reply.status == 429  # spoofed addresses did not spread the failures
    finally:
        await attacker.close()


async def test_e_stop_from_an_address_in_back_off_is_served_to_a_valid_token(extruder_site: SiteFactory) -> None:
    """A shared tablet: someone mistyped tokens until the address was blocked; a technician presses e-stop."""
    site = await extruder_site(speed=20.0)
    put = await site.call("PUT", "/api/v1/extruder/zones/0", "technician", {"setpoint_c": 150.0})
    assert put.status == 200, put.body
    await site.wait_sim(lambda s: s["applied"][0] > 0, 5.0, "the heater on")
    tablet = ApiClient(site.gateway.urls[0], local_addr="127.0.0.9")
    try:
        statuses = [(await tablet.request("GET", "/api/v1/status", token=f"typo-{n}")).status for n in range(12)]
        assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}
        before = site.gateway.context.metrics.auth_blocked._value.get()  # noqa: SLF001
        estop = await tablet.request("POST", "/api/v1/extruder/estop", token=site.tokens["viewer"])
        assert estop.status == 200, estop.body
        await site.wait_sim(lambda s: s["applied"] == [0], 2.0, "the heater off")
        assert (await tablet.request("GET", "/api/v1/status", token="typo-x")).status == 429
        assert site.gateway.context.metrics.auth_blocked._value.get() == before + 1  # noqa: SLF001
    finally:
        await tablet.close()
    entries = await site.gateway.context.audit.list(limit=100)
    blocked = [e for e in entries if e.details.get("status") == 429]
    assert len(blocked) == 1 and blocked[0].client == "127.0.0.9", [e.details for e in blocked]
    assert any(e.action == "extruder.estop" and e.outcome == "ok" and e.client == "127.0.0.9" for e in entries)
