"""`make run-cluster`'s front: round robin over the gateways, the client's address passed on,
the next gateway tried when one cannot be reached, 502 problem+json when none can."""

from __future__ import annotations

import httpx

from tests.unit.deploy.scripts import load_script

front = load_script("front")
GATEWAYS = ["http://gw-a", "http://gw-b"]


class FakeGateways:
    """Answers as each gateway would, records what it got; `down` refuses connections."""

    def __init__(self, down: frozenset[str] = frozenset()) -> None:
        self.down = down
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.down:
            raise httpx.ConnectError("refused", request=request)
        self.seen.append(request)
        return httpx.Response(201, json={"by": request.url.host}, headers={"x-trace": "t"})


def _front(gateways: FakeGateways) -> httpx.AsyncClient:
    upstream = httpx.AsyncClient(transport=httpx.MockTransport(gateways))
    app = front.create_front(GATEWAYS, upstream)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 5000))
    return httpx.AsyncClient(transport=transport, base_url="http://front")


async def test_requests_take_turns_and_carry_path_query_body_and_client_address() -> None:
    gateways = FakeGateways()
    async with _front(gateways) as client:
        answers = [
            await client.post("/v1/things?x=1", json={"n": i}, headers={"Authorization": "B t"})
            for i in range(4)
        ]

    assert [a.json()["by"] for a in answers] == ["gw-a", "gw-b", "gw-a", "gw-b"]
    assert {a.status_code for a in answers} == {201}
    assert answers[0].headers["x-trace"] == "t"
    sent = gateways.seen[0]
    assert str(sent.url) == "http://gw-a/v1/things?x=1"
    assert sent.content == b'{"n":0}'
    assert sent.headers["authorization"] == "B t"
    assert sent.headers["x-forwarded-for"] == "203.0.113.7"


async def test_an_earlier_proxys_forwarded_for_is_kept_and_ours_appended() -> None:
    gateways = FakeGateways()
    async with _front(gateways) as client:
        await client.get("/healthz", headers={"X-Forwarded-For": "198.51.100.1"})

    assert gateways.seen[0].headers["x-forwarded-for"] == "198.51.100.1, 203.0.113.7"


async def test_a_gateway_that_cannot_be_reached_is_passed_over() -> None:
    gateways = FakeGateways(down=frozenset({"gw-a"}))
    async with _front(gateways) as client:
        answers = [await client.get("/v1/warehouses") for _ in range(3)]

    assert [a.json()["by"] for a in answers] == ["gw-b", "gw-b", "gw-b"]


async def test_no_gateway_reachable_answers_502_problem_json() -> None:
    gateways = FakeGateways(down=frozenset({"gw-a", "gw-b"}))
    async with _front(gateways) as client:
        answer = await client.get("/v1/warehouses")

    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "no gateway instance can be reached"


class ClosingGateways(FakeGateways):
    """`closing` drops the connection before answering, as a gateway does when it closes an idle
    keep-alive connection just as the front reuses it."""

    def __init__(self, closing: frozenset[str]) -> None:
        super().__init__()
        self.closing = closing
        self.dropped: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.closing:
            self.dropped.append(request)
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
        return super().__call__(request)


async def test_a_read_or_a_keyed_change_dropped_before_an_answer_goes_to_the_next_gateway() -> None:
    gateways = ClosingGateways(closing=frozenset({"gw-a"}))
    async with _front(gateways) as client:
        read = await client.get("/v1/warehouses")
        keyed = await client.post("/v1/needs", json={}, headers={"Idempotency-Key": "k-1"})

    assert (read.status_code, read.json()["by"]) == (201, "gw-b")
    assert (keyed.status_code, keyed.json()["by"]) == (201, "gw-b")
    assert [r.method for r in gateways.dropped] == ["GET"]  # the POST's turn began at gw-b
    assert gateways.seen[-1].headers["idempotency-key"] == "k-1"


async def test_a_change_without_a_key_dropped_before_an_answer_is_not_sent_twice() -> None:
    gateways = ClosingGateways(closing=frozenset({"gw-a"}))
    async with _front(gateways) as client:
        answer = await client.post("/v1/needs", json={"n": 1})

    assert answer.status_code == 502
    assert answer.json()["detail"] == "the gateway instance failed before it answered"
    assert len(gateways.dropped) == 1
    assert gateways.seen == []  # gw-b never saw it: the first may have applied it


def test_the_front_gives_up_idle_connections_before_the_gateways_close_them() -> None:
    limits = front.pool_limits()

    assert limits.keepalive_expiry is not None
    assert limits.keepalive_expiry < front.GATEWAY_KEEP_ALIVE_S
