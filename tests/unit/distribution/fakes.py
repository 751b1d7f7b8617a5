"""Hand-written fakes of the distribution service's ports (never mocks of libraries)."""

from __future__ import annotations

from collections.abc import Sequence

from kitflow_shared.contracts.stock import WarehouseState
from kitflow_shared.messaging.idempotency import Applied


class FakeWarehouseView:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[WarehouseState, int]] = {}

    async def apply(self, state: WarehouseState, sequence: int) -> Applied:
        held = self.rows.get(state.code)
        if held is not None and held[1] >= sequence:
            return Applied.DUPLICATE
        self.rows[state.code] = (state, sequence)
        return Applied.APPLIED

    async def apply_many(self, changes: Sequence[tuple[WarehouseState, int]]) -> list[Applied]:
        return [await self.apply(state, sequence) for state, sequence in changes]

    async def all(self) -> list[tuple[WarehouseState, int]]:
        return [self.rows[k] for k in sorted(self.rows)]
