"""The services' routes, published by the gateway: an explicit table, one documented operation
per route, each with the roles allowed to call it.

For every call the gateway authenticates the caller, applies the organisation's rate limit,
checks the role (and, for warehouse staff, the warehouse in the path), honours Idempotency-Key
on creating requests, then calls the service with a freshly signed X-Kitflow-Identity naming the
caller's organisation, roles and warehouses. The service checks them again and decides what the
organisation may see: another organisation's object is "not found" there, and the gateway passes
that answer on unchanged. Paths are the services' own, so nothing is rewritten.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request, Response
from kitflow_shared.logging import correlation_id_var
from kitflow_shared.web.identity import IDENTITY_HEADER, Caller, Role
from kitflow_shared.web.problems import PROBLEM_JSON

from kitflow_gateway.api.deps import Gateway, authenticated, gateway_of
from kitflow_gateway.api.errors import Refused
from kitflow_gateway.domain.idempotency import (
    MAX_KEY_LENGTH,
    MIN_KEY_LENGTH,
    StoredResponse,
    fingerprint,
    key_problem,
    worth_remembering,
)
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.handlers.idempotency import InProgress, Mismatch, Replay
from kitflow_gateway.handlers.ports import UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
PASSED_BACK = ("content-type", "location", "content-disposition", "retry-after")
PATH_PARAM = re.compile(r"{(\w+)}")

ALL = frozenset(Role)
ADMIN = frozenset({Role.ADMIN})
COORDINATION = frozenset({Role.COORDINATOR, Role.ADMIN})
STOCK_READERS = frozenset({Role.WAREHOUSE, Role.COORDINATOR, Role.ADMIN})
STOCK_OPERATORS = frozenset({Role.WAREHOUSE, Role.ADMIN})
NEEDS_READERS = frozenset({Role.PARTNER, Role.COORDINATOR, Role.ADMIN})
NEEDS_REPORTERS = frozenset({Role.PARTNER, Role.COORDINATOR})
COORDINATORS = frozenset({Role.COORDINATOR})
PLAN_READERS = frozenset({Role.PARTNER, Role.COORDINATOR, Role.ADMIN})


class Body(StrEnum):
    NONE = "none"
    JSON = "json"
    FILE = "file"


class Answer(StrEnum):
    """What a successful response carries, for the OpenAPI document."""

    OBJECT = "object"
    LIST = "list"
    EMPTY = "empty"
    CSV = "csv"
    XLSX = "xlsx"


@dataclass(frozen=True)
class QueryParam:
    name: str
    annotation: Any
    description: str = ""


def _q(name: str, annotation: Any, description: str = "") -> QueryParam:
    return QueryParam(name, annotation, description)


PAGE = (_q("limit", int, "Page size"), _q("offset", int, "Items to skip"))


@dataclass(frozen=True)
class ProxyRoute:
    method: str
    path: str
    service: str
    roles: frozenset[Role]
    summary: str
    tag: str
    status: int = 200
    body: Body = Body.NONE
    answer: Answer = Answer.OBJECT
    # Accepts Idempotency-Key: a retry returns the first answer.
    creates: bool = False
    query: tuple[QueryParam, ...] = ()
    example: dict[str, Any] | None = field(default=None, compare=False)

    @property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def scoped_to_warehouse(self) -> bool:
        """A route acting on one warehouse's stock: staff may only reach their own."""
        return self.path.startswith("/v1/warehouses/{code}/")


R = ProxyRoute
WH = "/v1/warehouses/{code}"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

RECEIPT_EXAMPLE = {
    "grn_number": "GRN-MOP-2026-0141",
    "source": "ECHO",
    "lines": [{"item_code": "TARPAULIN-4X6", "quantity": 400, "lot": "T-2026-11"}],
}
NEED_EXAMPLE = {
    "location": {"admin1_pcode": "ML05", "admin2_pcode": "ML0501", "site_name": "Sévaré 2"},
    "population": {"households": 120, "individuals": 640},
    "displacement_status": "idp",
    "assessment": {"date": "2026-03-01", "source": "dtm-round", "reference": "R12"},
    "severity": 4,
    "items": [{"item_code": "BLANKET", "quantity": 240}],
}

# Specific paths come before the parameterised ones they would otherwise match
# (/v1/needs/export.csv before /v1/needs/{need_id}).
ROUTES: tuple[ProxyRoute, ...] = (
    # ---- stock: warehouses and the catalogue -------------------------------------------------
    R("GET", "/v1/warehouses", "stock", ALL, "List warehouses.", "warehouses",
      query=(_q("organisation", str), _q("admin1_pcode", str), *PAGE)),
    R("POST", "/v1/warehouses", "stock", COORDINATION, "Register a warehouse.", "warehouses",
      status=201, body=Body.JSON, creates=True,
      example={"code": "MOP-SUB", "name": "IOM Mopti sub-office warehouse", "organisation": "IOM",
               "type": "sub-office", "admin1_pcode": "ML05", "admin2_pcode": "ML0501"}),
    R("GET", "/v1/warehouses/{code}", "stock", ALL, "One warehouse.", "warehouses"),
    R("PATCH", "/v1/warehouses/{code}", "stock", COORDINATION, "Change a warehouse.",
      "warehouses", body=Body.JSON, example={"capacity_m3": 900}),
    R("GET", "/v1/items", "stock", ALL, "List catalogue items and kits.", "catalogue",
      query=(_q("category", str), _q("is_kit", bool), _q("q", str, "Text in code or name"),
             _q("component", str, "Kits containing this item"), *PAGE)),
    R("POST", "/v1/items", "stock", ADMIN, "Add an item or kit to the catalogue.", "catalogue",
      status=201, body=Body.JSON, creates=True,
      example={"code": "BLANKET", "name_en": "Blanket", "name_fr": "Couverture",
               "category": "nfi", "unit": "piece"}),
    R("GET", "/v1/items/{code}", "stock", ALL, "One catalogue item or kit.", "catalogue"),
    R("PATCH", "/v1/items/{code}", "stock", ADMIN, "Change a catalogue item or kit.",
      "catalogue", body=Body.JSON, example={"pack_size": 10}),
    # ---- stock: balances, movements, counts, reservations ------------------------------------
    R("GET", f"{WH}/stock", "stock", STOCK_READERS, "Balances per item with their lots.",
      "stock"),
    R("GET", f"{WH}/stock/{{item_code}}/card", "stock", STOCK_READERS,
      "The stock card of an item, with the running balance.", "stock", query=PAGE),
    R("PUT", f"{WH}/stock/{{item_code}}/minimum", "stock", STOCK_OPERATORS,
      "Set the low-stock threshold of an item.", "stock", status=204, body=Body.JSON,
      answer=Answer.EMPTY, example={"minimum": 50}),
    R("POST", f"{WH}/receipts", "stock", STOCK_OPERATORS, "Record goods received (GRN).",
      "stock", status=201, body=Body.JSON, creates=True, example=RECEIPT_EXAMPLE),
    R("POST", f"{WH}/dispatches", "stock", STOCK_OPERATORS, "Record goods dispatched (waybill).",
      "stock", status=201, body=Body.JSON, creates=True,
      example={"waybill_number": "WB-1", "destination": "Site Sévaré 2 (ML0501)",
               "lines": [{"item_code": "TARPAULIN-4X6", "quantity": 40}]}),
    R("POST", f"{WH}/adjustments", "stock", STOCK_OPERATORS,
      "Record a loss, damage, expiry, find or count correction.", "stock", status=201,
      body=Body.JSON, creates=True,
      example={"item_code": "SOAP-BAR-250G", "quantity": -12, "reason": "damaged"}),
    R("POST", f"{WH}/transfers", "stock", STOCK_OPERATORS,
      "Send stock to another warehouse.", "stock", status=201, body=Body.JSON, creates=True,
      example={"to_warehouse": "GAO-SUB", "waybill_number": "WB-TR-9",
               "lines": [{"item_code": "TARPAULIN-4X6", "quantity": 100}]}),
    R("POST", f"{WH}/transfers/{{transfer_id}}/receipt", "stock", STOCK_OPERATORS,
      "Receive a transfer.", "stock", status=201, body=Body.JSON, creates=True),
    R("POST", f"{WH}/kitting", "stock", STOCK_OPERATORS,
      "Assemble kits from components, or break them.", "stock", status=201, body=Body.JSON,
      creates=True, example={"kit_code": "KIT-SHELTER", "count": 10, "action": "assemble"}),
    R("POST", f"{WH}/movements/{{movement_id}}/reversal", "stock", STOCK_OPERATORS,
      "Undo a movement by a compensating one.", "stock", status=201, body=Body.JSON,
      creates=True, example={"note": "entered twice"}),
    R("POST", f"{WH}/counts", "stock", STOCK_OPERATORS, "Start a physical count (draft).",
      "stock", status=201, body=Body.JSON, creates=True,
      example={"lines": [{"item_code": "TARPAULIN-4X6", "counted": 396}]}),
    R("GET", f"{WH}/counts/{{count_id}}", "stock", STOCK_READERS, "A count.", "stock"),
    R("PUT", f"{WH}/counts/{{count_id}}", "stock", STOCK_OPERATORS,
      "Replace a draft count's lines.", "stock", body=Body.JSON),
    R("POST", f"{WH}/counts/{{count_id}}/submit", "stock", STOCK_OPERATORS,
      "Submit a count; differences become adjustments.", "stock"),
    R("GET", f"{WH}/reservations", "stock", STOCK_READERS, "Reservations held for plan lines.",
      "stock", query=(_q("status", str), _q("plan_id", str)), answer=Answer.LIST),
    R("POST", f"{WH}/reservations", "stock", COORDINATION, "Reserve stock for a plan line.",
      "stock", status=201, body=Body.JSON, creates=True),
    R("DELETE", f"{WH}/reservations/{{line_id}}", "stock", COORDINATION,
      "Release a reservation.", "stock", status=204, answer=Answer.EMPTY),
    R("POST", f"{WH}/reservations/{{line_id}}/dispatch", "stock", STOCK_OPERATORS,
      "Issue reserved stock.", "stock", status=201, body=Body.JSON, creates=True),
    # ---- needs -------------------------------------------------------------------------------
    R("POST", "/v1/needs/imports", "needs", NEEDS_REPORTERS,
      "Import needs from an HXL-tagged CSV or XLSX file.", "needs", body=Body.FILE, creates=True,
      query=(_q("submit", bool), _q("profile", str), _q("duration_days", int))),
    R("GET", "/v1/needs/export.csv", "needs", NEEDS_READERS, "Needs as HXL-tagged CSV.", "needs",
      answer=Answer.CSV,
      query=(_q("status", list[str] | None), _q("admin1_pcode", str), _q("admin2_pcode", str),
             _q("min_severity", int))),
    R("POST", "/v1/needs", "needs", NEEDS_REPORTERS, "Report a need of your organisation.",
      "needs", status=201, body=Body.JSON, creates=True, example=NEED_EXAMPLE),
    R("GET", "/v1/needs", "needs", NEEDS_READERS,
      "List needs (a partner sees its organisation's only).", "needs",
      query=(_q("status", list[str] | None), _q("admin1_pcode", str), _q("admin2_pcode", str),
             _q("min_severity", int), _q("duplicates", bool), *PAGE)),
    R("GET", "/v1/needs/{need_id}", "needs", NEEDS_READERS, "One need.", "needs"),
    R("PUT", "/v1/needs/{need_id}", "needs", NEEDS_REPORTERS, "Replace a need's details.",
      "needs", body=Body.JSON, example=NEED_EXAMPLE),
    R("POST", "/v1/needs/{need_id}/submit", "needs", NEEDS_REPORTERS,
      "Submit a draft need.", "needs"),
    R("POST", "/v1/needs/{need_id}/cancel", "needs", NEEDS_REPORTERS,
      "Cancel a need, with the reason.", "needs", body=Body.JSON,
      example={"reason": "households moved on to Gao"}),
    R("POST", "/v1/needs/{need_id}/validate", "needs", COORDINATORS,
      "Validate a submitted need.", "needs"),
    R("POST", "/v1/needs/{need_id}/reject", "needs", COORDINATORS,
      "Reject a submitted need, with the reason.", "needs", body=Body.JSON,
      example={"reason": "the site P-code is outside the partner's area"}),
    R("POST", "/v1/needs/{need_id}/duplicates/{other_id}/keep", "needs", COORDINATORS,
      "Keep both of two possible duplicates.", "needs"),
    R("POST", "/v1/needs/{need_id}/duplicates/{other_id}/merge", "needs", COORDINATORS,
      "Merge a need into its duplicate.", "needs"),
    R("GET", "/v1/norms-profiles", "needs", ALL, "Every norms profile.", "norms",
      answer=Answer.LIST),
    R("POST", "/v1/norms-profiles", "needs", ADMIN, "Add a norms profile.", "norms", status=201,
      body=Body.JSON, creates=True),
    R("GET", "/v1/norms-profiles/{profile_id}", "needs", ALL, "One norms profile.", "norms"),
    R("PUT", "/v1/norms-profiles/{profile_id}", "needs", ADMIN, "Change a norms profile.",
      "norms", body=Body.JSON),
    R("POST", "/v1/norms-profiles/{profile_id}/calculate", "needs", ALL,
      "Preview the quantities a population would get.", "norms", body=Body.JSON,
      example={"population": {"households": 100, "individuals": 540}}),
    R("GET", "/v1/reference/gazetteer", "needs", ALL, "The P-codes needs are checked against.",
      "reference"),
    R("GET", "/v1/reference/items", "needs", ALL, "The item codes a need may ask for.",
      "reference", answer=Answer.LIST),
    # ---- distribution ------------------------------------------------------------------------
    R("GET", "/v1/views/warehouses", "distribution", COORDINATION,
      "Warehouses as the planner sees them.", "planning", answer=Answer.LIST),
    R("GET", "/v1/views/stock", "distribution", COORDINATION,
      "Stock per warehouse and item as the planner sees it.", "planning", answer=Answer.LIST),
    R("GET", "/v1/views/needs", "distribution", COORDINATION,
      "Needs as the planner sees them.", "planning", answer=Answer.LIST),
    R("POST", "/v1/plans", "distribution", COORDINATION,
      "Draft a plan with the planner's optimal, fair allocation.", "planning", status=201,
      body=Body.JSON, creates=True, example={"title": "Mopti emergency shelter, round 1"}),
    R("GET", "/v1/plans", "distribution", COORDINATION, "List plans, newest first.", "planning",
      query=(_q("status", str), _q("need_id", str), *PAGE)),
    R("GET", "/v1/plans/{plan_id}", "distribution", PLAN_READERS,
      "One plan with the planner's explanation (partners: their lines only).", "planning"),
    R("POST", "/v1/plans/{plan_id}/approve", "distribution", COORDINATION,
      "Approve a draft plan: stock reserves every line.", "planning", body=Body.JSON,
      example={"all_or_nothing": False}),
    R("POST", "/v1/plans/{plan_id}/cancel", "distribution", COORDINATION, "Cancel a plan.",
      "planning", body=Body.JSON, example={"reason": "road to Ménaka closed"}),
    R("POST", "/v1/plans/{plan_id}/dispatch", "distribution", COORDINATION,
      "Order the reserved lines out under one waybill.", "planning", body=Body.JSON,
      example={"waybill_number": "WB-PLN-7", "destination": "Site Sévaré 2 (ML0501)"}),
    R("POST", "/v1/plans/{plan_id}/deliveries", "distribution", PLAN_READERS,
      "Confirm what reached households.", "planning", body=Body.JSON,
      example={"deliveries": [{"line_id": "PLN-7-L1", "quantity": 120, "households": 60,
                               "individuals": 320}]}),
    R("POST", "/v1/plans/{plan_id}/close", "distribution", COORDINATION,
      "Close a dispatched or delivered plan (or, with a reason, one still dispatching).",
      "planning", body=Body.JSON, example={"reason": "trucks turned back at Ansongo"}),
    R("GET", "/v1/reports/5w.csv", "distribution", PLAN_READERS,
      "The 5W report as HXL-tagged CSV.", "reports", answer=Answer.CSV),
    R("GET", "/v1/reports/5w.xlsx", "distribution", PLAN_READERS,
      "The 5W report as an XLSX workbook.", "reports", answer=Answer.XLSX),
)  # fmt: skip


# ---- forwarding ---------------------------------------------------------------------------------


def _caller(principal: Principal) -> Caller:
    return Caller(
        user=principal.user_id,
        organisation=principal.organisation,
        roles=principal.roles,
        warehouses=principal.warehouses,
    )


def _content_type_problem(route: ProxyRoute, request: Request) -> Refused | None:
    if route.body is not Body.JSON:
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return Refused(
            415,
            "Unsupported media type",
            "send the body as application/json",
            slug="unsupported-media-type",
        )
    return None


async def _call_service(
    gateway: Gateway, route: ProxyRoute, request: Request, principal: Principal, body: bytes
) -> Response:
    headers = {
        IDENTITY_HEADER: gateway.identities.for_caller(_caller(principal)),
        "accept": request.headers.get("accept", "application/json"),
    }
    correlation_id = correlation_id_var.get()
    if correlation_id:
        headers["X-Correlation-Id"] = correlation_id
    if body or route.body is not Body.NONE:
        headers["content-type"] = request.headers.get("content-type", "application/json")
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key and route.creates:
        # The needs service deduplicates by key too: a second line of defence.
        headers[IDEMPOTENCY_HEADER] = key
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    target = raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    if query:
        target = f"{target}?{query}"
    try:
        upstream = await gateway.upstreams[route.service].request(
            route.method, target, body=body, headers=headers
        )
    except UpstreamTimeout:
        raise Refused(
            504,
            "Service timed out",
            f"The {route.service} service did not answer in time; the request may or may not "
            "have been applied. Retry with the same Idempotency-Key to be safe.",
            slug="upstream-timeout",
        ) from None
    except UpstreamUnavailable as exc:
        log.warning(
            "%s service unreachable for %s %s: %s", route.service, route.method, target, exc
        )
        raise Refused(
            503,
            "Service unavailable",
            f"The {route.service} service cannot be reached; retry later.",
            slug="upstream-unavailable",
            headers={"Retry-After": "5"},
        ) from None
    response = Response(upstream.body, status_code=upstream.status)
    for name, value in upstream.headers:
        if name.lower() in PASSED_BACK:
            response.raw_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
    return response


def _replayed(stored: StoredResponse) -> Response:
    headers = {REPLAYED_HEADER: "true"}
    if stored.content_type:
        headers["content-type"] = stored.content_type
    if stored.location:
        headers["location"] = stored.location
    return Response(stored.body, status_code=stored.status, headers=headers)


async def forward(
    gateway: Gateway, route: ProxyRoute, request: Request, principal: Principal
) -> Response:
    refused = _content_type_problem(route, request)
    if refused is not None:
        raise refused
    body = await request.body() if route.body is not Body.NONE else b""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if not (key and route.creates):
        return await _call_service(gateway, route, request, principal, body)
    problem = key_problem(key)
    if problem is not None:
        raise Refused(
            422,
            "Invalid request",
            f"header.{IDEMPOTENCY_HEADER}: {problem}",
            slug="validation",
            errors=[{"field": f"header.{IDEMPOTENCY_HEADER}", "reason": problem, "type": "value"}],
        )

    organisation = principal.organisation
    print_ = fingerprint(
        route.method, request.url.path, request.scope.get("query_string", b"").decode(), body
    )
    decision = await gateway.idempotency.begin(organisation, key, print_)
    if isinstance(decision, Replay):
        return _replayed(decision.response)
    if isinstance(decision, InProgress):
        raise Refused(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            slug="idempotency-in-progress",
            headers={"Retry-After": str(decision.retry_after_s)},
        )
    if isinstance(decision, Mismatch):
        raise Refused(
            422,
            "Idempotency-Key reused",
            "This Idempotency-Key was used for a different request; use a new key.",
            slug="idempotency-key-reused",
            errors=[
                {
                    "field": f"header.{IDEMPOTENCY_HEADER}",
                    "reason": "already used with a different request",
                    "type": "idempotency",
                }
            ],
        )
    remembered = False
    try:
        response = await _call_service(gateway, route, request, principal, body)
        if worth_remembering(response.status_code):
            await gateway.idempotency.complete(
                organisation,
                key,
                StoredResponse(
                    status=response.status_code,
                    body=bytes(response.body),
                    content_type=response.headers.get("content-type"),
                    location=response.headers.get("location"),
                ),
            )
            remembered = True
        return response
    finally:
        if not remembered:
            # Let the client's retry really try again.
            await gateway.idempotency.release(organisation, key)


# ---- publishing the table as routes ---------------------------------------------------------


def _authorised(route: ProxyRoute) -> Callable[..., Awaitable[Principal]]:
    async def check(
        principal: Annotated[Principal, Depends(authenticated)], request: Request
    ) -> Principal:
        if not principal.has_any(route.roles):
            allowed = ", ".join(sorted(route.roles))
            raise Refused(
                403, "Forbidden", f"This needs one of the roles: {allowed}.", slug="forbidden"
            )
        code = request.path_params.get("code")
        if route.scoped_to_warehouse and code and not principal.may_operate_warehouse(code):
            # The same answer the service gives: a warehouse one may not see is not found.
            raise Refused(404, "Not found", f"no warehouse {code}", slug="unknown-warehouse")
        return principal

    return check


PROBLEM_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}}


def _success(route: ProxyRoute) -> dict[str, Any]:
    if route.answer is Answer.EMPTY:
        return {"description": "Done"}
    if route.answer is Answer.CSV:
        return {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}}
    if route.answer is Answer.XLSX:
        schema = {"type": "string", "format": "binary"}
        return {"description": "XLSX workbook", "content": {XLSX: {"schema": schema}}}
    schema = {"type": "array"} if route.answer is Answer.LIST else {"type": "object"}
    return {
        "description": "The service's answer",
        "content": {"application/json": {"schema": schema}},
    }


def _openapi_extra(route: ProxyRoute) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if route.body is Body.JSON:
        media: dict[str, Any] = {"schema": {"type": "object"}}
        if route.example is not None:
            media["example"] = route.example
        extra["requestBody"] = {"required": True, "content": {"application/json": media}}
    elif route.body is Body.FILE:
        extra["requestBody"] = {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    return extra


def _responses(route: ProxyRoute) -> dict[int | str, dict[str, Any]]:
    responses: dict[int | str, dict[str, Any]] = {
        route.status: _success(route),
        401: _problem("No valid credential"),
        403: _problem("The caller's role may not do this"),
        422: _problem("Invalid request, naming each field"),
        429: _problem("The organisation's rate limit is reached; see Retry-After"),
        503: _problem("The service cannot be reached"),
    }
    if route.path_params:
        responses[404] = _problem("Not found, or another organisation's")
    if route.method != "GET":
        responses[409] = _problem("Conflicts with the current state")
    if route.body is not Body.NONE:
        responses[413] = _problem("The body is too large")
    if route.creates:
        responses[200] = _success(route)
    return responses


def _endpoint(route: ProxyRoute) -> Callable[..., Awaitable[Response]]:
    async def endpoint(
        request: Request, gateway: Gateway, principal: Principal, **_declared: Any
    ) -> Response:
        # Path and query parameters are declared for validation and the documentation; the
        # request is forwarded as it came (repeated query parameters included).
        return await forward(gateway, route, request, principal)

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request),
        inspect.Parameter(
            "gateway",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Gateway, Depends(gateway_of)],
        ),
        inspect.Parameter(
            "principal",
            inspect.Parameter.KEYWORD_ONLY,
            annotation=Annotated[Principal, Depends(_authorised(route))],
        ),
    ]
    for name in route.path_params:
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[str, Path(min_length=1, max_length=80)],
            )
        )
    for param in route.query:
        parameters.append(
            inspect.Parameter(
                param.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    param.annotation | None, Query(description=param.description or None)
                ],
                default=None,
            )
        )
    if route.creates:
        parameters.append(
            inspect.Parameter(
                "idempotency_key",
                inspect.Parameter.KEYWORD_ONLY,
                annotation=Annotated[
                    str | None,
                    Header(
                        alias=IDEMPOTENCY_HEADER,
                        min_length=MIN_KEY_LENGTH,
                        max_length=MAX_KEY_LENGTH,
                        description="Repeat the request with the same key to get the first "
                        "answer back instead of a second object (kept 24 h).",
                    ),
                ],
                default=None,
            )
        )
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=Response)  # type: ignore[attr-defined]
    endpoint.__name__ = f"{route.method.lower()}_{route.path}"
    return endpoint


def _description(route: ProxyRoute) -> str:
    roles = ", ".join(sorted(route.roles))
    lines = [route.summary, "", f"Roles: {roles}. Served by the {route.service} service."]
    if route.creates:
        lines.append(
            "Accepts Idempotency-Key: a retry with the same key and body returns the "
            "first answer (with Idempotent-Replayed: true)."
        )
    return "\n".join(lines)


def install_proxy_routes(app: FastAPI) -> None:
    for route in ROUTES:
        app.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            status_code=route.status,
            tags=[route.tag],
            summary=route.summary.rstrip("."),
            description=_description(route),
            responses=_responses(route),
            openapi_extra=_openapi_extra(route),
            response_class=Response,
            operation_id=f"{route.method.lower()}{re.sub(r'[^a-zA-Z0-9]+', '_', route.path)}",
        )
