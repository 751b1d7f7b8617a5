"""One error vocabulary for every service (kitflow_shared.errors) and one way to answer it."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from types import ModuleType

import httpx
import kitflow_distribution.domain.errors as distribution
import kitflow_gateway.domain.errors as gateway
import kitflow_needs.domain.errors as needs
import kitflow_stock.domain.errors as stock
import pytest
from fastapi import FastAPI
from kitflow_distribution.api.errors import install_domain_error_handlers as distribution_table
from kitflow_gateway.api.errors import install_gateway_error_handlers as gateway_table
from kitflow_needs.api.errors import install_domain_error_handlers as needs_table
from kitflow_shared import errors as kinds
from kitflow_shared.errors import FieldProblem, Message, message
from kitflow_shared.web.problems import PROBLEM_JSON, install_problem_mapping
from kitflow_stock.api.errors import install_domain_error_handlers as stock_table

SERVICES = [stock, needs, distribution, gateway]


@pytest.mark.parametrize("service", SERVICES, ids=lambda m: m.__name__.split(".")[0])
@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("InvalidInput", kinds.InvalidInput),
        ("NotPermitted", kinds.NotPermitted),
        ("ConcurrentChange", kinds.ConcurrentChange),
    ],
)
def test_the_same_meaning_has_the_same_name_in_every_service(
    service: ModuleType, name: str, kind: type[Exception]
) -> None:
    assert issubclass(getattr(service, name), kind)


@pytest.mark.parametrize("service", SERVICES, ids=lambda m: m.__name__.split(".")[0])
def test_every_service_error_is_a_kitflow_error(service: ModuleType) -> None:
    errors = [
        value
        for value in vars(service).values()
        if isinstance(value, type)
        and issubclass(value, Exception)
        and value.__module__ == service.__name__
    ]
    assert errors
    assert all(issubclass(error, kinds.KitflowError) for error in errors)


def test_a_message_keeps_its_template_and_reads_as_the_english_sentence() -> None:
    error = stock.UnknownWarehouse("MOP-SUB")
    assert isinstance(error.message, Message)
    assert error.message.template == "no warehouse with code {code!r}"
    assert dict(error.message.params) == {"code": "MOP-SUB"}
    assert error.message == str(error) == "no warehouse with code 'MOP-SUB'"
    assert pickle.loads(pickle.dumps(error.message)).template == error.message.template


def test_a_sentence_without_parameters_is_its_own_template() -> None:
    error = needs.NotPermitted("only an admin manages norms profiles")
    assert error.message.template == "only an admin manages norms profiles"
    assert Message("keeps {braces} as written").template == "keeps {braces} as written"
    assert str(Message("keeps {braces} as written")) == "keeps {braces} as written"


def test_invalid_input_names_each_field_and_why_under_a_prefix() -> None:
    error = needs.InvalidInput(
        FieldProblem("households", message("at most {limit}", limit=10)),
        FieldProblem("people", "must be positive"),
    ).under("population")
    assert isinstance(error, needs.InvalidInput)
    assert [(p.field, str(p.reason)) for p in error.problems] == [
        ("population.households", "at most 10"),
        ("population.people", "must be positive"),
    ]
    assert error.problems[0].reason.template == "at most {limit}"
    assert str(error) == "population.households: at most 10; population.people: must be positive"
    single = stock.InvalidInput.of("lines.0.quantity", "must be positive")
    assert (single.field, single.reason) == ("lines.0.quantity", "must be positive")
    with pytest.raises(ValueError, match="at least one problem"):
        kinds.InvalidInput()


async def _answer(app: FastAPI, error: Exception) -> httpx.Response:
    @app.get("/fails")
    async def fails() -> None:
        raise error

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/fails")


@pytest.mark.parametrize(
    ("error", "status", "slug"),
    [
        (kinds.NotFound("no such thing"), 404, "not-found"),
        (kinds.NotPermitted("only admins"), 403, "forbidden"),
        (kinds.Conflict("already closed"), 409, "conflict"),
        (kinds.ConcurrentChange("changed meanwhile"), 409, "concurrent-change"),
    ],
)
async def test_each_kind_answers_the_same_way_without_a_table_entry(
    error: Exception, status: int, slug: str
) -> None:
    app = FastAPI()
    install_problem_mapping(app, {})
    response = await _answer(app, error)
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == f"/problems/{slug}"
    assert response.json()["detail"] == str(error)


async def test_invalid_input_answers_422_naming_each_field() -> None:
    app = FastAPI()
    install_problem_mapping(app, {})
    error = kinds.InvalidInput(FieldProblem("a", "too long"), FieldProblem("b.c", "unknown"))
    body = (await _answer(app, error)).json()
    assert body["status"] == 422
    assert body["errors"] == [
        {"field": "body.a", "reason": "too long", "type": "business_rule"},
        {"field": "body.b.c", "reason": "unknown", "type": "business_rule"},
    ]


@pytest.mark.parametrize(
    ("install", "error", "status", "slug"),
    [
        (stock_table, stock.ConcurrentChange("changed"), 409, "concurrent-change"),
        (stock_table, stock.CountAlreadySubmitted("CNT-1", "MV-1"), 409, "conflict"),
        (
            needs_table,
            needs.InvalidTransition("N-1", "cancelled", "validated"),
            409,
            "invalid-transition",
        ),
        (needs_table, needs.ConcurrentChange("changed"), 409, "concurrent-change"),
        (distribution_table, distribution.ConcurrentChange("changed"), 409, "concurrent-change"),
        (distribution_table, distribution.InvalidTransition("closed"), 409, "plan-state"),
        (gateway_table, gateway.ConcurrentChange("changed"), 409, "conflict"),
        (gateway_table, gateway.NotFound("user", "u1"), 404, "unknown-user"),
        (gateway_table, gateway.NotPermitted("admins only"), 403, "forbidden"),
    ],
)
async def test_a_service_table_answers_its_own_errors_more_precisely(
    install: Callable[[FastAPI], None], error: Exception, status: int, slug: str
) -> None:
    app = FastAPI()
    install(app)
    body = (await _answer(app, error)).json()
    assert (body["status"], body["type"]) == (status, f"/problems/{slug}")
