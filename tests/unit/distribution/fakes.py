"""Hand-written fakes of the distribution service's ports (never mocks of libraries)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kitflow_distribution.domain.gap_cells import Cell, CellChange
from kitflow_distribution.domain.gaps import ItemGap, WeekChange
from kitflow_distribution.handlers.ports import GapWrite, NeedPlace, StoredGap
from kitflow_shared.contracts.catalogue import ItemState
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


class FakeItemView:
    """The catalogue's sectors; counts its reads (the batch reads them once per poll)."""

    def __init__(self, sectors: dict[str, str]) -> None:
        self._sectors = dict(sectors)
        self.reads = 0

    async def apply(self, state: ItemState, sequence: int) -> Applied:
        self._sectors[state.code] = state.category.value
        return Applied.APPLIED

    async def sectors(self) -> dict[str, str]:
        self.reads += 1
        return dict(self._sectors)

    async def units(self) -> dict[str, str]:
        return dict.fromkeys(self._sectors, "kit")


class FakeGapView:
    """The gap documents and their cells in memory, with the same guards as the store's: a
    write is kept only if its sequence is newer and the document is still at its version."""

    def __init__(self) -> None:
        self.docs: dict[str, StoredGap] = {}
        self.cells: dict[Cell, dict[str, int]] = {}
        self.batches = 0

    async def get(self, need_id: str) -> StoredGap | None:
        return self.docs.get(need_id)

    async def get_many(self, need_ids: Collection[str]) -> dict[str, StoredGap]:
        return {n: self.docs[n] for n in need_ids if n in self.docs}

    async def apply(
        self,
        place: NeedPlace,
        sequence: int,
        gaps: Sequence[ItemGap],
        changes: Sequence[WeekChange],
        cells: Sequence[CellChange],
        version: int,
    ) -> bool:
        held = self.docs.get(place.need_id)
        if (held.sequence if held else 0) >= sequence or (held.version if held else 0) != version:
            return False
        weeks = [*(held.weeks if held else []), *changes]
        self.docs[place.need_id] = StoredGap(place, list(gaps), weeks, sequence, version + 1)
        for change in cells:
            cell = self.cells.setdefault(change.cell, {})
            for name, amount in change.inc.items():
                cell[name] = cell.get(name, 0) + amount
        return True

    async def apply_many(self, writes: Sequence[GapWrite]) -> list[bool]:
        self.batches += 1
        return [
            await self.apply(w.place, w.sequence, w.gaps, w.changes, w.cells, w.version)
            for w in writes
        ]

    def totals(self) -> dict[Cell, dict[str, int]]:
        """The cells as a reader sees them: figures at 0 and empty cells left out."""
        out = {}
        for cell, figures in self.cells.items():
            kept = {name: amount for name, amount in figures.items() if amount}
            if kept:
                out[cell] = kept
        return out
