from datetime import UTC, datetime, timedelta, timezone

import pytest
from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WarehouseState, warehouse_subject
from kitflow_shared.events import CloudEvent, EventContext, registry
from kitflow_shared.events.registry import EventRegistry, UnknownEventTypeError
from pydantic import BaseModel, ValidationError

MOPTI = WarehouseState(
    code="MOP-SUB",
    name="Mopti",
    organisation="IOM",
    type="sub-office",
    admin1_pcode="ML05",
    admin2_pcode="ML0501",
)


def test_an_event_carries_its_aggregate_as_subject_and_partition_key() -> None:
    ctx = EventContext.new()
    event = WAREHOUSE_REGISTERED.new(
        MOPTI, subject=warehouse_subject("MOP-SUB"), sequence=1, context=ctx
    )
    assert event.subject == event.partitionkey == "warehouse/MOP-SUB"
    assert event.type == "org.kitflow.stock.warehouse.registered.v1"
    assert event.source == "/services/stock"
    assert event.correlationid == ctx.correlation_id
    assert event.causationid is None


def test_an_event_round_trips_through_bytes_and_the_outbox_form_exactly() -> None:
    event = WAREHOUSE_REGISTERED.new(
        MOPTI, subject="warehouse/MOP-SUB", sequence=3, context=EventContext.new()
    )
    assert CloudEvent.from_bytes(event.to_bytes()) == event
    assert CloudEvent.from_document(event.to_document()) == event
    assert WAREHOUSE_REGISTERED.parse(event) == MOPTI


def test_the_outbox_form_is_the_event_json_with_its_id_and_type() -> None:
    event = WAREHOUSE_REGISTERED.new(MOPTI, subject="w", sequence=2, context=EventContext.new())
    entry = event.to_document()
    assert entry["id"] == event.id
    assert entry["type"] == event.type
    assert CloudEvent.from_bytes(entry["json"].encode()) == event


def test_outbox_entries_of_earlier_versions_nested_documents_are_still_read() -> None:
    event = WAREHOUSE_REGISTERED.new(MOPTI, subject="w", sequence=2, context=EventContext.new())
    assert CloudEvent.from_document(event.model_dump(mode="json")) == event


def test_event_times_are_kept_in_utc() -> None:
    event = WAREHOUSE_REGISTERED.new(MOPTI, subject="w", sequence=1, context=EventContext.new())
    shifted = event.model_copy(update={}).model_dump()
    shifted["time"] = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert CloudEvent.model_validate(shifted).time == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_naive_times_and_unknown_attributes_are_refused() -> None:
    event = WAREHOUSE_REGISTERED.new(MOPTI, subject="w", sequence=1, context=EventContext.new())
    naive = {**event.model_dump(mode="json"), "time": "2026-01-01T10:00:00"}
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(naive)
    with pytest.raises(ValidationError):
        CloudEvent.model_validate({**event.model_dump(mode="json"), "surprise": 1})


def test_a_caused_event_keeps_the_correlation_and_names_its_cause() -> None:
    cause = WAREHOUSE_REGISTERED.new(MOPTI, subject="w", sequence=1, context=EventContext.new())
    ctx = EventContext.caused_by(cause)
    assert ctx.correlation_id == cause.correlationid
    assert ctx.causation_id == cause.id


def test_parsing_checks_the_type() -> None:
    other = CloudEvent(
        source="/services/stock",
        type="org.kitflow.stock.other.v1",
        subject="s",
        data={},
        correlationid="c",
        partitionkey="s",
        sequence=1,
    )
    with pytest.raises(ValueError, match="expected an event of type"):
        WAREHOUSE_REGISTERED.parse(other)


def test_the_global_registry_knows_the_stock_contracts() -> None:
    assert registry.get("org.kitflow.stock.warehouse.updated.v1").service == "stock"
    with pytest.raises(UnknownEventTypeError):
        registry.get("org.kitflow.stock.nothing.v1")


class _Payload(BaseModel):
    x: int


@pytest.mark.parametrize(
    "type_",
    [
        "StockReserved",
        "org.kitflow.stock.reserved",
        "org.kitflow.stock.Reserved.v1",
        "org.kitflow.stock.reserved.v0",
    ],
)
def test_type_strings_must_be_explicit_and_versioned(type_: str) -> None:
    with pytest.raises(ValueError, match="not of the form"):
        EventRegistry().register(type_, _Payload, service="stock", description="")


def test_a_service_registers_only_its_own_types_and_each_once() -> None:
    reg = EventRegistry()
    with pytest.raises(ValueError, match="not owned"):
        reg.register("org.kitflow.needs.thing.v1", _Payload, service="stock", description="")
    reg.register("org.kitflow.stock.thing.v1", _Payload, service="stock", description="")
    with pytest.raises(ValueError, match="twice"):
        reg.register("org.kitflow.stock.thing.v1", _Payload, service="stock", description="")
