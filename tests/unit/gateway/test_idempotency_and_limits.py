"""Idempotency claims, rate-limit windows and the production settings check, on fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kitflow_gateway.config import DEV_ADMIN_PASSWORD, DEV_TOKEN_SECRET, GatewaySettings
from kitflow_gateway.domain.idempotency import StoredResponse
from kitflow_gateway.domain.rate_limits import Window
from kitflow_gateway.handlers.idempotency import (
    IdempotencyHandlers,
    InProgress,
    Mismatch,
    Proceed,
    Replay,
)
from kitflow_gateway.handlers.rate_limits import RateLimiter
from kitflow_shared.request_keys import fingerprint, key_problem
from pydantic import SecretStr

from tests.unit.gateway.fakes import FakeClock, FakeIdempotencyStore, FakeRateCounters

CREATED = StoredResponse(201, b'{"id": "N-1"}', "application/json", "/v1/needs/N-1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def idempotency(clock: FakeClock) -> IdempotencyHandlers:
    return IdempotencyHandlers(FakeIdempotencyStore(), clock, timedelta(seconds=60))


def test_the_fingerprint_covers_method_path_query_and_body() -> None:
    base = fingerprint("POST", "/v1/needs", "", b"{}")
    assert base == fingerprint("post", "/v1/needs", "", b"{}")
    for other in (
        fingerprint("PUT", "/v1/needs", "", b"{}"),
        fingerprint("POST", "/v1/needs/x", "", b"{}"),
        fingerprint("POST", "/v1/needs", "submit=false", b"{}"),
        fingerprint("POST", "/v1/needs", "", b"{ }"),
    ):
        assert other != base


def test_keys_must_be_reasonable() -> None:
    assert key_problem("need-2026-03-01") is None
    assert key_problem("short") is not None
    assert key_problem("x" * 201) is not None
    assert key_problem("tab\there-123") is not None


async def test_the_first_request_proceeds_and_a_retry_replays_its_answer(
    idempotency: IdempotencyHandlers,
) -> None:
    assert isinstance(await idempotency.begin("NRC", "key-00001", "fp"), Proceed)
    assert isinstance(await idempotency.begin("NRC", "key-00001", "fp"), InProgress)
    await idempotency.complete("NRC", "key-00001", CREATED)
    replay = await idempotency.begin("NRC", "key-00001", "fp")
    assert isinstance(replay, Replay)
    assert replay.response == CREATED
    assert isinstance(await idempotency.begin("NRC", "key-00001", "other"), Mismatch)
    # Keys are per organisation.
    assert isinstance(await idempotency.begin("DRC", "key-00001", "other"), Proceed)


async def test_a_released_key_may_be_tried_again(idempotency: IdempotencyHandlers) -> None:
    assert isinstance(await idempotency.begin("NRC", "key-00002", "fp"), Proceed)
    await idempotency.release("NRC", "key-00002")
    assert isinstance(await idempotency.begin("NRC", "key-00002", "fp"), Proceed)


async def test_a_claim_left_by_a_dead_instance_is_taken_over_after_the_lease(
    idempotency: IdempotencyHandlers, clock: FakeClock
) -> None:
    assert isinstance(await idempotency.begin("NRC", "key-00003", "fp"), Proceed)
    clock.advance(30)
    waiting = await idempotency.begin("NRC", "key-00003", "fp")
    assert isinstance(waiting, InProgress)
    assert waiting.retry_after_s == 30
    clock.advance(31)
    assert isinstance(await idempotency.begin("NRC", "key-00003", "fp"), Proceed)
    assert isinstance(await idempotency.begin("NRC", "key-00003", "fp"), InProgress)


async def test_the_limit_counts_per_organisation_and_window(clock: FakeClock) -> None:
    limiter = RateLimiter(FakeRateCounters(), clock, limit=3, window_s=60)
    verdicts = [await limiter.check("NRC") for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert [v.remaining for v in verdicts] == [2, 1, 0, 0]
    assert (await limiter.check("DRC")).allowed
    clock.advance(60)
    assert (await limiter.check("NRC")).allowed


def test_retry_after_is_the_rest_of_the_window(clock: FakeClock) -> None:
    window = Window.containing(clock.now + timedelta(seconds=15.5), 60)
    assert window.seconds_left(clock.now + timedelta(seconds=15.5)) == 45
    assert window.seconds_left(clock.now + timedelta(seconds=59.99)) == 1


def test_production_refuses_the_development_secrets() -> None:
    good_secret = SecretStr("x" * 40)
    good_password = SecretStr("a real admin passphrase")
    GatewaySettings(
        token_secret=good_secret, bootstrap_admin_password=good_password
    ).refuse_development_defaults()
    for secret, password in (
        (SecretStr(DEV_TOKEN_SECRET), good_password),
        (SecretStr("too-short"), good_password),
        (good_secret, SecretStr(DEV_ADMIN_PASSWORD)),
        (good_secret, SecretStr("short")),
    ):
        settings = GatewaySettings(token_secret=secret, bootstrap_admin_password=password)
        with pytest.raises(ValueError, match="in production"):
            settings.refuse_development_defaults()
