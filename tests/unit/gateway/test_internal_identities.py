"""The identity the gateway signs for the services: reused for half its life, per caller.
(The clock starts now: the services check a token's expiry against the real time.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from kitflow_gateway.handlers.tokens import InternalIdentities
from kitflow_shared.web.identity import Caller, Role, verify_internal_token

from tests.unit.gateway.fakes import FakeClock

SECRET = "s" * 32
NRC = Caller(user="USR-1", organisation="NRC", roles=frozenset({Role.PARTNER}))
DRC = Caller(user="USR-2", organisation="DRC", roles=frozenset({Role.PARTNER}))


def test_a_caller_gets_a_valid_token_naming_exactly_it() -> None:
    identities = InternalIdentities(SECRET, FakeClock(datetime.now(UTC)))
    assert verify_internal_token(identities.for_caller(NRC), SECRET) == NRC
    assert verify_internal_token(identities.for_caller(DRC), SECRET) == DRC


def _issued_at(token: str) -> int:
    issued: int = jwt.decode(token, options={"verify_signature": False})["iat"]
    return issued


def test_a_token_is_reused_for_half_its_life_then_signed_afresh() -> None:
    clock = FakeClock(datetime.now(UTC))
    identities = InternalIdentities(SECRET, clock, ttl=timedelta(seconds=60))
    first = identities.for_caller(NRC)
    clock.now += timedelta(seconds=29)
    assert identities.for_caller(NRC) == first
    clock.now += timedelta(seconds=1)
    assert _issued_at(identities.for_caller(NRC)) - _issued_at(first) == 30


def test_a_change_of_roles_or_warehouses_is_a_different_caller_with_its_own_token() -> None:
    identities = InternalIdentities(SECRET, FakeClock(datetime.now(UTC)))
    staff = Caller(user="U", organisation="IOM", roles=frozenset({Role.WAREHOUSE}))
    moved = staff.model_copy(update={"warehouses": frozenset({"GAO-SUB"})})
    assert verify_internal_token(identities.for_caller(staff), SECRET).warehouses == frozenset()
    assert verify_internal_token(identities.for_caller(moved), SECRET).warehouses == {"GAO-SUB"}
