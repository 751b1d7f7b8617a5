"""The services behind the gateway, reached over HTTP with aiohttp (or in-process with httpx).

Every proxied request makes one upstream call, so the client's cost per request is paid on every
call. aiohttp is the production client: its connection pool hands out an idle connection in
constant time and its response parser is compiled. httpx (httpcore) checks the socket of every
pooled connection on each request and parses in pure Python; measured on our 2-core bench it
spent about 1.5 ms of CPU per proxied request against 0.12 ms for aiohttp (ADR 0006). httpx stays
for what only it offers: calling an ASGI app in-process (the integration tests wire the real
services to the gateway that way).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import aiohttp
import httpx
from kitflow_shared.serve import KEEP_ALIVE_S
from yarl import URL

from kitflow_gateway.handlers.ports import (
    Upstream,
    UpstreamAnswer,
    UpstreamTimeout,
    UpstreamUnavailable,
)

# At most this many connections to one service at once; further calls wait for a free one
# (within the timeout). Matches what one gateway instance can usefully keep in flight.
MAX_CONNECTIONS = 200
# An idle connection is reused only this long, well before the service closes it: a request
# sent on a connection the service is closing at that moment fails (and a creating request
# must not be resent blindly). httpx avoided it by polling every pooled socket per request.
IDLE_REUSE_S = KEEP_ALIVE_S / 2


class AiohttpUpstream:
    """One service over HTTP/1.1 with keep-alive connections."""

    def __init__(
        self, base_url: str, *, timeout_s: float, idle_reuse_s: float = IDLE_REUSE_S
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.idle_reuse_s = idle_reuse_s
        # Per phase, like httpx's single timeout: waiting for a connection (pooled or new) and
        # each read; a slow but steady answer is not cut off.
        self.timeout = aiohttp.ClientTimeout(total=None, connect=timeout_s, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        # Created on first use, inside the running event loop, as aiohttp requires.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=MAX_CONNECTIONS, keepalive_timeout=self.idle_reuse_s
                ),
                timeout=self.timeout,
            )
        return self._session

    async def request(
        self, method: str, target: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamAnswer:
        # encoded=True: the path and query go out byte for byte as the caller sent them (the
        # services decide what they mean); yarl would otherwise re-quote them.
        url = URL(self.base_url + target, encoded=True)
        try:
            async with self._client().request(
                method, url, data=body or None, headers=dict(headers), allow_redirects=False
            ) as response:
                content = await response.read()
                return UpstreamAnswer(response.status, list(response.headers.items()), content)
        except TimeoutError as exc:  # aiohttp's timeouts are TimeoutErrors too
            raise UpstreamTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise UpstreamUnavailable(str(exc)) from exc

    async def alive(self) -> None:
        async with self._client().get(self.base_url + "/healthz") as response:
            response.raise_for_status()

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxUpstream:
    """One service through an httpx transport: in-process ASGI apps in the tests."""

    def __init__(
        self, base_url: str, *, timeout_s: float, transport: httpx.AsyncBaseTransport
    ) -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout_s, transport=transport)

    async def request(
        self, method: str, target: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamAnswer:
        try:
            response = await self.client.request(method, target, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(str(exc)) from exc
        except httpx.TransportError as exc:
            raise UpstreamUnavailable(str(exc)) from exc
        return UpstreamAnswer(
            response.status_code, list(response.headers.multi_items()), response.content
        )

    async def alive(self) -> None:
        response = await self.client.get("/healthz")
        response.raise_for_status()

    async def aclose(self) -> None:
        await self.client.aclose()


# Methods that change nothing: sent again to another replica whatever happened to the first.
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class FailoverUpstream:
    """The replicas of one service, the gateway's own first (`KITFLOW_GATEWAY_<SVC>_URL` as a
    comma-separated list). A request goes to the first replica; when that one cannot be reached
    (refused, or the connection dropped before an answer) it goes to the next, but only if it is
    safe to repeat: a read, or a change carrying an Idempotency-Key (the service remembers the
    key with the effect, ADR 0011, so a change the first replica applied is not applied twice).
    Anything else gets the first replica's failure, as with one replica. A timeout is never
    repeated here: the service may still be working on it; the client decides."""

    def __init__(self, replicas: Sequence[Upstream], *, key_header: str) -> None:
        if not replicas:
            raise ValueError("a service needs at least one replica")
        self.replicas = list(replicas)
        self.key_header = key_header.lower()

    def _repeatable(self, method: str, headers: Mapping[str, str]) -> bool:
        return method.upper() in _SAFE_METHODS or any(
            name.lower() == self.key_header for name in headers
        )

    async def request(
        self, method: str, target: str, *, body: bytes, headers: Mapping[str, str]
    ) -> UpstreamAnswer:
        repeatable = self._repeatable(method, headers)
        for replica in self.replicas[:-1]:
            try:
                return await replica.request(method, target, body=body, headers=headers)
            except UpstreamUnavailable:
                if not repeatable:
                    raise
        return await self.replicas[-1].request(method, target, body=body, headers=headers)

    async def alive(self) -> None:
        """Alive while any replica is: the routes are served through it."""
        failure: Exception | None = None
        for replica in self.replicas:
            try:
                await replica.alive()
            except Exception as exc:  # any failure of a probe: try the next replica
                failure = exc
            else:
                return
        assert failure is not None
        raise failure

    async def aclose(self) -> None:
        for replica in self.replicas:
            await replica.aclose()
