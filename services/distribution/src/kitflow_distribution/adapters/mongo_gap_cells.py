"""The gap view in MongoDB (ADR 0026, 0027, 0037): one document per need, the source of truth,
and the cells pre-summed from them that the totals are read from.

A need's change is written in two steps, each safe to repeat:
1. its document, guarded by the need's sequence and the document's version, with the cells'
   changes it implies kept on it as `pending` (one atomic update);
2. the cells, each `$inc`-ed at most once per change (`gap_cell_settling`: a guard entry per
   need only while its change is in flight, ADR 0037); then `pending` is cleared.
A crash between two cells leaves `pending` on the document: the next read of the need (the
redelivered event, or the need's next event) applies what is missing before anything else, and
the cells already done refuse it. A document is never changed again while it holds a pending
change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kitflow_distribution.adapters.gap_cell_settling import (
    DUPLICATE_KEY,
    PENDING,
    Change,
    PendingChanges,
)
from kitflow_distribution.domain.gap_cells import (
    ITEM_FIGURES,
    SECTOR_HOUSEHOLDS,
    CellChange,
    CellKind,
    NeedWhere,
    cell_changes,
    contribution,
)
from kitflow_distribution.domain.gaps import ItemGap, WeekChange
from kitflow_distribution.handlers.ports import (
    AreaItemGap,
    AreaSectorGap,
    GapFilter,
    GapWrite,
    NeedPlace,
    StoredGap,
    WeekItemTotals,
)

SEQUENCE = "sequence"
VERSION = "version"
ITEM_TOTALS = ("needs", *ITEM_FIGURES)
SECTOR_TOTALS = ("needs", "households", *SECTOR_HOUSEHOLDS)
WEEK_TOTALS = ("requested", "planned", "delivered")
PLACE_FIELDS = ("organisation", "status", "admin1_pcode", "admin2_pcode", "households")

# Pending changes completed together by the periodic job and the rebuild.
SETTLE_CHUNK = 200

Document = dict[str, Any]


def _cell_doc(change: CellChange) -> Document:
    return {"cell": {**asdict(change.cell), "_id": change.cell.id}, "inc": change.inc}


def _version_is(version: int) -> Document:
    return {VERSION: version} if version else {VERSION: {"$exists": False}}


def _stored(doc: Document) -> StoredGap:
    return StoredGap(
        place=NeedPlace(need_id=doc["_id"], **{k: doc[k] for k in PLACE_FIELDS}),
        items=[ItemGap(**item) for item in doc["items"]],
        weeks=[WeekChange(**week) for week in doc.get("weeks", [])],
        sequence=doc[SEQUENCE],
        version=doc.get(VERSION, 0),
    )


class MongoGapView:
    def __init__(
        self,
        gaps: AsyncCollection[Document],
        cells: Mapping[CellKind, AsyncCollection[Document]],
    ) -> None:
        self._gaps = gaps
        self._cells = cells

    @property
    def _pending(self) -> PendingChanges:
        # Built on each use: the tests swap `_cells` for collections that crash or interleave.
        return PendingChanges(self._gaps, self._cells)

    # -- writes ------------------------------------------------------------------------------

    async def get(self, need_id: str) -> StoredGap | None:
        doc = await self._gaps.find_one({"_id": need_id})
        if doc is None:
            return None
        if doc.get(PENDING) is not None:
            await self._pending.complete([_pending_change(doc)])
        return _stored(doc)

    async def get_many(self, need_ids: Collection[str]) -> dict[str, StoredGap]:
        docs = [doc async for doc in self._gaps.find({"_id": {"$in": list(need_ids)}})]
        await self._pending.complete(
            [_pending_change(doc) for doc in docs if doc.get(PENDING) is not None]
        )
        return {doc["_id"]: _stored(doc) for doc in docs}

    async def apply(
        self,
        place: NeedPlace,
        sequence: int,
        gaps: Sequence[ItemGap],
        changes: Sequence[WeekChange],
        cells: Sequence[CellChange],
        version: int,
    ) -> bool:
        write = GapWrite(place, sequence, gaps, changes, cells, version)
        change = _change(write)
        # The cells read before the document is written: see `gap_cell_settling`.
        reads = await self._pending.read_cells([change])
        if not await self._write(_guard(write), self._update(write)):
            return False
        await self._pending.settle([change], reads)
        return True

    async def apply_many(self, writes: Sequence[GapWrite]) -> list[bool]:
        """Step 1 for every need in one unordered `bulk_write` (one document each), then step 2
        for all of them together: a cell that several of them move gets one update, the sum of
        their changes (it takes all of them or none)."""
        if not writes:
            return []
        reads = await self._pending.read_cells([_change(w) for w in writes])
        refused: set[int] = set()
        try:
            await self._gaps.bulk_write(
                [UpdateOne(_guard(w), self._update(w), upsert=True) for w in writes],
                ordered=False,
            )
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            # As in `_write`: the guard refused, or the document was created meanwhile.
            for error in errors:
                write = writes[error["index"]]
                result = await self._gaps.update_one(_guard(write), self._update(write))
                if not result.matched_count:
                    refused.add(error["index"])
        applied = [n not in refused for n in range(len(writes))]
        done = [_change(w) for w, ok in zip(writes, applied, strict=True) if ok]
        await self._pending.settle(done, reads)
        return applied

    def _update(self, write: GapWrite) -> Document:
        place_fields = asdict(write.place)
        place_fields.pop("need_id")
        update: Document = {
            "$set": {
                **place_fields,
                "items": [asdict(g) for g in write.gaps],
                SEQUENCE: write.sequence,
                **self._next(write.version, write.cells),
            }
        }
        if write.changes:
            update["$push"] = {"weeks": {"$each": [asdict(c) for c in write.changes]}}
        return update

    async def refile(
        self,
        stored: StoredGap,
        gaps: Sequence[ItemGap],
        weeks: Sequence[WeekChange],
        cells: Sequence[CellChange],
    ) -> bool:
        update = {
            "$set": {
                "items": [asdict(g) for g in gaps],
                "weeks": [asdict(w) for w in weeks],
                **self._next(stored.version, cells),
            }
        }
        need_id = stored.place.need_id
        change = Change(need_id, stored.version + 1, [_cell_doc(c) for c in cells])
        reads = await self._pending.read_cells([change])
        guard = {"_id": need_id, SEQUENCE: stored.sequence, **_version_is(stored.version)}
        result = await self._gaps.update_one(guard, update)
        if not result.matched_count:
            return False
        await self._pending.settle([change], reads)
        return True

    async def needs_filed_elsewhere(self, item_code: str, sector: str) -> list[str]:
        elsewhere = {"$elemMatch": {"item_code": item_code, "sector": {"$ne": sector}}}
        query = {"$or": [{"items": elsewhere}, {"weeks": elsewhere}]}
        return [doc["_id"] async for doc in self._gaps.find(query, {"_id": 1})]

    @staticmethod
    def _next(version: int, cells: Sequence[CellChange]) -> Document:
        out: Document = {VERSION: version + 1}
        if cells:
            out[PENDING] = {"version": version + 1, "cells": [_cell_doc(c) for c in cells]}
        return out

    async def _write(self, guard: Document, update: Document) -> bool:
        try:
            result = await self._gaps.update_one(guard, update, upsert=True)
        except DuplicateKeyError:
            # The document exists and the guard refused, or another writer created it between
            # our match and our insert: a plain conditional update tells the two apart.
            result = await self._gaps.update_one(guard, update)
            return bool(result.matched_count)
        return bool(result.matched_count or result.upserted_id is not None)

    async def settle_pending(self) -> None:
        """Complete every change a crash left half done (a periodic job): the need's own next
        read would too, but a need whose crashed event was parked may never have one. Safe
        beside the consumer: each cell refuses what it holds, and a change completed by
        another meanwhile is left alone."""
        found = [
            _pending_change(doc)
            async for doc in self._gaps.find({PENDING: {"$exists": True}}, {PENDING: 1})
        ]
        for first in range(0, len(found), SETTLE_CHUNK):
            await self._pending.complete(found[first : first + SETTLE_CHUNK])

    async def rebuild_cells(self) -> int:
        """The cells anew from every need's document (run with the consumer stopped): each
        need's whole contribution written as its pending change, then settled."""
        for collection in self._cells.values():
            await collection.drop()
        count = 0
        chunk: list[Change] = []
        async for doc in self._gaps.find({}):
            stored = _stored(doc)
            where = NeedWhere(
                stored.place.admin1_pcode, stored.place.admin2_pcode, stored.place.organisation
            )
            cells = cell_changes({}, contribution(where, stored.items, stored.weeks))
            chunk.append(Change(doc["_id"], stored.version, [_cell_doc(c) for c in cells]))
            count += 1
            if len(chunk) == SETTLE_CHUNK:
                await self._rebuild(chunk)
                chunk = []
        await self._rebuild(chunk)
        return count

    async def _rebuild(self, changes: list[Change]) -> None:
        if not changes:
            return
        reads = await self._pending.read_cells(changes)
        await self._gaps.bulk_write(
            [
                UpdateOne(
                    {"_id": c.need_id},
                    {"$set": {PENDING: {"version": c.version, "cells": c.cells}}}
                    if c.cells
                    else {"$unset": {PENDING: ""}},
                )
                for c in changes
            ],
            ordered=False,
        )
        await self._pending.settle(changes, reads)

    # -- reads -------------------------------------------------------------------------------

    async def _cells_of(self, kind: CellKind, where: GapFilter, present: str) -> list[Document]:
        query: Document = {present: {"$gt": 0}}
        for name, value in (
            ("organisation", where.organisation),
            ("admin1_pcode", where.admin1_pcode),
            ("admin2_pcode", where.admin2_pcode),
        ):
            if value:
                query[name] = value
        if where.sector:
            query["sector"] = where.sector
        if where.item_code and kind not in (CellKind.SECTOR, CellKind.SECTOR_PER_REGION):
            query["key"] = where.item_code
        return [doc async for doc in self._cells[kind].find(query, {"seen": 0})]

    async def by_item(self, where: GapFilter, level: str) -> list[AreaItemGap]:
        kind = CellKind.ITEM_PER_REGION if _per_region(where, level) else CellKind.ITEM
        cells = await self._cells_of(kind, where, "needs")
        # An item's cells are under one sector, but for the moment its re-filing takes.
        sectors = {(c["admin1_pcode"], c["key"]): c["sector"] for c in cells}
        return [
            AreaItemGap(
                admin1_pcode=a1,
                admin2_pcode=a2,
                item_code=item,
                sector=sectors[(a1, item)],
                **sums,
            )
            for (a1, a2, item), sums in _summed(cells, level, ITEM_TOTALS).items()
        ]

    async def by_sector(self, where: GapFilter, level: str) -> list[AreaSectorGap]:
        if where.item_code:
            # One item's households in its sector: each need holds an item once, so the item's
            # cells are the sector's, narrowed to it.
            return [
                AreaSectorGap(
                    admin1_pcode=r.admin1_pcode,
                    admin2_pcode=r.admin2_pcode,
                    sector=r.sector,
                    **{name: getattr(r, name) for name in SECTOR_TOTALS},
                )
                for r in await self.by_item(where, level)
            ]
        kind = CellKind.SECTOR_PER_REGION if _per_region(where, level) else CellKind.SECTOR
        cells = await self._cells_of(kind, where, "needs")
        return [
            AreaSectorGap(admin1_pcode=a1, admin2_pcode=a2, sector=sector, **sums)
            for (a1, a2, sector), sums in _summed(cells, level, SECTOR_TOTALS).items()
        ]

    async def trend(self, where: GapFilter) -> list[WeekItemTotals]:
        totals: dict[tuple[str, str], dict[str, int]] = defaultdict(
            lambda: dict.fromkeys(WEEK_TOTALS, 0)
        )
        anywhere = not (where.admin1_pcode or where.admin2_pcode)
        kind = CellKind.WEEK_COUNTRY if anywhere else CellKind.WEEK
        for doc in await self._cells_of(kind, where, "entries"):
            row = totals[(doc["week"], doc["key"])]
            for name in WEEK_TOTALS:
                row[name] += doc.get(name, 0)
        return [
            WeekItemTotals(week=week, item_code=item, **sums)
            for (week, item), sums in sorted(totals.items())
        ]


def _guard(write: GapWrite) -> Document:
    return {
        "_id": write.place.need_id,
        SEQUENCE: {"$lt": write.sequence},
        **_version_is(write.version),
    }


def _change(write: GapWrite) -> Change:
    return Change(write.place.need_id, write.version + 1, [_cell_doc(c) for c in write.cells])


def _pending_change(doc: Document) -> Change:
    return Change(doc["_id"], doc[PENDING]["version"], doc[PENDING]["cells"])


def _per_region(where: GapFilter, level: str) -> bool:
    return level == "admin1" and not where.admin2_pcode


def _summed(
    cells: list[Document], level: str, names: Sequence[str]
) -> dict[tuple[str, str | None, str], dict[str, int]]:
    """The cells added up per region (or cercle) and item or sector: partners together."""
    totals: dict[tuple[str, str | None, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(names, 0)
    )
    for doc in cells:
        admin2 = doc["admin2_pcode"] if level == "admin2" else None
        row = totals[(doc["admin1_pcode"], admin2, doc["key"])]
        for name in names:
            row[name] += doc.get(name, 0)
    return totals
