"""The gateway's OpenAPI document: its own routes as FastAPI describes them, and every proxied
route with the service's own request and response schemas and parameter constraints (ADR 0016).

The gateway may not import the services, so it reads committed snapshots of their OpenAPI
documents (`service_openapi/<service>.json`, written by `make snapshots`). Each proxied operation
takes from its service the parameters, the request body and the success answers; the gateway
adds what it does itself: the roles, Idempotency-Key on state-changing routes, and the
problem+json answers (400, 401, 403, 404, 409, 413, 415, 422, 429, 503, 504) the route can give.
A service's schema `X` is published as `<service>.X`, since two services may name different
schemas alike. A contract test holds this document to the services' apps.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from kitflow_shared.request_keys import MAX_KEY_LENGTH, MIN_KEY_LENGTH
from kitflow_shared.web.problems import PROBLEM_JSON
from starlette.routing import BaseRoute

from kitflow_gateway.api.deps import API_KEY_HEADER, roles_required
from kitflow_gateway.api.proxy import ALL, ROUTES, Body, ProxyRoute, describe

Document = dict[str, Any]

SNAPSHOTS = Path(__file__).resolve().parent.parent / "service_openapi"
REF_PREFIX = "#/components/schemas/"
PROBLEM = "Problem"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IDEMPOTENCY_HEADER = "Idempotency-Key"
# The security schemes FastAPI names after the gateway's own credential dependencies.
SECURITY: list[dict[str, list[str]]] = [{"APIKeyHeader": []}, {"OAuth2PasswordBearer": []}]

PROBLEM_SCHEMA: Document = {
    "title": "Problem",
    "description": "An RFC 9457 problem document: every 4xx and 5xx answer.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "/problems/<slug> or about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "correlation_id": {"type": "string", "description": "To quote to an operator"},
        "errors": {
            "type": "array",
            "description": "One entry per offending field: where (body.lines.0.quantity) and why",
            "items": {
                "type": "object",
                "required": ["field", "reason"],
                "properties": {
                    "field": {"type": "string"},
                    "reason": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
    # Extension members (retry_after_s, error, checks, ...).
    "additionalProperties": True,
}

PROBLEM_DESCRIPTIONS = {
    500: "An unexpected error; quote the correlation id to an operator",
    400: "The body is not well-formed (for instance not UTF-8)",
    401: "No valid credential",
    403: "The caller's role may not do this",
    404: "Not found, or another organisation's",
    409: "Conflicts with the current state, or a request with this Idempotency-Key is in flight",
    413: "The body is too large",
    415: "The body is not of a type this route reads",
    422: "Invalid request, naming each field and why",
    429: "The organisation's rate limit is reached; see Retry-After",
    503: "The service cannot be reached (or, for /readyz, a dependency is not ready)",
    504: "The service did not answer in time; retry with the same Idempotency-Key",
}


@cache
def service_document(service: str) -> Document:
    document: Document = json.loads((SNAPSHOTS / f"{service}.json").read_text())
    return document


def service_operation(service: str, method: str, path: str) -> Document:
    operation: Document = service_document(service)["paths"][path][method.lower()]
    return operation


def published_name(service: str, schema: str) -> str:
    return f"{service}.{schema}"


def _renamed(value: Any, service: str) -> Any:
    """`value` with every reference to the service's schemas pointing at the published names."""
    if isinstance(value, dict):
        return {
            key: (
                REF_PREFIX + published_name(service, item.removeprefix(REF_PREFIX))
                if key == "$ref" and isinstance(item, str) and item.startswith(REF_PREFIX)
                else _renamed(item, service)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_renamed(item, service) for item in value]
    return value


def references(value: Any) -> Iterator[str]:
    """The component names `value` refers to, directly."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str) and item.startswith(REF_PREFIX):
                yield item.removeprefix(REF_PREFIX)
            else:
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def _used_schemas(service: str, roots: Iterable[Any]) -> dict[str, Document]:
    """The service's schemas reachable from `roots` (service names), transitively."""
    schemas: dict[str, Document] = service_document(service)["components"]["schemas"]
    wanted = [name for root in roots for name in references(root)]
    found: dict[str, Document] = {}
    while wanted:
        name = wanted.pop()
        if name not in found:
            found[name] = schemas[name]
            wanted.extend(references(schemas[name]))
    return found


def problem(status: int) -> Document:
    return {
        "description": PROBLEM_DESCRIPTIONS[status],
        "content": {PROBLEM_JSON: {"schema": {"$ref": REF_PREFIX + PROBLEM}}},
    }


def proxied_problem_statuses(route: ProxyRoute) -> list[int]:
    """What a proxied route can answer besides success, from the gateway and the service."""
    statuses = {401, 422, 429, 503, 504}
    if route.roles != ALL:
        statuses.add(403)
    if route.path_params:
        statuses.add(404)
    if route.changes_state:
        # Any mutating request may carry a body too large (the limit is the gateway's), may
        # conflict with the state, or meet its Idempotency-Key still in flight.
        statuses |= {409, 413}
    if route.body is Body.JSON:
        statuses |= {400, 415}
    if route.body is Body.FILE:
        statuses.add(415)
    return sorted(statuses)


def _with_media_schemas(content: Document) -> Document:
    """Media types the services declare without a schema (CSV, XLSX) get one."""
    for media_type, media in content.items():
        if "schema" not in media:
            media["schema"] = (
                {"type": "string", "format": "binary"} if media_type == XLSX else {"type": "string"}
            )
    return content


def proxied_operation(route: ProxyRoute, description: str) -> Document:
    """The published operation of a proxied route, from its service's own."""
    source: Document = _renamed(
        copy.deepcopy(service_operation(route.service, route.method, route.path)), route.service
    )
    parameters = [p for p in source.get("parameters", []) if p["in"] in ("path", "query")]
    if route.changes_state:
        parameters.append(idempotency_parameter())
    responses: Document = {}
    for status, answer in source["responses"].items():
        if status.startswith("2"):
            if "content" in answer:
                _with_media_schemas(answer["content"])
            responses[status] = answer
    if route.changes_state and "201" in responses and "200" not in responses:
        # A service answers a repeat of a creation with the object it made the first time.
        responses["200"] = {**responses["201"], "description": "Answered before, replayed"}
    for status in proxied_problem_statuses(route):
        responses[str(status)] = problem(status)
    operation: Document = {
        "tags": [route.tag],
        "summary": route.summary.rstrip("."),
        "description": description,
        "operationId": f"{route.method.lower()}{re.sub(r'[^a-zA-Z0-9]+', '_', route.path)}",
        "parameters": parameters,
        "responses": responses,
        "security": SECURITY,
    }
    if "requestBody" in source:
        body = source["requestBody"]
        _with_media_schemas(body["content"])
        operation["requestBody"] = body
    return operation


def idempotency_parameter() -> Document:
    return {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": False,
        "description": "Repeat the request with the same key to get the first answer back "
        "instead of a second effect (ADR 0011): the service remembers the key with the effect.",
        "schema": {
            "type": "string",
            "minLength": MIN_KEY_LENGTH,
            "maxLength": MAX_KEY_LENGTH,
            "pattern": "^[ -~]+$",
        },
    }


def _own_problem_statuses(route: APIRoute, method: str) -> list[int]:
    """What one of the gateway's own routes can answer besides success."""
    if not route.path.startswith("/v1/"):
        # /healthz answers or not at all; /readyz says what is not ready.
        return [503] if route.path == "/readyz" else []
    statuses = {422}
    roles = roles_required(route.dependant)
    if roles is not None:
        statuses |= {401, 429}
        if roles:
            statuses.add(403)
    if "{" in route.path:
        statuses.add(404)
    if method != "GET" and roles is not None:
        # A change may name another object (a user for a key: 404), meet a rule on the caller
        # (a key cannot mint keys: 403), conflict, or carry too large a body.
        statuses |= {403, 404, 409, 413}
    return sorted(statuses)


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, those of included routers too (FastAPI keeps an included router whole)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def _own_operations(document: Document, app: FastAPI) -> None:
    """The gateway's own routes answer problem+json for every 4xx, not FastAPI's default."""
    for route in _api_routes(app.routes):
        if not route.include_in_schema:
            continue
        for method in route.methods or ():
            operation = document["paths"].get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation["responses"]
            declared = [int(s) for s in responses if s.startswith(("4", "5"))]
            for status in sorted({*declared, *_own_problem_statuses(route, method)}):
                responses[str(status)] = {
                    **problem(status),
                    "description": responses.get(str(status), {}).get("description")
                    or PROBLEM_DESCRIPTIONS[status],
                }
            if method != "GET" and route.path.startswith("/v1/") and "auth" not in route.path:
                operation.setdefault("parameters", []).append(idempotency_parameter())


def build_document(app: FastAPI, routes: Iterable[ProxyRoute], describe: Any) -> Document:
    """The whole document: FastAPI's for the gateway's own routes, then the proxied ones."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    _own_operations(document, app)
    schemas: Document = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[PROBLEM] = PROBLEM_SCHEMA
    by_service: dict[str, list[Any]] = {}
    for route in routes:
        document["paths"].setdefault(route.path, {})[route.method.lower()] = proxied_operation(
            route, describe(route)
        )
        by_service.setdefault(route.service, []).append(
            service_operation(route.service, route.method, route.path)
        )
    for service, operations in by_service.items():
        roots = [
            {"p": op.get("parameters", []), "b": op.get("requestBody", {}), "r": _successes(op)}
            for op in operations
        ]
        for name, schema in _used_schemas(service, roots).items():
            schemas[published_name(service, name)] = _renamed(schema, service)
    return document


def _successes(operation: Document) -> Document:
    return {s: a for s, a in operation["responses"].items() if s.startswith("2")}


def install_openapi(
    app: FastAPI, routes: Iterable[ProxyRoute] = ROUTES, describe: Any = describe
) -> None:
    """The gateway's document: its own routes, and the proxied ones as the services describe
    them (call it after `install_proxy_routes`)."""
    routes = tuple(routes)

    def openapi() -> Document:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, routes, describe)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


__all__ = ["API_KEY_HEADER", "SNAPSHOTS", "build_document", "install_openapi"]
