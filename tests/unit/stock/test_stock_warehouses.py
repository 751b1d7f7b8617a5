"""Warehouses: the domain rules and the handlers, on fakes."""

from dataclasses import replace

import pytest
from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WAREHOUSE_UPDATED
from kitflow_shared.events import EventContext
from kitflow_shared.request_keys import IdempotencyKeyReused, RequestKey
from kitflow_stock.domain.errors import (
    ConcurrentChange,
    DuplicateWarehouse,
    InvalidInput,
    NotPermitted,
    UnknownWarehouse,
)
from kitflow_stock.domain.warehouses import (
    Coordinates,
    Warehouse,
    WarehouseChanged,
    WarehouseDetails,
    WarehouseKind,
    WarehouseRegistered,
)
from kitflow_stock.handlers.ports import Actor
from kitflow_stock.handlers.warehouses import (
    ChangeWarehouse,
    RegisterWarehouse,
    WarehouseHandlers,
)

from tests.unit.stock.fakes import FakeWarehouseRepository

MOPTI = WarehouseDetails(
    name="IOM Mopti",
    organisation="IOM",
    kind=WarehouseKind.SUB_OFFICE,
    admin1_pcode="ML05",
    admin2_pcode="ML0501",
    coordinates=Coordinates(14.49, -4.20),
    capacity_m3=800,
)
IOM_COORDINATOR = Actor(user="awa", organisation="IOM")
NRC_COORDINATOR = Actor(user="lars", organisation="NRC")
ADMIN = Actor(user="root", organisation="OCHA", admin=True)


def test_registering_records_one_event_at_version_one() -> None:
    w = Warehouse.register("MOP-SUB", MOPTI)
    assert w.sequence == 1
    assert w.events == [WarehouseRegistered(w.snapshot())]


def test_a_cercle_must_lie_in_its_region() -> None:
    with pytest.raises(InvalidInput) as err:
        Warehouse.register("X", replace(MOPTI, admin2_pcode="ML0701"))
    assert err.value.field == "admin2_pcode"
    assert "ML05" in err.value.reason


def test_blank_names_and_empty_capacity_are_refused() -> None:
    with pytest.raises(InvalidInput, match="name"):
        Warehouse.register("X", replace(MOPTI, name="   "))
    with pytest.raises(InvalidInput, match="capacity_m3"):
        Warehouse.register("X", replace(MOPTI, capacity_m3=0))


def test_a_change_bumps_the_version_and_no_change_records_nothing() -> None:
    w = Warehouse.register("MOP-SUB", MOPTI)
    w.events.clear()
    assert not w.change(MOPTI)
    assert w.events == []
    assert w.sequence == 1
    assert w.change(replace(MOPTI, capacity_m3=900))
    assert w.sequence == 2
    assert w.events == [WarehouseChanged(w.snapshot())]


async def test_registering_stores_the_warehouse_with_its_registered_event() -> None:
    repo = FakeWarehouseRepository()
    ctx = EventContext.new()
    await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse("MOP-SUB", MOPTI), IOM_COORDINATOR, ctx
    )
    assert repo.rows["MOP-SUB"].details == MOPTI
    [event] = repo.published
    assert event.type == WAREHOUSE_REGISTERED.type
    assert event.sequence == 1
    assert event.correlationid == ctx.correlation_id
    assert WAREHOUSE_REGISTERED.parse(event).admin2_pcode == "ML0501"


async def test_a_code_is_registered_once() -> None:
    repo = FakeWarehouseRepository()
    cmd = RegisterWarehouse("MOP-SUB", MOPTI)
    await WarehouseHandlers(repo).register_warehouse(cmd, IOM_COORDINATOR, EventContext.new())
    with pytest.raises(DuplicateWarehouse):
        await WarehouseHandlers(repo).register_warehouse(cmd, IOM_COORDINATOR, EventContext.new())
    assert len(repo.published) == 1


async def test_only_an_admin_registers_for_another_organisation() -> None:
    repo = FakeWarehouseRepository()
    with pytest.raises(NotPermitted):
        await WarehouseHandlers(repo).register_warehouse(
            RegisterWarehouse("MOP-SUB", MOPTI), NRC_COORDINATOR, EventContext.new()
        )
    assert repo.rows == {}
    await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse("MOP-SUB", MOPTI), ADMIN, EventContext.new()
    )
    assert "MOP-SUB" in repo.rows


async def test_changing_publishes_the_new_state_with_the_next_sequence() -> None:
    repo = FakeWarehouseRepository()
    await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse("MOP-SUB", MOPTI), IOM_COORDINATOR, EventContext.new()
    )
    await WarehouseHandlers(repo).change_warehouse(
        ChangeWarehouse("MOP-SUB", {"capacity_m3": 1200.0}),
        IOM_COORDINATOR,
        EventContext.new(),
    )
    event = repo.published[-1]
    assert event.type == WAREHOUSE_UPDATED.type
    assert event.sequence == 2
    assert WAREHOUSE_UPDATED.parse(event).capacity_m3 == 1200.0


async def test_another_organisation_cannot_change_a_warehouse_nor_take_it_over() -> None:
    repo = FakeWarehouseRepository()
    await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse("MOP-SUB", MOPTI), IOM_COORDINATOR, EventContext.new()
    )
    with pytest.raises(NotPermitted):
        await WarehouseHandlers(repo).change_warehouse(
            ChangeWarehouse("MOP-SUB", {"name": "Ours"}), NRC_COORDINATOR, EventContext.new()
        )
    with pytest.raises(NotPermitted):
        await WarehouseHandlers(repo).change_warehouse(
            ChangeWarehouse("MOP-SUB", {"organisation": "NRC"}),
            IOM_COORDINATOR,
            EventContext.new(),
        )
    assert repo.rows["MOP-SUB"].details == MOPTI
    assert len(repo.published) == 1


async def test_a_change_retries_after_a_concurrent_write_and_gives_up_eventually() -> None:
    repo = FakeWarehouseRepository()
    await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse("MOP-SUB", MOPTI), IOM_COORDINATOR, EventContext.new()
    )
    repo.conflicts_to_inject = 2
    await WarehouseHandlers(repo).change_warehouse(
        ChangeWarehouse("MOP-SUB", {"name": "Mopti"}), IOM_COORDINATOR, EventContext.new()
    )
    assert repo.rows["MOP-SUB"].details.name == "Mopti"
    repo.conflicts_to_inject = 99
    with pytest.raises(ConcurrentChange):
        await WarehouseHandlers(repo).change_warehouse(
            ChangeWarehouse("MOP-SUB", {"name": "Again"}), IOM_COORDINATOR, EventContext.new()
        )


async def test_changing_an_unknown_warehouse_says_so() -> None:
    with pytest.raises(UnknownWarehouse):
        await WarehouseHandlers(FakeWarehouseRepository()).change_warehouse(
            ChangeWarehouse("NOPE", {"name": "x"}),
            ADMIN,
            EventContext.new(),
        )


def _key(key: str, body: str) -> RequestKey:
    return RequestKey("IOM", key, body)


async def test_a_repeated_registration_with_its_key_answers_with_the_first_warehouse() -> None:
    repo = FakeWarehouseRepository()
    cmd = RegisterWarehouse("MOP-SUB", MOPTI)
    first = await WarehouseHandlers(repo).register_warehouse(
        cmd, IOM_COORDINATOR, EventContext.new(), _key("reg-key-1", "mopti")
    )
    again = await WarehouseHandlers(repo).register_warehouse(
        cmd, IOM_COORDINATOR, EventContext.new(), _key("reg-key-1", "mopti")
    )
    assert (first.replayed, again.replayed) == (False, True)
    assert again.value == first.value
    assert len(repo.published) == 1
    with pytest.raises(IdempotencyKeyReused):
        await WarehouseHandlers(repo).register_warehouse(
            RegisterWarehouse("GAO-SUB", MOPTI),
            IOM_COORDINATOR,
            EventContext.new(),
            _key("reg-key-1", "gao"),
        )


async def test_a_repeated_change_does_not_undo_a_change_made_in_between() -> None:
    """Even a change that changed nothing is remembered with its key: repeated after someone
    else's change, it must answer as before, not apply again."""
    repo = FakeWarehouseRepository()
    await WarehouseHandlers(repo).register_warehouse(
        RegisterWarehouse("MOP-SUB", MOPTI), IOM_COORDINATOR, EventContext.new()
    )
    keep_open = ChangeWarehouse("MOP-SUB", {"active": True})
    key = _key("keep-open-1", "active=true")
    first = await WarehouseHandlers(repo).change_warehouse(
        keep_open, IOM_COORDINATOR, EventContext.new(), key
    )
    assert (first.replayed, first.value.sequence) == (False, 1)
    await WarehouseHandlers(repo).change_warehouse(
        ChangeWarehouse("MOP-SUB", {"active": False}), ADMIN, EventContext.new()
    )
    again = await WarehouseHandlers(repo).change_warehouse(
        keep_open, IOM_COORDINATOR, EventContext.new(), key
    )
    assert again.replayed
    assert repo.rows["MOP-SUB"].details.active is False
