from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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


# --------------------------------------------------------------- events rendered for the outbox

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=12), json_values, max_size=6),
    time=st.datetimes(datetime(1971, 1, 1), datetime(2200, 1, 1), timezones=offsets),
    subject=st.text(min_size=1, max_size=30),
    sequence=st.integers(min_value=1, max_value=2**40),
    causation=st.none() | st.text(min_size=1, max_size=20),
)
def test_a_rendered_event_is_exactly_the_event_model_in_its_stored_form(
    data: dict[str, object], time: datetime, subject: str, sequence: int, causation: str | None
) -> None:
    context = EventContext("corr-1", causation)
    rendered = WAREHOUSE_REGISTERED.render(
        data, subject=subject, sequence=sequence, context=context, time=time
    )
    event = CloudEvent.from_document(rendered.to_document())
    # The same event built and validated as a model dumps to the very same bytes.
    assert event.model_dump_json() == rendered.json
    assert rendered.to_document() == {"id": event.id, "type": event.type, "json": rendered.json}
    assert event == WAREHOUSE_REGISTERED.wrap(
        data, subject=subject, sequence=sequence, context=context
    ).model_copy(update={"id": rendered.id, "time": time.astimezone(UTC)})
    assert rendered.event() == event


def test_rendering_refuses_what_the_envelope_would_refuse() -> None:
    context = EventContext.new()
    with pytest.raises(ValueError, match="timezone-aware"):
        WAREHOUSE_REGISTERED.render(
            {}, subject="w/1", sequence=1, context=context, time=datetime(2025, 1, 1)
        )
    for subject, sequence in (("", 1), ("w/1", 0)):
        with pytest.raises(ValueError, match="subject and a sequence"):
            WAREHOUSE_REGISTERED.render(
                {}, subject=subject, sequence=sequence, context=context, time=datetime.now(UTC)
            )


def test_each_rendered_event_has_its_own_id() -> None:
    now = datetime.now(UTC)
    ids = {
        WAREHOUSE_REGISTERED.render(
            {}, subject="w/1", sequence=1, context=EventContext.new(), time=now
        ).id
        for _ in range(1_000)
    }
    assert len(ids) == 1_000
