"""The served OpenAPI document matches the routes the server has and the models it validates with."""

from __future__ import annotations

import json
import re

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


async def test_every_schema_is_the_one_of_the_model_the_route_uses(gateway: Gateway, client: ApiClient) -> None:
    """Bodies and responses in the document are the JSON schemas of the very models the handlers use."""
    document = (await client.request("GET", "/api/v1/openapi.json", token=await issue(gateway, "viewer"))).json()
    schemas = document["components"]["schemas"]
    assert gateway.http is not None
    checked = 0
    for route in gateway.http.runner.app[ROUTES].values():
        operation = document["paths"][route.path][route.method.lower()]
        if route.body is not None:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{route.body.__name__}"
            expected = route.body.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
            expected.pop("$defs", None)
            assert schemas[route.body.__name__] == expected, route.name
            checked += 1
        if route.response is not None:
            content = operation["responses"][str(route.status)]["content"][route.content_type]
            assert content["schema"]["$ref"] == f"#/components/schemas/{route.response.__name__}"
            expected = route.response.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
            expected.pop("$defs", None)
            assert schemas[route.response.__name__] == expected, route.name
            checked += 1
        if route.public:
            assert operation["security"] == []
        else:
            assert operation["x-required-permission"] == str(route.permission)
            assert {"401", "403", "429"} <= set(operation["responses"])
    assert checked >= 7
    # Every $ref in the document resolves.
    refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))
    assert refs and set(refs) <= set(schemas)
