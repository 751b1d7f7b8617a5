"""The gateway's OpenAPI document is held to the services' own (ADR 0016).

- The committed snapshots of the services' documents are what the services' apps say now
  (`make snapshots` rewrites them).
- Every proxied route is an operation of its service, and every public operation of a service
  is proxied, with the body kind the service reads.
- For every proxied operation, the gateway publishes the service's request body, success
  answers, and path and query parameters: equal once every reference is resolved.
- Every 4xx and 5xx answer the gateway documents is problem+json, and each operation documents
  the refusals it can give.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from kitflow_gateway.api.openapi import REF_PREFIX
from kitflow_gateway.api.proxy import ALL, ROUTES, Body, ProxyRoute
from kitflow_gateway.bootstrap import create_app as create_gateway
from kitflow_shared.web.problems import PROBLEM_JSON

from tests.contract.service_openapi import current_snapshots, path_of, render

Doc = dict[str, Any]


async def _gateway_document() -> Doc:
    document: Doc = create_gateway().openapi()
    return document


@pytest.fixture(scope="module")
def services() -> dict[str, Doc]:
    return current_snapshots()


@pytest.fixture(scope="module")
def gateway(monkeypatch_module: pytest.MonkeyPatch) -> Doc:
    return asyncio.run(_gateway_document())


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KITFLOW_ENV", "test")
        yield mp


def resolved(value: Any, schemas: Doc, seen: tuple[str, ...] = ()) -> Any:
    """`value` with every schema reference replaced by the schema itself."""
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith(REF_PREFIX):
            name = ref.removeprefix(REF_PREFIX)
            assert name not in seen, f"recursive schema {name}"
            rest = {k: v for k, v in value.items() if k != "$ref"}
            return {**resolved(schemas[name], schemas, (*seen, name)), **resolved(rest, schemas)}
        return {k: resolved(v, schemas, seen) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(item, schemas, seen) for item in value]
    return value


def _operation(document: Doc, route: ProxyRoute) -> Doc:
    operation: Doc = document["paths"][route.path][route.method.lower()]
    return operation


def _parameters(operation: Doc, schemas: Doc) -> dict[tuple[str, str], Any]:
    return {
        (p["in"], p["name"]): resolved(
            {"required": p.get("required"), "schema": p["schema"]}, schemas
        )
        for p in operation.get("parameters", [])
        if p["in"] in ("path", "query")
    }


def _successes(operation: Doc, schemas: Doc) -> dict[str, Any]:
    return {
        status: {
            media: resolved(content.get("schema"), schemas)
            for media, content in answer.get("content", {}).items()
        }
        for status, answer in operation["responses"].items()
        if status.startswith("2")
    }


def _body(operation: Doc, schemas: Doc) -> dict[str, Any] | None:
    body = operation.get("requestBody")
    if body is None:
        return None
    return {
        media: resolved(content.get("schema"), schemas)
        for media, content in body["content"].items()
    }


def test_the_committed_snapshots_are_what_the_services_say_now(services: dict[str, Doc]) -> None:
    stale = [
        service
        for service, document in services.items()
        if not path_of(service).exists() or path_of(service).read_text() != render(document)
    ]
    assert not stale, f"snapshots of {stale} are stale: run `make snapshots` and commit them"


def test_every_proxied_route_is_a_service_operation_and_every_one_is_proxied(
    services: dict[str, Doc],
) -> None:
    proxied = {(r.service, r.method.lower(), r.path) for r in ROUTES}
    offered = {
        (service, method, path)
        for service, document in services.items()
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert proxied - offered == set(), "proxied routes the services do not have"
    assert offered - proxied == set(), "service operations the gateway does not publish"


def test_each_route_reads_the_body_its_service_reads(services: dict[str, Doc]) -> None:
    wrong = []
    for route in ROUTES:
        body = services[route.service]["paths"][route.path][route.method.lower()].get("requestBody")
        media = set((body or {}).get("content", {}))
        expected = {
            Body.NONE: set(),
            Body.JSON: {"application/json"},
            Body.FILE: {
                "text/csv",
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            },
        }[route.body]
        if media != expected:
            wrong.append(f"{route.method} {route.path}: {route.body} but the service reads {media}")
    assert not wrong, wrong


def test_the_gateway_publishes_the_services_own_schemas(
    services: dict[str, Doc], gateway: Doc
) -> None:
    gateway_schemas = gateway["components"]["schemas"]
    differences = []
    for route in ROUTES:
        service_schemas = services[route.service]["components"]["schemas"]
        theirs = _operation(services[route.service], route)
        ours = _operation(gateway, route)
        for what, mine, source in (
            (
                "parameters",
                _parameters(ours, gateway_schemas),
                _parameters(theirs, service_schemas),
            ),
            ("request body", _body(ours, gateway_schemas), _body(theirs, service_schemas)),
        ):
            if mine != source:
                differences.append(f"{route.method} {route.path}: {what} differ")
        their_successes = _successes(theirs, service_schemas)
        our_successes = _successes(ours, gateway_schemas)
        for status, media in their_successes.items():
            published = our_successes.get(status, {})
            for media_type, schema in media.items():
                if schema is not None and published.get(media_type) != schema:
                    differences.append(f"{route.method} {route.path}: answer {status} differs")
    assert not differences, "\n".join(differences)


def test_schemas_are_complete_and_named_per_service(gateway: Doc) -> None:
    text = json.dumps(gateway)
    schemas = gateway["components"]["schemas"]
    missing = {
        ref.split('"')[0]
        for ref in text.split(f'"$ref": "{REF_PREFIX}')[1:]
        if ref.split('"')[0] not in schemas
    }
    assert not missing, f"references to undeclared schemas: {missing}"
    assert "HTTPValidationError" not in schemas  # the gateway answers problem+json instead
    assert {"stock.ItemPublic", "needs.ItemPublic"} <= set(schemas)


def test_every_refusal_is_problem_json_and_each_route_documents_its_refusals(
    gateway: Doc,
) -> None:
    wrong = []
    for path, operations in gateway["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status[0] in "45" and set(answer.get("content", {})) != {PROBLEM_JSON}:
                    wrong.append(f"{method.upper()} {path} {status}: not problem+json")
    for route in ROUTES:
        documented = set(_operation(gateway, route)["responses"])
        expected = {"401", "422", "429", "503", "504"}
        if route.roles != ALL:
            expected.add("403")
        if route.path_params:
            expected.add("404")
        if route.changes_state:
            expected |= {"409", "413"}
        if route.body is Body.JSON:
            expected |= {"400", "415"}
        if not expected <= documented:
            wrong.append(f"{route.method} {route.path}: {sorted(expected - documented)} missing")
        parameters = {p["name"] for p in _operation(gateway, route).get("parameters", [])}
        if route.changes_state != ("Idempotency-Key" in parameters):
            wrong.append(f"{route.method} {route.path}: Idempotency-Key documented wrongly")
    assert not wrong, "\n".join(wrong)
