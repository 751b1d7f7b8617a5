"""The services accept the gateway's identity only for the gateway's lifetime (60 s) plus a
small clock skew: a leaked or hand-made token with a long life, or one dated in the future, is
refused even when its signature, audience, issuer and expiry are right (issue #12 item 13)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kitflow_shared.settings import DEV_INTERNAL_SECRET
from kitflow_shared.web.identity import (
    DEFAULT_TTL,
    MAX_CLOCK_SKEW,
    Caller,
    Role,
    issue_internal_token,
    verify_internal_token,
)
from kitflow_shared.web.problems import Problem

CALLER = Caller(user="u", organisation="IOM", roles=frozenset({Role.COORDINATOR}))


def _refused(token: str) -> Problem:
    with pytest.raises(Problem) as refused:
        verify_internal_token(token, DEV_INTERNAL_SECRET)
    return refused.value


def test_a_token_of_the_gateways_lifetime_is_accepted() -> None:
    token = issue_internal_token(CALLER, DEV_INTERNAL_SECRET, DEFAULT_TTL)
    assert verify_internal_token(token, DEV_INTERNAL_SECRET) == CALLER


def test_a_token_issued_a_little_in_the_future_is_accepted_within_the_skew() -> None:
    ahead = datetime.now(UTC) + MAX_CLOCK_SKEW / 2
    token = issue_internal_token(CALLER, DEV_INTERNAL_SECRET, DEFAULT_TTL, ahead)
    assert verify_internal_token(token, DEV_INTERNAL_SECRET) == CALLER


@pytest.mark.parametrize(
    "ttl", [DEFAULT_TTL + MAX_CLOCK_SKEW + timedelta(seconds=1), timedelta(hours=12)]
)
def test_a_longer_lived_token_is_refused(ttl: timedelta) -> None:
    refused = _refused(issue_internal_token(CALLER, DEV_INTERNAL_SECRET, ttl))
    assert refused.status == 401
    assert "lifetime" in refused.detail


def test_a_token_dated_beyond_the_skew_in_the_future_is_refused() -> None:
    ahead = datetime.now(UTC) + MAX_CLOCK_SKEW + timedelta(seconds=5)
    refused = _refused(issue_internal_token(CALLER, DEV_INTERNAL_SECRET, DEFAULT_TTL, ahead))
    assert refused.status == 401
    assert "future" in refused.detail
