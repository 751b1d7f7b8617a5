"""Distribution's warehouse view, on a fake: newest state wins, repeats change nothing."""

from kitflow_distribution.handlers.projections import warehouse_changed
from kitflow_shared.contracts.stock import WAREHOUSE_REGISTERED, WAREHOUSE_UPDATED, WarehouseState
from kitflow_shared.events import EventContext
from kitflow_shared.messaging.idempotency import Applied

from tests.unit.distribution.fakes import FakeWarehouseView

V1 = WarehouseState(
    code="GAO",
    name="Gao",
    organisation="IOM",
    type="main",
    admin1_pcode="ML07",
    admin2_pcode="ML0701",
)
V2 = V1.model_copy(update={"capacity_m3": 500.0})


async def test_a_redelivered_event_changes_nothing() -> None:
    view = FakeWarehouseView()
    registered = WAREHOUSE_REGISTERED.new(
        V1, subject="warehouse/GAO", sequence=1, context=EventContext.new()
    )
    assert await warehouse_changed(registered, view) is Applied.APPLIED
    assert await warehouse_changed(registered, view) is Applied.DUPLICATE
    assert await view.all() == [(V1, 1)]


async def test_an_older_event_arriving_late_does_not_undo_a_newer_one() -> None:
    view = FakeWarehouseView()
    ctx = EventContext.new()
    updated = WAREHOUSE_UPDATED.new(V2, subject="warehouse/GAO", sequence=2, context=ctx)
    registered = WAREHOUSE_REGISTERED.new(V1, subject="warehouse/GAO", sequence=1, context=ctx)
    await warehouse_changed(updated, view)
    assert await warehouse_changed(registered, view) is Applied.DUPLICATE
    assert await view.all() == [(V2, 2)]
