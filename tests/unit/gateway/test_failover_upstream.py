"""Two replicas of a service behind one gateway (issue #17, found by `make chaos`): a request
that is safe to repeat (a read, or a change with an Idempotency-Key) goes to the next replica
when the first cannot be reached; any other request gets the failure, as with one replica; a
timeout is never repeated; the service is alive while any replica is."""

from __future__ import annotations

import pytest
from kitflow_gateway.adapters.upstream import FailoverUpstream
from kitflow_gateway.handlers.ports import UpstreamTimeout, UpstreamUnavailable

from tests.unit.gateway.fakes import FakeReplica

KEY = "Idempotency-Key"


def _pair(first_failure: Exception | None) -> tuple[FailoverUpstream, FakeReplica, FakeReplica]:
    own, other = FakeReplica("own", first_failure), FakeReplica("other")
    return FailoverUpstream([own, other], key_header=KEY), own, other


async def test_the_own_replica_serves_while_it_is_up() -> None:
    upstream, own, other = _pair(None)
    answer = await upstream.request("POST", "/v1/needs", body=b"{}", headers={})
    assert dict(answer.headers)["x-replica"] == "own"
    assert (len(own.calls), len(other.calls)) == (1, 0)


@pytest.mark.parametrize(
    ("method", "headers"),
    [("GET", {}), ("POST", {"idempotency-key": "k-1"}), ("PUT", {KEY: "k-2"})],
)
async def test_a_request_safe_to_repeat_goes_to_the_next_replica(
    method: str, headers: dict[str, str]
) -> None:
    upstream, own, other = _pair(UpstreamUnavailable("connection refused"))
    answer = await upstream.request(method, "/v1/needs", body=b"{}", headers=headers)
    assert dict(answer.headers)["x-replica"] == "other"
    assert (own.calls, other.calls) == ([(method, "/v1/needs")], [(method, "/v1/needs")])


async def test_a_change_without_a_key_is_not_sent_twice() -> None:
    upstream, _own, other = _pair(UpstreamUnavailable("server disconnected"))
    with pytest.raises(UpstreamUnavailable):
        await upstream.request("POST", "/v1/needs", body=b"{}", headers={})
    assert other.calls == []


async def test_a_timeout_is_not_repeated_on_the_next_replica() -> None:
    upstream, _own, other = _pair(UpstreamTimeout("no answer in 30 s"))
    with pytest.raises(UpstreamTimeout):
        await upstream.request("GET", "/v1/needs", body=b"", headers={})
    assert other.calls == []


async def test_the_last_replicas_failure_is_the_answer_when_none_can_be_reached() -> None:
    own, other = (
        FakeReplica("own", UpstreamUnavailable("a")),
        FakeReplica("other", UpstreamUnavailable("b")),
    )
    with pytest.raises(UpstreamUnavailable, match="b"):
        await FailoverUpstream([own, other], key_header=KEY).request(
            "GET", "/v1/needs", body=b"", headers={}
        )


async def test_alive_while_any_replica_is_and_both_closed() -> None:
    upstream, own, other = _pair(UpstreamUnavailable("down"))
    await upstream.alive()
    both_down = FailoverUpstream(
        [FakeReplica("a", UpstreamUnavailable("a")), FakeReplica("b", UpstreamUnavailable("b"))],
        key_header=KEY,
    )
    with pytest.raises(UpstreamUnavailable):
        await both_down.alive()
    await upstream.aclose()
    assert (own.closed, other.closed) == (True, True)
