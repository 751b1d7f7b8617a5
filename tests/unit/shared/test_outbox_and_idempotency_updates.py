"""The update documents the plumbing builds (their effect on a real store is in tests/contract)."""

import pytest
from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WarehouseState
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.idempotency import _merge
from kitflow_shared.messaging.outbox import with_outbox

STATE = WarehouseState(
    code="GAO",
    name="Gao",
    organisation="IOM",
    type="main",
    admin1_pcode="ML07",
    admin2_pcode="ML0701",
)


def test_with_outbox_appends_the_events_in_the_same_update() -> None:
    event = WAREHOUSE_REGISTERED.new(
        STATE, subject="warehouse/GAO", sequence=2, context=EventContext.new()
    )
    update = with_outbox({"$set": {"name": "Gao"}, "$push": {"log": 1}}, [event])
    assert update["$set"] == {"name": "Gao"}
    assert update["$push"]["log"] == 1
    assert update["$push"]["outbox"] == {"$each": [event.to_document()]}


def test_with_outbox_leaves_the_callers_update_untouched_and_ignores_no_events() -> None:
    original = {"$set": {"a": 1}}
    assert with_outbox(original, []) is original
    event = WAREHOUSE_REGISTERED.new(STATE, subject="w", sequence=1, context=EventContext.new())
    with_outbox(original, [event])
    assert original == {"$set": {"a": 1}}


def test_with_outbox_refuses_a_second_outbox_push() -> None:
    event = WAREHOUSE_REGISTERED.new(STATE, subject="w", sequence=1, context=EventContext.new())
    with pytest.raises(ValueError, match="already pushes"):
        with_outbox({"$push": {"outbox": 1}}, [event])


def test_the_guard_refuses_to_overwrite_a_field_the_update_sets() -> None:
    assert _merge({"$set": {"a": 1}}, "$set", {"sequence": 2}) == {"$set": {"a": 1, "sequence": 2}}
    with pytest.raises(ValueError, match="already sets"):
        _merge({"$set": {"sequence": 1}}, "$set", {"sequence": 2})
