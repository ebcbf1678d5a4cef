"""Failed-auth back-off per client address, over real sockets from two loopback source addresses."""

from __future__ import annotations

from gateway.factory import Gateway
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
        # while blocked, even a valid token from that address waits
        assert (await attacker.request("GET", "/api/v1/status", token=good)).status == 429
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
        assert await gateway.context.audit.count() - before == 5  # the blocked requests are not written
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
