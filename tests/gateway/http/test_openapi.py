"""The served OpenAPI document matches the routes the server has and the models it validates with."""

from __future__ import annotations

from gateway.api.models import StatusResponse, TokenIssued, TokenList
from gateway.factory import Gateway
from gateway.http.keys import ROUTES
from tests.support.gateway import ApiClient, issue


async def test_openapi_lists_exactly_the_served_routes(gateway: Gateway, client: ApiClient) -> None:
    document = (await client.request("GET", "/api/v1/openapi.json", token=await issue(gateway, "viewer"))).json()
    assert document["openapi"].startswith("3.1")
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    assert gateway.http is not None
    served = {(r.method, r.path) for r in gateway.http.runner.app[ROUTES].values()}
    assert documented == served
    schemas = document["components"]["schemas"]
    issue_op = document["paths"]["/api/v1/tokens"]["post"]
    assert issue_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("TokenIssueRequest")
    assert schemas["TokenIssueRequest"]["additionalProperties"] is False
    assert set(issue_op["responses"]) >= {"201", "401", "403", "413", "422"}
    assert document["paths"]["/healthz"]["get"]["security"] == []


async def test_responses_validate_against_their_models(gateway: Gateway, client: ApiClient) -> None:
    admin = await issue(gateway, "admin")
    StatusResponse.model_validate((await client.request("GET", "/api/v1/status", token=admin)).json())
    TokenList.model_validate((await client.request("GET", "/api/v1/tokens", token=admin)).json())
    reply = await client.request("POST", "/api/v1/tokens", token=admin, json={"sub": "x", "role": "viewer"})
    TokenIssued.model_validate(reply.json())
