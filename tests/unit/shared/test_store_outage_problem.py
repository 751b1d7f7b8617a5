"""While the store cannot be reached (`make chaos` restarts it), a request that needed it is
answered 503 problem+json with Retry-After, not 500: the client's retry is what helps, and the
service is not broken. pymongo reports the outage as ConnectionFailure (a server selection that
timed out, a connection that closed under a request: AutoReconnect)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from kitflow_shared.web.problems import install_problem_handlers
from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError


@pytest.mark.parametrize(
    "outage",
    [
        ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connect call failed"),
        AutoReconnect("127.0.0.1:27017: connection closed"),
    ],
)
async def test_a_store_that_cannot_be_reached_is_answered_503_with_retry_after(
    outage: ConnectionFailure,
) -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/things")
    async def needs_the_store() -> None:
        raise outage

    async with AsyncClient(
        transport=ASGITransport(app, raise_app_exceptions=False), base_url="http://t"
    ) as client:
        answer = await client.post("/v1/things", headers={"accept-language": "fr"})
    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.json()["type"] == "/problems/store-unavailable"
    assert "27017" not in answer.text  # nothing of the store's address leaks
    assert answer.json()["title"] == "Stockage indisponible"
