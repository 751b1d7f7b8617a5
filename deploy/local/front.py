"""`make run-cluster`'s front: a small round-robin proxy before the two gateway instances.

Each request goes to the next gateway in turn. When that one cannot be reached (the connection
is refused or times out before the request was sent) the next one is tried, since nothing reached
the first. When the connection drops before any answer, the next one is tried only if the request
is safe to repeat, as the gateway does with the services (ADR 0036): a read, or a change carrying
an Idempotency-Key (the second gateway's service replays what the first applied). Another change
is not sent twice: 502, and the client decides. When no instance can be reached: 502
problem+json. Idle connections are given up before the gateways close them (uvicorn closes an
idle keep-alive connection after 5 s; a request sent on one at that moment is dropped).

The client's address travels in `X-Forwarded-For` (appended to what a proxy before us already
put there), so the gateways' per-address sign-in limits see the client, not the front (they
trust the front: `KITFLOW_GATEWAY_TRUSTED_PROXIES`).

This is for one machine; a real deployment puts its ingress or load balancer here
(deploy/k8s).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import httpx
from kitflow_shared.serve import KEEP_ALIVE_S
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# Hop-by-hop headers (RFC 9110 7.6.1) and those httpx sets itself: not forwarded.
_NOT_FORWARDED = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
_NOT_RETURNED = _NOT_FORWARDED | {"content-encoding"}
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)
# The connection closed with no answer at all: what a gateway closing an idle connection gives.
_DROPPED = httpx.RemoteProtocolError
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# How long a gateway (uvicorn, through kitflow_shared.serve) keeps an idle connection open.
GATEWAY_KEEP_ALIVE_S = KEEP_ALIVE_S


def pool_limits() -> httpx.Limits:
    """The front's connection pool: idle connections expire at half the gateways' limit."""
    return httpx.Limits(keepalive_expiry=GATEWAY_KEEP_ALIVE_S / 2)


def _repeatable(request: Request) -> bool:
    return request.method in _SAFE_METHODS or "idempotency-key" in request.headers


def create_front(upstreams: Sequence[str], client: httpx.AsyncClient) -> Starlette:
    """An ASGI app sending each request to the next of `upstreams` (base URLs)."""
    turns = itertools.cycle(range(len(upstreams)))

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = [(k, v) for k, v in request.headers.items() if k not in _NOT_FORWARDED]
        headers = [(k, v) for k, v in headers if k != "x-forwarded-for"]
        client_address = request.client.host if request.client else "unknown"
        earlier = request.headers.get("x-forwarded-for")
        forwarded_for = f"{earlier}, {client_address}" if earlier else client_address
        headers.append(("x-forwarded-for", forwarded_for))
        first = next(turns)
        for i in range(len(upstreams)):
            base = upstreams[(first + i) % len(upstreams)]
            url = f"{base}{request.url.path}"
            if request.url.query:
                url = f"{url}?{request.url.query}"
            try:
                answer = await client.request(request.method, url, headers=headers, content=body)
            except _NOT_SENT:
                continue
            except _DROPPED:
                if _repeatable(request):
                    continue
                return _problem(502, "the gateway instance failed before it answered")
            except httpx.HTTPError:
                return _problem(502, "the gateway instance failed before it answered")
            kept = [(k, v) for k, v in answer.headers.multi_items() if k not in _NOT_RETURNED]
            response = Response(answer.content, status_code=answer.status_code)
            response.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept]
            response.headers["content-length"] = str(len(answer.content))
            return response
        return _problem(502, "no gateway instance can be reached")

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": "Bad Gateway", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
        headers={"Retry-After": "5"},
    )


def main() -> None:
    import argparse

    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("upstreams", nargs="+", help="the gateways' base URLs")
    args = parser.parse_args()
    client = httpx.AsyncClient(timeout=httpx.Timeout(60, connect=2), limits=pool_limits())
    app = create_front([u.rstrip("/") for u in args.upstreams], client)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
