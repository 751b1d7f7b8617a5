"""The pure part of Idempotency-Key at the service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    IdempotencyKeyReused,
    RememberedRequest,
    RequestKey,
    fingerprint,
    key_problem,
    remembered_in,
    replayed_result,
    requests_projection,
    with_remembered,
)

KEY = RequestKey("NRC", "abcdefgh-1", fingerprint("POST", "/v1/x", "", b"{}"))
AT = datetime(2026, 12, 6, tzinfo=UTC)


def test_a_new_key_has_no_replay() -> None:
    assert replayed_result(None, KEY) is None


def test_the_same_request_replays_its_first_result() -> None:
    assert replayed_result(RememberedRequest.of(KEY, "MV-1", AT), KEY) == "MV-1"


def test_the_same_key_for_another_request_is_refused() -> None:
    other = RequestKey("NRC", KEY.key, fingerprint("POST", "/v1/x", "", b'{"a": 1}'))
    with pytest.raises(IdempotencyKeyReused) as raised:
        replayed_result(RememberedRequest.of(KEY, "MV-1", AT), other)
    assert KEY.key in str(raised.value)


def test_two_organisations_may_choose_the_same_key() -> None:
    assert RequestKey("IRC", KEY.key, KEY.fingerprint).token != KEY.token
    doc = {REQUESTS_FIELD: [RememberedRequest.of(KEY, "MV-1", AT).to_document()]}
    assert remembered_in(doc, RequestKey("IRC", KEY.key, KEY.fingerprint)) is None
    assert remembered_in(doc, KEY) == RememberedRequest.of(KEY, "MV-1", AT)


def test_remembering_joins_the_update_and_bounds_the_list() -> None:
    update = with_remembered({"$set": {"a": 1}}, [RememberedRequest.of(KEY, "MV-1", AT)], keep=7)
    assert update["$set"] == {"a": 1}
    assert update["$push"][REQUESTS_FIELD]["$slice"] == -7
    assert update["$push"][REQUESTS_FIELD]["$each"][0]["token"] == "NRC:abcdefgh-1"
    assert with_remembered({"$set": {"a": 1}}, []) == {"$set": {"a": 1}}
    with pytest.raises(ValueError, match="already pushes"):
        with_remembered(update, [RememberedRequest.of(KEY, "MV-2", AT)])


def test_only_the_keys_entry_is_projected() -> None:
    assert requests_projection(None) == {}
    assert requests_projection(KEY) == {REQUESTS_FIELD: {"$elemMatch": {"token": "NRC:abcdefgh-1"}}}


@pytest.mark.parametrize(
    ("key", "ok"),
    [("short", False), ("a" * 201, False), ("clé-unique-1", False), ("offline-7f3a-0001", True)],
)
def test_keys_are_8_to_200_printable_ascii_characters(key: str, ok: bool) -> None:
    assert (key_problem(key) is None) is ok
