"""French and English for what the API says: negotiation, formats, catalogue, problems."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from kitflow_shared.errors import Message
from kitflow_shared.i18n import (
    format_date,
    format_number,
    negotiate,
    render,
    speaking,
)
from kitflow_shared.i18n_catalogue import FR, PYDANTIC_FR
from kitflow_shared.web.app import CorrelateAndMeasure
from kitflow_shared.web.problems import (
    Problem,
    ProblemFor,
    install_problem_handlers,
    install_problem_mapping,
)
from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parents[3]
SOURCES = [ROOT / "shared" / "src", *sorted((ROOT / "services").glob("*/src"))]
# Every way the code writes a problem: the title is the second argument (or `title=`).
PROBLEM_BUILDERS = {"problem_response", "ProblemFor", "Problem", "Refused"}


def _titles_in_code() -> dict[str, str]:
    """Every problem title written in the services and the shared code, with where."""
    titles: dict[str, str] = {}
    for source in SOURCES:
        for path in source.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name not in PROBLEM_BUILDERS:
                    continue
                candidates = [node.args[1]] if len(node.args) > 1 else []
                candidates += [k.value for k in node.keywords if k.arg == "title"]
                for arg in candidates:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        titles[arg.value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return titles


def test_every_problem_title_has_french() -> None:
    titles = _titles_in_code()
    # The scan finds the titles (a refactoring that hid them from it would pass vacuously).
    assert {"Not enough stock", "Invalid request", "Unauthenticated", "Not found"} <= set(titles)
    statuses = {s.phrase: "http.HTTPStatus" for s in HTTPStatus if s.value >= 400}
    missing = {t: where for t, where in {**titles, **statuses}.items() if t not in FR}
    assert missing == {}, f"titles without French: {missing}"


def test_french_is_chosen_when_the_caller_prefers_it() -> None:
    assert negotiate("fr") == "fr"
    assert negotiate("fr-ML,fr;q=0.9,en;q=0.8") == "fr"
    assert negotiate("de-DE, fr;q=0.5") == "fr"
    assert negotiate("en-GB,fr;q=0.9") == "en"
    assert negotiate("fr;q=0.4, en;q=0.6") == "en"
    assert negotiate("fr;q=0, en") == "en"
    assert negotiate(None) == "en"
    assert negotiate("") == "en"
    assert negotiate("*") == "en"
    assert negotiate("fr;q=abc") == "en"


def test_numbers_and_dates_in_mali_french_and_in_english() -> None:
    # CLDR's French groups with a narrow no-break space.
    assert format_number(1234.5, "fr") == "1\u202f234,5"
    assert format_number(1234.5, "en") == "1,234.5"
    assert format_date(date(2026, 12, 6), "fr") == "06/12/2026"
    assert format_date(date(2026, 12, 6), "en") == "6 Dec 2026"


@dataclass(frozen=True)
class _Message:
    """The shape of kitflow_shared.errors.Message (issue #13), without depending on it."""

    template: str
    params: dict[str, Any] = field(default_factory=dict)


def test_a_message_is_translated_as_a_template_then_filled_in() -> None:
    message = _Message(
        "{warehouse} has {available} {item} available, {requested} requested",
        {"warehouse": "GAO", "available": 1200, "item": "TARP", "requested": 1500},
    )
    assert render(message, "fr") == "GAO a 1\u202f200 TARP disponible(s), 1\u202f500 demandé(s)"
    assert render(message, "en") == "GAO has 1200 TARP available, 1500 requested"
    unknown = _Message("no such {thing}", {"thing": "lorry"})
    assert render(unknown, "fr") == "no such lorry"


def test_a_filled_in_english_sentence_is_recognised_from_its_template() -> None:
    assert render("GAO has 3 SOAP available, 5 requested", "fr") == (
        "GAO a 3 SOAP disponible(s), 5 demandé(s)"
    )
    assert render("wrong user name or password", "fr") == (
        "nom d'utilisateur ou mot de passe incorrect"
    )
    assert render("nothing we know", "fr") == "nothing we know"
    with speaking("fr"):
        assert render("already taken") == "déjà pris"
    assert render("already taken") == "already taken"


def test_a_message_given_already_filled_in_is_recognised_from_its_template() -> None:
    # The needs service's field problems wrap their finished sentence in a Message without
    # parameters: it reads in French as the same plain string would.
    filled = Message("unknown item or kit code 'KIT-NOPE'; did you mean KIT-NFI?")
    assert render(filled, "fr") == (
        "code d'article ou de kit inconnu 'KIT-NOPE' ; vouliez-vous dire KIT-NFI ?"
    )
    assert render(Message("already taken"), "fr") == "déjà pris"
    assert render(
        Message("'ML05' is not an admin3 P-code: ML followed by 6 digits, e.g. ML050101"), "fr"
    ) == ("'ML05' n'est pas un P-code de commune : ML suivi de 6 chiffres, par ex. ML050101")
    assert render(filled, "en") == filled


def test_a_sentence_wrapped_as_a_message_without_parameters_is_recognised_too() -> None:
    # A domain error built from an f-string (FieldProblem, KitflowError) wraps it as a Message
    # that is its own template: its French comes from the catalogue's templates all the same.
    refused = Message(
        "unknown admin2 P-code ML0599 in Mopti (ML05); its cercles are ML0501 Mopti, "
        "ML0502 Bandiagara"
    )
    assert render(refused, "fr") == (
        "P-code de cercle ML0599 inconnu dans la région de Mopti (ML05) ; ses cercles sont "
        "ML0501 Mopti, ML0502 Bandiagara"
    )
    assert render(refused, "en") == str(refused)


def test_common_pydantic_errors_have_french() -> None:
    common = {
        "missing",
        "extra_forbidden",
        "string_too_long",
        "string_too_short",
        "greater_than",
        "greater_than_equal",
        "less_than_equal",
        "too_short",
        "too_long",
        "int_parsing",
        "date_parsing",
        "enum",
        "literal_error",
        "value_error",
        "string_pattern_mismatch",
        "json_invalid",
    }
    assert common - set(PYDANTIC_FR) == set()


class _Body(BaseModel):
    code: str = Field(max_length=4)
    quantity: int = Field(gt=0)


class _Refusal(Exception):
    def __init__(self, message: _Message) -> None:
        super().__init__(str(message.template))
        self.message = message


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    install_problem_mapping(app, {_Refusal: ProblemFor(409, "Not enough stock", "insufficient")})
    app.add_middleware(CorrelateAndMeasure, service="test")

    @app.post("/things")
    async def things(body: _Body) -> dict[str, str]:
        raise _Refusal(_Message("{code} is not in the catalogue", {"code": body.code}))

    @app.get("/problem")
    async def problem() -> None:
        raise Problem(401, "Unauthenticated", "wrong user name or password", slug="x")

    return app


@pytest.mark.parametrize(
    ("accept_language", "title", "reasons", "refusal", "unauthenticated"),
    [
        (
            "fr-ML,fr;q=0.9",
            "Requête invalide",
            ["Doit comporter au plus 4 caractère(s)", "Doit être supérieur à 0"],
            ("Stock insuffisant", "TOOL n'est pas au catalogue"),
            ("Non authentifié", "nom d'utilisateur ou mot de passe incorrect"),
        ),
        (
            None,
            "Invalid request",
            ["String should have at most 4 characters", "Input should be greater than 0"],
            ("Not enough stock", "TOOL is not in the catalogue"),
            ("Unauthenticated", "wrong user name or password"),
        ),
    ],
)
async def test_problems_follow_accept_language(
    accept_language: str | None,
    title: str,
    reasons: list[str],
    refusal: tuple[str, str],
    unauthenticated: tuple[str, str],
) -> None:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        invalid = await client.post(
            "/things", json={"code": "TOOLS", "quantity": 0}, headers=headers
        )
        refused = await client.post(
            "/things", json={"code": "TOOL", "quantity": 1}, headers=headers
        )
        problem = await client.get("/problem", headers=headers)
    assert invalid.status_code == 422
    body = invalid.json()
    assert body["title"] == title
    assert [e["reason"] for e in body["errors"]] == reasons
    assert [e["field"] for e in body["errors"]] == ["body.code", "body.quantity"]
    assert refused.status_code == 409
    assert (refused.json()["title"], refused.json()["detail"]) == refusal
    assert (problem.json()["title"], problem.json()["detail"]) == unauthenticated


def test_a_sentence_around_a_catalogued_one_is_translated_whole() -> None:
    assert render("the file is empty; nothing was imported", "fr") == (
        "le fichier est vide ; rien n'a été importé"
    )
    assert render("the file is empty; nothing was imported", "en") == (
        "the file is empty; nothing was imported"
    )
