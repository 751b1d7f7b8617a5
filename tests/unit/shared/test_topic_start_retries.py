"""Creating the topics on a cluster still starting: the broker's passing refusals are asked
again until a deadline; anything else, or the deadline, raises what the broker said."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    InvalidReplicationFactorError,
    NodeNotReadyError,
    TopicAuthorizationFailedError,
)
from kitflow_shared.topics import retry_while_starting


class Answers:
    """An action failing with the given errors, one per call, then answering "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_a_node_not_ready_and_too_few_brokers_are_asked_again() -> None:
    action = Answers(NodeNotReadyError("node 3"), InvalidReplicationFactorError("2 brokers"))
    assert await retry_while_starting(action, "topics", timeout_s=5, wait_s=0.01) == "done"
    assert action.calls == 3


async def test_a_refusal_that_does_not_pass_is_raised_at_once() -> None:
    action = Answers(TopicAuthorizationFailedError("denied"))
    with pytest.raises(TopicAuthorizationFailedError):
        await retry_while_starting(action, "topics", timeout_s=5, wait_s=0.01)
    assert action.calls == 1


async def test_past_the_deadline_the_last_refusal_is_raised() -> None:
    action = Answers(*(NodeNotReadyError(f"try {n}") for n in range(1000)))
    with pytest.raises(NodeNotReadyError, match="try"):
        await retry_while_starting(action, "topics", timeout_s=0.05, wait_s=0.01)
    assert 2 <= action.calls < 1000
