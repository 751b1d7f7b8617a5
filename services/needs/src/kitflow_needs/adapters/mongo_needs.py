"""Needs in MongoDB: one document per need, its outbox inside it."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from kitflow_shared.events.envelope import CloudEvent
from kitflow_shared.messaging.outbox import OUTBOX_FIELD, Notify, with_outbox
from kitflow_shared.outboxed import OutboxedDocuments
from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    RememberedRequest,
    RequestKey,
    remembered_in,
    requests_projection,
)
from kitflow_shared.store import IndexSpec
from kitflow_shared.web.paging import Page
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kitflow_needs.domain.errors import ConcurrentChange, IdempotentReplay, UnknownNeed
from kitflow_needs.domain.gazetteer import PlaceCodes
from kitflow_needs.domain.need import (
    ACTIVE_STATUSES,
    Assessment,
    AssessmentSource,
    Coordinates,
    DisplacementStatus,
    DuplicateDecision,
    DuplicateLink,
    ItemProgress,
    Location,
    Need,
    NeedDetails,
    NeedStatus,
    Period,
    Population,
    Reached,
    RequestedItem,
)
from kitflow_needs.domain.norms import Basis, Calculation, NormsResult, SkippedRule
from kitflow_needs.handlers.ports import ImportRecord, NeedQuery, StoredImport

COLLECTION = "needs"
INDEXES = [
    IndexSpec(COLLECTION, [("organisation", 1), ("created_at", 1)], name="by_organisation"),
    IndexSpec(COLLECTION, [("status", 1), ("created_at", 1)], name="by_status"),
    IndexSpec(COLLECTION, [("admin2_pcode", 1), ("status", 1)], name="duplicate_candidates"),
    IndexSpec(COLLECTION, [("owes_back_links", 1)], name="owing_back_links"),
    # A retried create finds the need its first attempt made (Idempotency-Key, per organisation).
    IndexSpec(COLLECTION, [("idempotency", 1)], name="idempotency_key", unique=True, sparse=True),
]
DUPLICATE_KEY = 11000

Document = dict[str, Any]
# What a need is read without: its outbox (the relay's) and the keys of the requests that
# changed it (up to DEFAULT_REMEMBERED of them; a command reads only its own: `remembered`).
HIDDEN: Document = {OUTBOX_FIELD: 0, REQUESTS_FIELD: 0}
# A need created with an Idempotency-Key holds the key's token (under the unique index) and
# the request's fingerprint.
CREATED_WITH = "idempotency"
CREATED_WITH_FINGERPRINT = "request_hash"


# ---------------------------------------------------------------------- mapping


def _picker_selector(query: NeedQuery) -> Document:
    """The need picker's filters. A partner's own organisation is already in the selector:
    partners given here narrow it further ($and), never widen it."""
    clauses: list[Document] = []
    if query.partners is not None:
        clauses.append({"organisation": {"$in": sorted(query.partners)}})
    if query.severities is not None:
        clauses.append({"severity": {"$in": sorted(query.severities)}})
    if query.item_code is not None:
        clauses.append({"items.item_code": query.item_code})
    created: Document = {}
    if query.created_after is not None:
        created["$gt"] = query.created_after
    if query.created_before is not None:
        created["$lt"] = query.created_before
    if created:
        clauses.append({"created_at": created})
    return {"$and": clauses} if clauses else {}


def _coords(c: Coordinates | None) -> Document | None:
    return {"lat": c.lat, "lon": c.lon} if c else None


def _calculation(c: Calculation) -> Document:
    return {
        "item_code": c.item_code,
        "basis": c.basis.value,
        "basis_count": c.basis_count,
        "amount": str(c.amount),
        "amount_unit": c.amount_unit,
        "per_days": c.per_days,
        "duration_days": c.duration_days,
        "content_per_item": str(c.content_per_item),
        "quantity": c.quantity,
        "formula": c.formula,
    }


def _calculation_of(d: Document) -> Calculation:
    return Calculation(
        item_code=d["item_code"],
        basis=Basis(d["basis"]),
        basis_count=d["basis_count"],
        amount=Decimal(d["amount"]),
        amount_unit=d["amount_unit"],
        per_days=d["per_days"],
        duration_days=d["duration_days"],
        content_per_item=Decimal(d["content_per_item"]),
        quantity=d["quantity"],
        formula=d["formula"],
    )


def to_document(need: Need) -> Document:
    """Every field of the need except `_id` and the outbox."""
    d = need.details
    loc = d.location
    return {
        "organisation": need.organisation,
        "status": need.status.value,
        "created_at": need.created_at,
        "updated_at": need.updated_at,
        "created_by": need.created_by,
        "sequence": need.sequence,
        "coverage_sequence": need.coverage_sequence,
        "admin1_pcode": loc.admin1_pcode,
        "admin2_pcode": loc.admin2_pcode,
        "location": _location(loc),
        "population": d.population.as_dict(),
        "displacement": d.displacement.value,
        "assessment": {
            "date": d.assessment.assessed_on.isoformat(),
            "source": d.assessment.source.value,
            "reference": d.assessment.reference,
        },
        "severity": d.severity,
        "period": {"start": d.period.start.isoformat(), "end": d.period.end.isoformat()},
        "items": [
            {
                "item_code": i.item_code,
                "quantity": i.quantity,
                "calculation": _calculation(i.calculation) if i.calculation else None,
            }
            for i in d.items
        ],
        "norms": _norms(d.norms) if d.norms else None,
        "external_ref": d.external_ref,
        # Most needs have neither progress nor duplicates: no comprehension to set up then.
        "progress": _progress(need.progress) if need.progress else [],
        "reached": {
            "households": need.reached.households,
            "individuals": need.reached.individuals,
        },
        "duplicates": _duplicates(need.duplicates) if need.duplicates else [],
        "open_duplicates": bool(need.duplicates)
        and any(link.decision is DuplicateDecision.OPEN for link in need.duplicates),
        "rejection_reason": need.rejection_reason,
        "cancellation_reason": need.cancellation_reason,
        "merged_into": need.merged_into,
        "validated_by": need.validated_by,
        "owes_back_links": need.owes_back_links,
    }


def _location(loc: Location) -> Document:
    return {
        "admin1_pcode": loc.admin1_pcode,
        "admin1_name": loc.admin1_name,
        "admin2_pcode": loc.admin2_pcode,
        "admin2_name": loc.admin2_name,
        "admin3_pcode": loc.admin3_pcode,
        "site_name": loc.site_name,
        "coordinates": _coords(loc.coordinates),
        "gazetteer_vintage": loc.gazetteer_vintage,
        "admin2_verified": loc.admin2_verified,
        "admin3_verified": loc.admin3_verified,
        **_as_given(loc),
    }


def _norms(norms: NormsResult) -> Document:
    return {
        "profile_id": norms.profile_id,
        "profile_version": norms.profile_version,
        "duration_days": norms.duration_days,
        "rules": None if norms.rules is None else list(norms.rules),
        "calculations": [_calculation(c) for c in norms.calculations],
        "skipped": [
            {"item_code": s.item_code, "basis": s.basis.value, "reason": s.reason}
            for s in norms.skipped
        ],
    }


def _progress(progress: Mapping[str, ItemProgress]) -> list[Document]:
    return [
        {
            "item_code": code,
            "planned": p.planned,
            "reserved": p.reserved,
            "dispatched": p.dispatched,
            "delivered": p.delivered,
        }
        for code, p in progress.items()
    ]


def _duplicates(links: Sequence[DuplicateLink]) -> list[Document]:
    return [
        {
            "need_id": link.need_id,
            "organisation": link.organisation,
            "reason": link.reason,
            "decision": link.decision.value,
        }
        for link in links
    ]


def _as_given(loc: Location) -> Document:
    """Only for a need given in another vintage: other needs' documents stay as they were."""
    if loc.as_given is None:
        return {}
    return {"as_given": asdict(loc.as_given), "crosswalk": loc.crosswalk}


def _location_of(loc: Document) -> Location:
    coords = loc.get("coordinates")
    return Location(
        admin1_pcode=loc["admin1_pcode"],
        admin1_name=loc["admin1_name"],
        admin2_pcode=loc["admin2_pcode"],
        admin2_name=loc.get("admin2_name"),
        admin3_pcode=loc.get("admin3_pcode"),
        site_name=loc.get("site_name"),
        coordinates=Coordinates(coords["lat"], coords["lon"]) if coords else None,
        gazetteer_vintage=loc["gazetteer_vintage"],
        admin2_verified=loc.get("admin2_verified", True),
        admin3_verified=loc.get("admin3_verified", False),
        as_given=PlaceCodes(**loc["as_given"]) if loc.get("as_given") else None,
        crosswalk=loc.get("crosswalk"),
    )


def _norms_of(norms: Document) -> NormsResult:
    return NormsResult(
        profile_id=norms["profile_id"],
        profile_version=norms["profile_version"],
        duration_days=norms["duration_days"],
        calculations=tuple(_calculation_of(c) for c in norms["calculations"]),
        skipped=tuple(
            SkippedRule(s["item_code"], Basis(s["basis"]), s["reason"]) for s in norms["skipped"]
        ),
        rules=None if norms.get("rules") is None else tuple(norms["rules"]),
    )


def from_document(doc: Document) -> Need:
    norms = doc.get("norms")
    details = NeedDetails(
        location=_location_of(doc["location"]),
        population=Population(**doc["population"]),
        displacement=DisplacementStatus(doc["displacement"]),
        assessment=Assessment(
            assessed_on=date.fromisoformat(doc["assessment"]["date"]),
            source=AssessmentSource(doc["assessment"]["source"]),
            reference=doc["assessment"].get("reference"),
        ),
        severity=doc["severity"],
        period=Period(
            date.fromisoformat(doc["period"]["start"]), date.fromisoformat(doc["period"]["end"])
        ),
        items=tuple(
            RequestedItem(
                i["item_code"],
                i["quantity"],
                _calculation_of(i["calculation"]) if i.get("calculation") else None,
            )
            for i in doc["items"]
        ),
        norms=_norms_of(norms) if norms else None,
        external_ref=doc.get("external_ref"),
    )
    return Need(
        need_id=doc["_id"],
        organisation=doc["organisation"],
        details=details,
        status=NeedStatus(doc["status"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        created_by=doc.get("created_by", ""),
        sequence=doc["sequence"],
        progress={
            p["item_code"]: ItemProgress(
                p["planned"], p["reserved"], p["dispatched"], p["delivered"]
            )
            for p in doc.get("progress", ())
        },
        coverage_sequence=doc.get("coverage_sequence", 0),
        reached=Reached(**doc.get("reached", {})),
        duplicates=tuple(
            DuplicateLink(
                d["need_id"], d["organisation"], d["reason"], DuplicateDecision(d["decision"])
            )
            for d in doc.get("duplicates", ())
        ),
        rejection_reason=doc.get("rejection_reason"),
        cancellation_reason=doc.get("cancellation_reason"),
        merged_into=doc.get("merged_into"),
        validated_by=doc.get("validated_by"),
        owes_back_links=doc.get("owes_back_links", False),
    )


# ---------------------------------------------------------------------- the repository


class MongoNeedRepository:
    def __init__(self, collection: AsyncCollection[Document], notify: Notify) -> None:
        self._collection = collection
        self._notify = notify
        self._documents = OutboxedDocuments(collection, notify, read=HIDDEN)

    async def get(self, need_id: str) -> Need:
        doc = await self._documents.get(need_id)
        if doc is None:
            raise UnknownNeed(need_id)
        return from_document(doc)

    async def add(
        self, need: Need, events: Sequence[CloudEvent], *, key: RequestKey | None = None
    ) -> None:
        # Under the unique index: a concurrent copy of the request fails here.
        created = (
            {}
            if key is None
            else {CREATED_WITH: key.token, CREATED_WITH_FINGERPRINT: key.fingerprint}
        )
        try:
            await self._documents.add(need.need_id, to_document(need), events, created)
        except DuplicateKeyError:
            if key is None:
                raise
            raise IdempotentReplay(key.key) from None

    async def created_with(self, key: RequestKey) -> tuple[Need, RememberedRequest] | None:
        doc = await self._collection.find_one({CREATED_WITH: key.token}, HIDDEN)
        if doc is None:
            return None
        remembered = RememberedRequest(
            key.token, doc.get(CREATED_WITH_FINGERPRINT) or "", doc["_id"], doc["created_at"]
        )
        return from_document(doc), remembered

    async def remembered(self, need_id: str, key: RequestKey) -> RememberedRequest | None:
        doc = await self._collection.find_one({"_id": need_id}, requests_projection(key))
        return remembered_in(doc, key)

    async def save(
        self,
        need: Need,
        expected_sequence: int,
        events: Sequence[CloudEvent],
        *,
        content_hash: str | None = None,
        remember: RememberedRequest | None = None,
        edited: bool = False,
    ) -> None:
        fields = to_document(need)
        if content_hash is not None:
            fields["import_hash"] = content_hash
        if edited:
            fields["edited"] = True
        if not await self._documents.save(
            need.need_id, expected_sequence, fields, events, remember
        ):
            raise ConcurrentChange(f"need {need.need_id} changed meanwhile")

    async def remember(
        self, need_id: str, expected_sequence: int, remember: RememberedRequest
    ) -> None:
        # Remembering a key without a change (a request that found its effect already there)
        # does not move the sequence: only the condition on the key makes its concurrent
        # copies lose, reload and answer as the first one did.
        if not await self._documents.remember(need_id, expected_sequence, remember):
            raise ConcurrentChange(f"need {need_id} changed meanwhile")

    async def get_many(self, need_ids: Collection[str]) -> dict[str, Need]:
        cursor = self._collection.find({"_id": {"$in": list(need_ids)}}, HIDDEN)
        return {doc["_id"]: from_document(doc) async for doc in cursor}

    async def save_many(self, changes: Sequence[tuple[Need, int, Sequence[CloudEvent]]]) -> None:
        if not changes:
            return
        await self._collection.bulk_write(
            [
                UpdateOne(
                    {"_id": need.need_id, "sequence": expected},
                    with_outbox({"$set": to_document(need)}, events),
                )
                for need, expected, events in changes
            ],
            ordered=False,
        )
        for need, _, events in changes:
            if events:
                self._notify(COLLECTION, need.need_id)

    async def save_coverage(
        self, need: Need, expected_sequence: int, events: Sequence[CloudEvent]
    ) -> None:
        # The coverage guard sits in the filter of the same update as its effect.
        result = await self._collection.update_one(
            {
                "_id": need.need_id,
                "sequence": expected_sequence,
                "coverage_sequence": {"$lt": need.coverage_sequence},
            },
            with_outbox({"$set": to_document(need)}, events),
        )
        if result.matched_count == 0:
            raise ConcurrentChange(f"need {need.need_id} changed meanwhile")
        self._notify(COLLECTION, need.need_id)

    async def find(self, query: NeedQuery) -> Page[Need]:
        selector: Document = {}
        if query.organisation is not None:
            selector["organisation"] = query.organisation
        if query.statuses:
            selector["status"] = {"$in": sorted(s.value for s in query.statuses)}
        if query.admin1_pcode is not None:
            selector["admin1_pcode"] = query.admin1_pcode
        if query.admin2_pcode is not None:
            selector["admin2_pcode"] = query.admin2_pcode
        if query.min_severity is not None:
            selector["severity"] = {"$gte": query.min_severity}
        if query.with_open_duplicates:
            selector["open_duplicates"] = True
        selector.update(_picker_selector(query))
        total = await self._collection.count_documents(selector)
        cursor = (
            self._collection.find(selector, HIDDEN)
            .sort([("created_at", 1), ("_id", 1)])
            .skip(query.offset)
            .limit(query.limit)
        )
        return Page(items=[from_document(doc) async for doc in cursor], total=total)

    async def active_in(
        self, admin2_pcodes: Collection[str], *, excluding_organisation: str
    ) -> list[Need]:
        cursor = self._collection.find(
            {
                "admin2_pcode": {"$in": sorted(admin2_pcodes)},
                "status": {"$in": sorted(s.value for s in ACTIVE_STATUSES)},
                "organisation": {"$ne": excluding_organisation},
            },
            HIDDEN,
        )
        return [from_document(doc) async for doc in cursor]

    async def candidates_for(
        self, details: NeedDetails, *, excluding_organisation: str
    ) -> list[Need]:
        # Periods are stored as ISO dates, which compare as text the way the dates do.
        cursor = self._collection.find(
            {
                "admin2_pcode": details.location.admin2_pcode,
                "status": {"$in": sorted(s.value for s in ACTIVE_STATUSES)},
                "organisation": {"$ne": excluding_organisation},
                "period.start": {"$lte": details.period.end.isoformat()},
                "period.end": {"$gte": details.period.start.isoformat()},
                "items.item_code": {"$in": sorted(details.requested())},
            },
            HIDDEN,
        )
        return [from_document(doc) async for doc in cursor]

    async def owing_back_links(self, limit: int) -> list[Need]:
        cursor = self._collection.find({"owes_back_links": True}, HIDDEN).limit(limit)
        return [from_document(doc) async for doc in cursor]

    async def back_links_done(self, sequences: Mapping[str, int]) -> None:
        # Only if the need is still the one that was linked: a newer change may owe new links.
        if not sequences:
            return
        await self._collection.bulk_write(
            [
                UpdateOne(
                    {"_id": need_id, "sequence": sequence, "owes_back_links": True},
                    {"$set": {"owes_back_links": False}},
                )
                for need_id, sequence in sequences.items()
            ],
            ordered=False,
        )

    async def imported(self, need_ids: Collection[str]) -> dict[str, StoredImport]:
        cursor = self._collection.find(
            {"_id": {"$in": list(need_ids)}}, {"import_hash": 1, "edited": 1, "status": 1}
        )
        return {
            doc["_id"]: StoredImport(
                doc["_id"],
                doc.get("import_hash") or "",
                edited=bool(doc.get("edited")),
                draft=doc.get("status") == NeedStatus.DRAFT.value,
            )
            async for doc in cursor
        }

    async def add_imported(self, records: Sequence[ImportRecord]) -> set[str]:
        docs = [
            {
                "_id": r.need.need_id,
                **to_document(r.need),
                "import_key": r.import_key,
                "import_hash": r.content_hash,
                OUTBOX_FIELD: [e.to_document() for e in r.events],
            }
            for r in records
        ]
        ids = {d["_id"] for d in docs}
        try:
            await self._collection.insert_many(docs, ordered=False)
            inserted = ids
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            existing = {docs[e["index"]]["_id"] for e in errors}
            inserted = ids - existing
        for need_id in inserted:
            self._notify(COLLECTION, need_id)
        return inserted
