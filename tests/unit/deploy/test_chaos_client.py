"""tools.chaos's careful client: a token is renewed at half its life, never used past it.

A 10,000-operation run lasts about 45 minutes and the gateway's tokens 15: the first run at
that size would have had every operation after the fifteenth minute refused 401."""

from __future__ import annotations

import random

import httpx
import pytest

from tools import chaos


class FakeGateway:
    """Answers sign-ins with numbered tokens of a given life."""

    def __init__(self, life_s: int) -> None:
        self.life_s = life_s
        self.sign_ins = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/auth/token"
        self.sign_ins += 1
        body = {"access_token": f"t{self.sign_ins}", "expires_in": self.life_s}
        return httpx.Response(200, json=body)


async def test_a_token_is_reused_until_half_its_life_then_renewed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(chaos.time, "monotonic", lambda: now[0])
    gateway = FakeGateway(life_s=900)
    stats = chaos.Stats()
    client = chaos.CarefulClient("http://front", random.Random(1), stats, give_up_s=240)
    client.http = httpx.AsyncClient(base_url="http://front", transport=httpx.MockTransport(gateway))

    first = await client.sign_in(chaos.COORDINATOR)
    now[0] += 449
    again = await client.sign_in(chaos.COORDINATOR)
    now[0] += 2  # 451 s: past half of 900
    renewed = await client.sign_in(chaos.COORDINATOR)
    await client.close()

    assert first == again == {"Authorization": "Bearer t1"}
    assert renewed == {"Authorization": "Bearer t2"}
    assert gateway.sign_ins == stats.sign_ins == 2
    assert client.organisation_of["Bearer t2"] == client.organisation_of["Bearer t1"]


class RateLimitedGateway:
    """Answers 429 with a Retry-After, then 201."""

    def __init__(self, retry_after: str) -> None:
        self.retry_after = retry_after
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls == 1:
            return httpx.Response(429, headers={"Retry-After": self.retry_after}, json={})
        return httpx.Response(201, json={"id": "x"})


@pytest.mark.parametrize(("header", "at_least", "below"), [("7", 7.0, 7.2), ("soon", 0.0, 0.2)])
async def test_a_429_is_asked_again_no_sooner_than_its_retry_after(
    monkeypatch: pytest.MonkeyPatch, header: str, at_least: float, below: float
) -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(chaos.asyncio, "sleep", sleep)
    gateway = RateLimitedGateway(header)
    stats = chaos.Stats()
    client = chaos.CarefulClient("http://front", random.Random(1), stats, give_up_s=240)
    client.http = httpx.AsyncClient(base_url="http://front", transport=httpx.MockTransport(gateway))

    outcome = await client.command("need", {"Authorization": "Bearer t"}, "/v1/needs", {})
    await client.close()

    assert outcome.status == 201
    assert outcome.attempts == 2
    assert len(pauses) == 1
    assert at_least <= pauses[0] < below  # an unreadable value: the jitter only
    assert stats.retry_reasons["429"] == 1
