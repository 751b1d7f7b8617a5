"""The services' routes, published by the gateway: an explicit table, one documented operation
per route, each with the roles allowed to call it.

For every call the gateway authenticates the caller, applies the organisation's rate limit,
checks the role (and, for warehouse staff, the warehouse in the path), claims and forwards the
Idempotency-Key of state-changing requests (ADR 0011), then calls the service with a freshly
signed X-Kitflow-Identity naming the caller's organisation, roles and warehouses. The service
checks them again and decides what the organisation may see: another organisation's object is
"not found" there, and the gateway passes that answer on unchanged. Paths are the services' own,
so nothing is rewritten.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from kitflow_shared.logging import correlation_id_var
from kitflow_shared.request_keys import fingerprint, key_problem
from kitflow_shared.web.identity import IDENTITY_HEADER, Caller, Role
from kitflow_shared.web.problems import Problem

from kitflow_gateway.api.deps import Gateway, authenticated, gateway_of, invalid_key
from kitflow_gateway.domain.idempotency import StoredResponse, worth_remembering
from kitflow_gateway.domain.identity import Principal
from kitflow_gateway.handlers.idempotency import InProgress, Mismatch, Replay
from kitflow_gateway.handlers.ports import UpstreamTimeout, UpstreamUnavailable

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
# The service's answer headers the caller sees (a replay says so: ADR 0011).
PASSED_BACK = (
    "content-type",
    "location",
    "content-disposition",
    "content-language",
    "retry-after",
    REPLAYED_HEADER.lower(),
)
# What a caller of a service that cannot be reached is told to wait: about what an orchestrator
# takes to restart it.
UPSTREAM_RETRY_AFTER_S = 5
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


class Repeat(StrEnum):
    """What keeps a repeated state-changing request from having a second effect. Every
    state-changing route accepts Idempotency-Key as well (ADR 0011); this says what protects a
    client that sends none. The README's table of state-changing routes is this column."""

    # The body names the object or document (a GRN, a waybill, a code): a second one is refused.
    NATURAL_KEY = "natural key"
    # Nothing in the request tells a repeat from a new command: only the key does.
    IDEMPOTENCY_KEY = "Idempotency-Key"
    # Sets a state (replace, set, release, a status change refused from the new status): a
    # repeat changes nothing more.
    IDEMPOTENT = "naturally idempotent"
    # Changes nothing (a preview).
    NO_EFFECT = "no effect"


@dataclass(frozen=True)
class ProxyRoute:
    method: str
    path: str
    service: str
    roles: frozenset[Role]
    summary: str
    tag: str
    body: Body = Body.NONE
    # For state-changing routes: what makes a repeat harmless, and which natural key.
    repeat: Repeat | None = None
    natural_key: str = ""

    @property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def changes_state(self) -> bool:
        """POST, PUT, PATCH and DELETE: they accept and forward Idempotency-Key."""
        return self.method != "GET"

    @property
    def scoped_to_warehouse(self) -> bool:
        """A route acting on one warehouse's stock: staff may only reach their own."""
        return self.path.startswith("/v1/warehouses/{code}/")


R = ProxyRoute
WH = "/v1/warehouses/{code}"

# Specific paths come before the parameterised ones they would otherwise match
# (/v1/needs/export.csv before /v1/needs/{need_id}).
ROUTES: tuple[ProxyRoute, ...] = (
    # ---- stock: warehouses and the catalogue -------------------------------------------------
    R("GET", "/v1/warehouses", "stock", ALL, "List warehouses.", "warehouses"),
    R("POST", "/v1/warehouses", "stock", COORDINATION, "Register a warehouse.", "warehouses",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the warehouse `code`"),
    R("GET", "/v1/warehouses/{code}", "stock", ALL, "One warehouse.", "warehouses"),
    R("PATCH", "/v1/warehouses/{code}", "stock", COORDINATION, "Change a warehouse.", "warehouses",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("GET", "/v1/items", "stock", ALL, "List catalogue items and kits.", "catalogue"),
    R("POST", "/v1/items", "stock", ADMIN, "Add an item or kit to the catalogue.", "catalogue",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the item `code`"),
    R("GET", "/v1/items/{code}", "stock", ALL, "One catalogue item or kit.", "catalogue"),
    R("PATCH", "/v1/items/{code}", "stock", ADMIN, "Change a catalogue item or kit.", "catalogue",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    # ---- stock: balances, movements, counts, reservations ------------------------------------
    R("GET", f"{WH}/stock", "stock", STOCK_READERS, "Balances per item with their lots.", "stock"),
    R("GET", f"{WH}/stock/{{item_code}}/card", "stock", STOCK_READERS,
      "The stock card of an item, with the running balance.", "stock"),
    R("PUT", f"{WH}/stock/{{item_code}}/minimum", "stock", STOCK_OPERATORS,
      "Set the low-stock threshold of an item.", "stock",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", f"{WH}/receipts", "stock", STOCK_OPERATORS, "Record goods received (GRN).", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="`grn_number` in the warehouse"),
    R("POST", f"{WH}/dispatches", "stock", STOCK_OPERATORS,
      "Record goods dispatched (waybill).", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="`waybill_number` in the warehouse"),
    R("POST", f"{WH}/adjustments", "stock", STOCK_OPERATORS,
      "Record a loss, damage, expiry, find or count correction.", "stock",
      body=Body.JSON, repeat=Repeat.IDEMPOTENCY_KEY),
    R("POST", f"{WH}/transfers", "stock", STOCK_OPERATORS,
      "Send stock to another warehouse.", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY,
      natural_key="`waybill_number` in the sending warehouse"),
    R("POST", f"{WH}/transfers/{{transfer_id}}/receipt", "stock", STOCK_OPERATORS,
      "Receive a transfer.", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the transfer id: received once"),
    R("POST", f"{WH}/kitting", "stock", STOCK_OPERATORS,
      "Assemble kits from components, or break them.", "stock",
      body=Body.JSON, repeat=Repeat.IDEMPOTENCY_KEY),
    R("GET", f"{WH}/movements/{{movement_id}}", "stock", STOCK_READERS,
      "A movement; with Accept: application/pdf (or ?format=pdf) its document to print: "
      "GRN, waybill, transfer note or movement slip, in the Accept-Language.", "stock"),
    R("POST", f"{WH}/movements/{{movement_id}}/reversal", "stock", STOCK_OPERATORS,
      "Undo a movement by a compensating one.", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the movement id: reversed once"),
    R("POST", f"{WH}/counts", "stock", STOCK_OPERATORS, "Start a physical count (draft).", "stock",
      body=Body.JSON, repeat=Repeat.IDEMPOTENCY_KEY),
    R("GET", f"{WH}/counts/{{count_id}}", "stock", STOCK_READERS, "A count.", "stock"),
    R("PUT", f"{WH}/counts/{{count_id}}", "stock", STOCK_OPERATORS,
      "Replace a draft count's lines.", "stock",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", f"{WH}/counts/{{count_id}}/submit", "stock", STOCK_OPERATORS,
      "Submit a count; differences become adjustments.", "stock",
      repeat=Repeat.IDEMPOTENCY_KEY),
    R("GET", f"{WH}/reservations", "stock", STOCK_READERS,
      "Reservations held for plan lines.", "stock"),
    R("POST", f"{WH}/reservations", "stock", COORDINATION,
      "Reserve stock for a plan line.", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the plan `line_id`"),
    R("DELETE", f"{WH}/reservations/{{line_id}}", "stock", COORDINATION,
      "Release a reservation.", "stock",
      repeat=Repeat.IDEMPOTENT),
    R("POST", f"{WH}/reservations/{{line_id}}/dispatch", "stock", STOCK_OPERATORS,
      "Issue reserved stock.", "stock",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the plan line: issued once"),
    # ---- needs -------------------------------------------------------------------------------
    R("POST", "/v1/needs/imports", "needs", NEEDS_REPORTERS,
      "Import needs from an HXL-tagged CSV or XLSX file.", "needs",
      body=Body.FILE, repeat=Repeat.IDEMPOTENCY_KEY),
    R("GET", "/v1/needs/export.csv", "needs", NEEDS_READERS, "Needs as HXL-tagged CSV.", "needs"),
    R("POST", "/v1/needs", "needs", NEEDS_REPORTERS, "Report a need of your organisation.", "needs",
      body=Body.JSON, repeat=Repeat.IDEMPOTENCY_KEY),
    R("GET", "/v1/needs", "needs", NEEDS_READERS,
      "List needs (a partner sees its organisation's only).", "needs"),
    R("GET", "/v1/needs/{need_id}", "needs", NEEDS_READERS, "One need.", "needs"),
    R("PUT", "/v1/needs/{need_id}", "needs", NEEDS_REPORTERS, "Replace a need's details.", "needs",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/needs/{need_id}/submit", "needs", NEEDS_REPORTERS,
      "Submit a draft need.", "needs",
      repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/needs/{need_id}/cancel", "needs", NEEDS_REPORTERS,
      "Cancel a need, with the reason.", "needs",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/needs/{need_id}/validate", "needs", COORDINATORS,
      "Validate a submitted need.", "needs",
      repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/needs/{need_id}/reject", "needs", COORDINATORS,
      "Reject a submitted need, with the reason.", "needs",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/needs/{need_id}/duplicates/{other_id}/keep", "needs", COORDINATORS,
      "Keep both of two possible duplicates.", "needs",
      repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/needs/{need_id}/duplicates/{other_id}/merge", "needs", COORDINATORS,
      "Merge a need into its duplicate.", "needs",
      repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/integrations/kobo/submissions", "needs", NEEDS_REPORTERS,
      "A KoboToolbox REST Service submission, turned into a need (or kept as refused).",
      "integrations", body=Body.JSON, repeat=Repeat.NATURAL_KEY,
      natural_key="the submission's `_uuid`"),
    R("GET", "/v1/integrations/kobo/submissions", "needs", NEEDS_REPORTERS,
      "Your organisation's KoboToolbox submissions (`?state=refused`: those to fix).",
      "integrations"),
    R("POST", "/v1/integrations/kobo/submissions/{uuid}/resubmit", "needs", NEEDS_REPORTERS,
      "Try a refused KoboToolbox submission again, its values corrected.", "integrations",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the submission's `_uuid`"),
    R("GET", "/v1/integrations/kobo/mapping", "needs", NEEDS_REPORTERS,
      "Your organisation's mapping of Kobo questions to HXL hashtags.", "integrations"),
    R("PUT", "/v1/integrations/kobo/mapping", "needs", NEEDS_REPORTERS,
      "Replace your organisation's mapping of Kobo questions to HXL hashtags.", "integrations",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/integrations/dtm/imports", "needs", COORDINATORS,
      "Import a DTM dataset (HXL) into draft needs for a partner or the cluster.",
      "integrations", body=Body.FILE, repeat=Repeat.IDEMPOTENT),
    R("GET", "/v1/norms-profiles", "needs", ALL, "Every norms profile.", "norms"),
    R("POST", "/v1/norms-profiles", "needs", ADMIN, "Add a norms profile.", "norms",
      body=Body.JSON, repeat=Repeat.NATURAL_KEY, natural_key="the profile id"),
    R("GET", "/v1/norms-profiles/{profile_id}", "needs", ALL, "One norms profile.", "norms"),
    R("PUT", "/v1/norms-profiles/{profile_id}", "needs", ADMIN, "Change a norms profile.", "norms",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/norms-profiles/{profile_id}/calculate", "needs", ALL,
      "Preview the quantities a population would get.", "norms",
      body=Body.JSON, repeat=Repeat.NO_EFFECT),
    R("GET", "/v1/reference/gazetteer", "needs", ALL,
      "The P-codes needs are checked against.", "reference"),
    R("GET", "/v1/reference/items", "needs", ALL,
      "The item codes a need may ask for.", "reference"),
    # ---- distribution ------------------------------------------------------------------------
    R("GET", "/v1/views/warehouses", "distribution", COORDINATION,
      "Warehouses as the planner sees them.", "planning"),
    R("GET", "/v1/views/stock", "distribution", COORDINATION,
      "Stock per warehouse and item as the planner sees it.", "planning"),
    R("GET", "/v1/views/needs", "distribution", COORDINATION,
      "Needs as the planner sees them.", "planning"),
    R("POST", "/v1/plans", "distribution", COORDINATION,
      "Draft a plan with the planner's optimal, fair allocation.", "planning",
      body=Body.JSON, repeat=Repeat.IDEMPOTENCY_KEY),
    R("GET", "/v1/plans", "distribution", PLAN_READERS,
      "List plans, newest first (partners: those serving their needs, their lines only).",
      "planning"),
    R("GET", "/v1/plans/{plan_id}", "distribution", PLAN_READERS,
      "One plan with the planner's explanation (partners: their lines only).", "planning"),
    R("POST", "/v1/plans/{plan_id}/approve", "distribution", COORDINATION,
      "Approve a draft plan: stock reserves every line.", "planning",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/plans/{plan_id}/cancel", "distribution", COORDINATION,
      "Cancel a plan.", "planning",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/plans/{plan_id}/dispatch", "distribution", COORDINATION,
      "Order the reserved lines out under one waybill.", "planning",
      body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("POST", "/v1/plans/{plan_id}/deliveries", "distribution", PLAN_READERS,
      "Confirm what reached households: per need, the quantity from each line and the "
      "households and people reached, counted once.", "planning",
      body=Body.JSON, repeat=Repeat.IDEMPOTENCY_KEY),
    R("POST", "/v1/plans/{plan_id}/close", "distribution", COORDINATION,
      "Close a dispatched or delivered plan (or, with a reason, one still dispatching).",
      "planning", body=Body.JSON, repeat=Repeat.IDEMPOTENT),
    R("GET", "/v1/reports/5w.csv", "distribution", PLAN_READERS,
      "The 5W report as HXL-tagged CSV.", "reports"),
    R("GET", "/v1/reports/5w.xlsx", "distribution", PLAN_READERS,
      "The 5W report as an XLSX workbook.", "reports"),
    R("GET", "/v1/gaps", "distribution", PLAN_READERS,
      "Gaps per item (in its unit) or sector (in households), by region or cercle: planned, "
      "dispatched and delivered apart (partners: their own needs).", "reports"),
    R("GET", "/v1/gaps/trend", "distribution", PLAN_READERS,
      "Requested, planned and delivered per ISO week and item.", "reports"),
    R("GET", "/v1/gaps.csv", "distribution", PLAN_READERS,
      "The gaps table as HXL-tagged CSV.", "reports"),
    R("GET", "/v1/alerts", "distribution", COORDINATION,
      "What is stuck and why (low stock, near expiry, plans waiting on stock, reservations "
      "about to lapse, needs waiting for validation, dead letters), newest first.", "reports"),
)  # fmt: skip


# ---- forwarding ---------------------------------------------------------------------------------


def _caller(principal: Principal) -> Caller:
    return Caller(
        user=principal.user_id,
        organisation=principal.organisation,
        roles=principal.roles,
        warehouses=principal.warehouses,
    )


def _without_body(request: Request) -> bool:
    headers = request.headers
    if "transfer-encoding" in headers or headers.get("content-type"):
        return False
    return headers.get("content-length", "0") == "0"


def _content_type_problem(route: ProxyRoute, request: Request) -> Problem | None:
    if route.body is not Body.JSON or _without_body(request):
        # No body at all: the service says whether its route needs one (a plan's close does
        # not; its reason is optional).
        return None
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return Problem(
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
    language = request.headers.get("accept-language")
    if language:
        # The service writes its problems (and documents) in the caller's language.
        headers["accept-language"] = language
    correlation_id = correlation_id_var.get()
    if correlation_id:
        headers["X-Correlation-Id"] = correlation_id
    if body or route.body is not Body.NONE:
        headers["content-type"] = request.headers.get("content-type", "application/json")
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key and route.changes_state:
        # The service remembers the key with the effect (ADR 0011): it, not the gateway's claim,
        # decides whether a retry after a timeout was applied already.
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
        raise Problem(
            504,
            "Service timed out",
            f"The {route.service} service did not answer in time; the request may or may not "
            "have been applied. Retry with the same Idempotency-Key to be safe.",
            slug="upstream-timeout",
            service=route.service,
        ) from None
    except UpstreamUnavailable as exc:
        log.warning(
            "%s service unreachable for %s %s: %s", route.service, route.method, target, exc
        )
        raise Problem(
            503,
            "Service unavailable",
            f"The {route.service} service cannot be reached; retry later. The routes of the "
            "other services keep working.",
            slug="upstream-unavailable",
            headers={"Retry-After": str(UPSTREAM_RETRY_AFTER_S)},
            service=route.service,
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
    if not (key and route.changes_state):
        return await _call_service(gateway, route, request, principal, body)
    problem = key_problem(key)
    if problem is not None:
        raise invalid_key(problem)

    organisation = principal.organisation
    print_ = fingerprint(
        route.method, request.url.path, request.scope.get("query_string", b"").decode(), body
    )
    decision = await gateway.idempotency.begin(organisation, key, print_)
    if isinstance(decision, Replay):
        return _replayed(decision.response)
    if isinstance(decision, InProgress):
        raise Problem(
            409,
            "Request in progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
            slug="idempotency-in-progress",
            headers={"Retry-After": str(decision.retry_after_s)},
        )
    if isinstance(decision, Mismatch):
        raise Problem(
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
            raise Problem(
                403, "Forbidden", f"This needs one of the roles: {allowed}.", slug="forbidden"
            )
        code = request.path_params.get("code")
        if route.scoped_to_warehouse and code and not principal.may_operate_warehouse(code):
            # The same answer the service gives: a warehouse one may not see is not found.
            raise Problem(404, "Not found", f"no warehouse {code}", slug="unknown-warehouse")
        return principal

    return check


def _endpoint(route: ProxyRoute) -> Callable[..., Awaitable[Response]]:
    async def endpoint(request: Request, gateway: Gateway, principal: Principal) -> Response:
        # Forwarded as it came (repeated query parameters included): the service validates its
        # parameters and body, and the published document is the service's own (ADR 0016).
        return await forward(gateway, route, request, principal)

    # The signature FastAPI reads: the route's own authorisation as a dependency (annotations
    # are strings in this module, and `route` is local).
    keyword = inspect.Parameter.KEYWORD_ONLY
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request
            ),
            inspect.Parameter(
                "gateway", keyword, annotation=Annotated[Gateway, Depends(gateway_of)]
            ),
            inspect.Parameter(
                "principal", keyword, annotation=Annotated[Principal, Depends(_authorised(route))]
            ),
        ],
        return_annotation=Response,
    )
    endpoint.__name__ = f"{route.method.lower()}_{route.path}"
    return endpoint


def describe(route: ProxyRoute) -> str:
    roles = ", ".join(sorted(route.roles))
    lines = [route.summary, "", f"Roles: {roles}. Served by the {route.service} service."]
    if route.changes_state:
        lines.append(
            "\nAccepts Idempotency-Key: a retry with the same key and body gets the first answer "
            "(with Idempotent-Replayed: true) instead of a second effect; the service remembers "
            "the key with the effect."
        )
        if route.repeat is Repeat.NATURAL_KEY:
            lines.append(f"Without one, the natural key refuses a repeat: {route.natural_key}.")
    return "\n".join(lines)


def install_proxy_routes(app: FastAPI) -> None:
    for route in ROUTES:
        app.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            response_class=Response,
            # Published from the services' own documents instead (api/openapi.install_openapi).
            include_in_schema=False,
        )
