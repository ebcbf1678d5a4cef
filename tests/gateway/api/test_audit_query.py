"""GET /api/v1/audit: every query parameter checked against its range (422 naming it), never a 500."""

from __future__ import annotations

import pytest

from gateway.api.models import AUDIT_ID_MAX
from gateway.factory import Gateway
from tests.support.gateway import ApiClient, issue

BAD_QUERIES = [
    ("before=" + "9" * 30, "query.before"),  # the reported 500: beyond SQLite's INTEGER
    (f"before={AUDIT_ID_MAX + 1}", "query.before"),
    ("before=" + "1" * 5000, "query.before"),  # beyond Python's int-from-text digit limit
    ("before=0", "query.before"),
    ("before=-1", "query.before"),
    ("before=-" + "9" * 30, "query.before"),
    ("before=1e3", "query.before"),
    ("before=1.0", "query.before"),
    ("before=%201", "query.before"),
    ("before=1_000", "query.before"),
    ("before=0x10", "query.before"),
    ("before=%D9%A1", "query.before"),  # ARABIC-INDIC DIGIT ONE
    ("before=", "query.before"),
    ("before=abc", "query.before"),
    ("limit=0", "query.limit"),
    ("limit=501", "query.limit"),
    ("limit=" + "9" * 30, "query.limit"),
    ("limit=-5", "query.limit"),
    ("limit=true", "query.limit"),
    ("before=1&before=2", "query.before"),
    ("after=3", "query.after"),
]


@pytest.mark.parametrize(("query", "field"), BAD_QUERIES)
async def test_out_of_range_or_malformed_values_are_422(gateway: Gateway, client: ApiClient, query: str,
                                                        field: str) -> None:
    admin = await issue(gateway, "admin")
    reply = await client.request("GET", f"/api/v1/audit?{query}", token=admin)
    assert reply.status == 422, (query, reply.status, reply.body)
    error = reply.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{field}:"), error
    if "given more than once" not in error["message"]:  # that one is raised by read_query without "fields"
        assert error["fields"][0]["field"] == field, error


async def test_values_in_range_are_served(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin")
    for n in range(3):  # something to list
        await client.request("POST", "/api/v1/tokens", token=admin, json={"sub": f"u{n}", "role": "viewer", "ttl_s": 600})
    newest = (await client.request("GET", "/api/v1/audit?limit=1", token=admin)).json()["entries"][0]["id"]
    for query in (f"before={AUDIT_ID_MAX}", "before=1", "limit=1", "limit=500", "before=0002&limit=007",
                  f"before={newest}&limit=2", "", "before=" + "0" * 40 + "5"):
        reply = await client.request("GET", f"/api/v1/audit?{query}", token=admin)
        assert reply.status == 200, (query, reply.body)
    top = (await client.request("GET", f"/api/v1/audit?before={AUDIT_ID_MAX}", token=admin)).json()
    assert top["entries"][0]["id"] == newest
    assert (await client.request("GET", "/api/v1/audit?before=1", token=admin)).json() == {"entries": [], "next_before": None}


async def test_the_document_states_the_ranges(gateway: Gateway, client: ApiClient) -> None:
    document = (await client.request("GET", "/api/v1/openapi.json", token=await issue(gateway, "viewer"))).json()
    operation = document["paths"]["/api/v1/audit"]["get"]
    params = {p["name"]: p["schema"] for p in operation["parameters"]}
    assert params["before"] == {"type": "integer", "minimum": 1, "maximum": AUDIT_ID_MAX}
    assert params["limit"] == {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}
    assert "422" in operation["responses"]
