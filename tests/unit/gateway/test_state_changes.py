"""Every route that changes state is in the README's table with what keeps a repeat from having
a second effect (issue #12), and every one of them accepts Idempotency-Key."""

from __future__ import annotations

from pathlib import Path

from fastapi.routing import APIRoute
from kitflow_gateway.api.proxy import ROUTES
from kitflow_gateway.api.routes import audit, auth, identity
from kitflow_gateway.api.state_changes import GATEWAY_OWN, markdown_table, state_changes

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_lists_every_state_changing_route_as_the_code_says() -> None:
    assert markdown_table() in README.read_text(), (
        "README.md's table of state-changing routes differs from "
        "kitflow_gateway.api.state_changes.markdown_table()"
    )


def test_every_proxied_state_changing_route_says_what_makes_a_repeat_harmless() -> None:
    assert [r for r in ROUTES if r.changes_state and r.repeat is None] == []
    assert [r for r in ROUTES if not r.changes_state and r.repeat is not None] == []
    listed = {(c.method, c.path) for c in state_changes()}
    assert {(r.method, r.path) for r in ROUTES if r.changes_state} <= listed


def test_the_gateways_own_state_changing_routes_are_all_listed() -> None:
    own = {
        (method, route.path)
        for router in (auth.router, identity.router, audit.router)
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods
        if method != "GET"
    }
    assert own == {(c.method, c.path) for c in GATEWAY_OWN}
