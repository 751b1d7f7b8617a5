"""A need's pending change brought to the gap cells exactly once, each cell keeping a guard
entry for a need only while that need's change is in flight (ADR 0037, refining ADR 0027).

Each cell holds `seen.<need>` (the version of the need's change it holds) and an `epoch`. A
change reaches its cells in three steps after its gap document was written with it as
`pending`:
1. each cell is `$inc`-ed only if it holds no `seen.<need>` as new, and only if its `epoch`
   is still the one read BEFORE the change was last known to be pending on the document (its
   own write, or a re-read of the document); `seen.<need>` is set in the same update;
2. the document's `pending` is cleared;
3. each cell forgets the need (`$unset` of `seen.<need>` while it still names that version)
   and moves its `epoch` on.
A cell forgets a change only after the document dropped it, and a settler that read the cell
before the document still held it is refused by the epoch: so no settler can add a change
twice, however late it comes, and a cell holds entries only for changes in flight.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

from kitflow_distribution.domain.gap_cells import CellKind

SEEN = "seen"
EPOCH = "epoch"
PENDING = "pending"
DUPLICATE_KEY = 11000
# Rounds of "refused, read again" before giving up: each is another writer's change to the
# same cell in between, so the consumer's retry (one event at a time) takes over after these.
SETTLE_ATTEMPTS = 20

Document = dict[str, Any]


class CellsChangedMeanwhile(Exception):
    """The cells kept changing under a change being settled; the event is handled again."""


@dataclass(frozen=True)
class Change:
    """A need's change on its way to the cells: the version its gap document took with it and
    each cell's part (`{"cell": {...}, "inc": {...}}`)."""

    need_id: str
    version: int
    cells: list[Document]


@dataclass(frozen=True)
class CellRead:
    epoch: int = 0
    seen: dict[str, int] = field(default_factory=dict)


def seen_key(need_id: str) -> str:
    """The need's key in a cell's `seen` (a field name holds no "." and starts with no "$")."""
    return need_id.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def _seen(need_id: str) -> str:
    return f"{SEEN}.{seen_key(need_id)}"


class PendingChanges:
    """The cells' side of the gap documents' pending changes."""

    def __init__(
        self,
        gaps: AsyncCollection[Document],
        cells: Mapping[CellKind, AsyncCollection[Document]],
    ) -> None:
        self._gaps = gaps
        self._cells = cells

    async def read_cells(self, changes: Sequence[Change]) -> dict[str, CellRead]:
        """The epoch and guard entries of every cell the changes touch: read before the
        changes are (again) known to be pending on their documents."""
        ids: dict[CellKind, set[str]] = defaultdict(set)
        for change in changes:
            for part in change.cells:
                ids[CellKind(part["cell"]["kind"])].add(part["cell"]["_id"])
        found = await asyncio.gather(*(self._read(kind, wanted) for kind, wanted in ids.items()))
        return {cell_id: read for reads in found for cell_id, read in reads.items()}

    async def _read(self, kind: CellKind, ids: set[str]) -> dict[str, CellRead]:
        reads = {cell_id: CellRead() for cell_id in ids}
        query = {"_id": {"$in": sorted(ids)}}
        async for doc in self._cells[kind].find(query, {EPOCH: 1, SEEN: 1}):
            reads[doc["_id"]] = CellRead(doc.get(EPOCH, 0), doc.get(SEEN, {}))
        return reads

    async def complete(self, changes: Sequence[Change]) -> None:
        """Changes found pending on their documents (a crash's; another settler may have
        completed them since): the cells read first, then the documents again."""
        changes = [c for c in changes if c.cells]
        if not changes:
            return
        reads = await self.read_cells(changes)
        await self.settle(await self._still_pending(changes), reads, forget=changes)

    async def settle(
        self,
        changes: Sequence[Change],
        reads: Mapping[str, CellRead],
        forget: Sequence[Change] | None = None,
    ) -> None:
        """Steps 1-3 for changes known pending after `reads` were read (each need once)."""
        todo = [c for c in changes if c.cells]
        for _ in range(SETTLE_ATTEMPTS):
            refused = await self._add(todo, reads)
            if not refused:
                break
            reads = await self.read_cells(refused)
            todo = await self._still_pending(refused)
        else:
            raise CellsChangedMeanwhile
        done = [c for c in (changes if forget is None else forget) if c.cells]
        if done:
            await self._gaps.bulk_write(
                [
                    UpdateOne({"_id": c.need_id, f"{PENDING}.version": c.version}, _UNSET_PENDING)
                    for c in done
                ],
                ordered=False,
            )
            await asyncio.gather(*(self._forget(kind, done) for kind in self._cells))

    async def _still_pending(self, changes: Sequence[Change]) -> list[Change]:
        if not changes:
            return []
        query = {"_id": {"$in": [c.need_id for c in changes]}}
        held = {
            doc["_id"]: doc.get(PENDING, {}).get("version")
            async for doc in self._gaps.find(query, {f"{PENDING}.version": 1})
        }
        return [c for c in changes if held.get(c.need_id) == c.version]

    async def _add(self, changes: Sequence[Change], reads: Mapping[str, CellRead]) -> list[Change]:
        """Step 1 for every kind of cell side by side; what the cells refused, per need."""
        refused = await asyncio.gather(
            *(self._add_kind(kind, changes, reads) for kind in self._cells)
        )
        per_need: dict[tuple[str, int], list[Document]] = defaultdict(list)
        for change, part in (pair for pairs in refused for pair in pairs):
            per_need[(change.need_id, change.version)].append(part)
        return [Change(need, version, parts) for (need, version), parts in per_need.items()]

    async def _add_kind(
        self, kind: CellKind, changes: Sequence[Change], reads: Mapping[str, CellRead]
    ) -> list[tuple[Change, Document]]:
        per_cell: dict[str, list[tuple[Change, Document]]] = defaultdict(list)
        for change in changes:
            for part in change.cells:
                cell_id = part["cell"]["_id"]
                held = reads[cell_id].seen.get(seen_key(change.need_id), 0)
                if part["cell"]["kind"] == kind and held < change.version:
                    per_cell[cell_id].append((change, part))
        if not per_cell:
            return []
        ids = list(per_cell)
        updates = [_add_update(i, per_cell[i], reads[i].epoch) for i in ids]
        try:
            await self._cells[kind].bulk_write(updates, ordered=False)
        except BulkWriteError as exc:
            return [pair for n in _refusals(exc) for pair in per_cell[ids[n]]]
        return []

    async def _forget(self, kind: CellKind, changes: Sequence[Change]) -> None:
        """Step 3: one update per cell; if any of its entries names another version by now
        (the need's next change, in flight), each entry on its own."""
        per_cell: dict[str, dict[str, int]] = defaultdict(dict)
        for change in changes:
            for part in change.cells:
                if part["cell"]["kind"] == kind:
                    per_cell[part["cell"]["_id"]][_seen(change.need_id)] = change.version
        if not per_cell:
            return
        collection = self._cells[kind]
        result = await collection.bulk_write(
            [_forget_update(i, entries) for i, entries in per_cell.items()], ordered=False
        )
        if result.matched_count < len(per_cell):
            await collection.bulk_write(
                [
                    _forget_update(i, {name: version})
                    for i, entries in per_cell.items()
                    for name, version in entries.items()
                ],
                ordered=False,
            )


_UNSET_PENDING: Document = {"$unset": {PENDING: ""}}


def _add_update(cell_id: str, parts: Sequence[tuple[Change, Document]], epoch: int) -> UpdateOne:
    """One cell moved by the changes of one or more needs: only if it is still at `epoch` and
    holds none of them yet (so it takes all of them or none), marking it as holding them."""
    guard: Document = {"_id": cell_id, EPOCH: epoch if epoch else {"$not": {"$gt": 0}}}
    seen: Document = {}
    inc: dict[str, int] = defaultdict(int)
    for change, part in parts:
        guard[_seen(change.need_id)] = {"$not": {"$gte": change.version}}
        seen[_seen(change.need_id)] = change.version
        for name, amount in part["inc"].items():
            inc[name] += amount
    update: Document = {"$set": {**parts[0][1]["cell"], **seen}}
    moved = {name: amount for name, amount in inc.items() if amount}
    if moved:
        update["$inc"] = moved
    return UpdateOne(guard, update, upsert=True)


def _forget_update(cell_id: str, entries: Mapping[str, int]) -> UpdateOne:
    return UpdateOne(
        {"_id": cell_id, **entries},
        {"$unset": dict.fromkeys(entries, ""), "$inc": {EPOCH: 1}},
    )


def _refusals(exc: BulkWriteError) -> list[int]:
    """The writes of a bulk write whose guard refused (a duplicate key on the upsert's insert),
    or re-raised if anything else failed."""
    errors = exc.details.get("writeErrors", [])
    if any(e.get("code") != DUPLICATE_KEY for e in errors):
        raise exc
    return [e["index"] for e in errors]
