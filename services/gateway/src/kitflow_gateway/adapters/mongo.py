"""Organisations, users, API keys, idempotency claims, rate counters and the audit log in the
gateway's own database. Every write is a single-document operation (docs/adr/0002-store.md)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    RememberedRequest,
    with_remembered,
)
from kitflow_shared.store import Document, IndexSpec
from kitflow_shared.web.identity import Role
from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from kitflow_gateway.adapters.batching import Batcher
from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.errors import AlreadyExists
from kitflow_gateway.domain.idempotency import Claim, ClaimState, StoredResponse
from kitflow_gateway.domain.identity import ApiKey, Organisation, OrganisationKind, User
from kitflow_gateway.handlers.ports import Held, Page

ORGANISATIONS = "organisations"
USERS = "users"
API_KEYS = "api_keys"
IDEMPOTENCY = "idempotency_keys"
RATE_COUNTERS = "rate_counters"
AUDIT = "audit_log"
DUPLICATE_KEY = 11000

# The request that created a document (its Idempotency-Key's token), unique: a duplicate of a
# creating request fails its insert and answers with the document the first one made.
CREATED_BY = "created_by_request"
CREATED_BY_TOKEN = f"{CREATED_BY}.token"

INDEXES = [
    *(
        IndexSpec(
            collection,
            [(CREATED_BY_TOKEN, ASCENDING)],
            "created_by_request_unique",
            unique=True,
            sparse=True,
        )
        for collection in (ORGANISATIONS, USERS, API_KEYS)
    ),
    IndexSpec(USERS, [("username", ASCENDING)], "username_unique", unique=True),
    IndexSpec(USERS, [("organisation", ASCENDING), ("_id", ASCENDING)], "users_by_organisation"),
    IndexSpec(API_KEYS, [("user_id", ASCENDING), ("created_at", ASCENDING)], "keys_by_user"),
    IndexSpec(IDEMPOTENCY, [("claimed_at", ASCENDING)], "idempotency_by_age"),
    IndexSpec(RATE_COUNTERS, [("window_start", ASCENDING)], "counters_by_window"),
    IndexSpec(AUDIT, [("at", DESCENDING)], "audit_by_time"),
    IndexSpec(AUDIT, [("organisation", ASCENDING), ("at", DESCENDING)], "audit_by_organisation"),
]


def _roles(values: list[str]) -> frozenset[Role]:
    return frozenset(Role(v) for v in values)


async def _unordered(command: Awaitable[object]) -> dict[int, Exception]:
    """Run an unordered bulk command: the error of each write that failed, by its index."""
    try:
        await command
    except BulkWriteError as exc:
        if exc.details.get("writeConcernErrors"):
            raise
        return {
            error["index"]: (
                DuplicateKeyError if error.get("code") == DUPLICATE_KEY else WriteError
            )(error.get("errmsg", "write failed"), error.get("code"), error)
            for error in exc.details.get("writeErrors", [])
        }
    return {}


def _created_by(remembered: RememberedRequest | None) -> Document:
    return {} if remembered is None else {CREATED_BY: remembered.to_document()}


def _creation_of(doc: Document) -> RememberedRequest | None:
    created = doc.get(CREATED_BY)
    return None if created is None else RememberedRequest.from_document(created)


def _remembering(
    filter_: Document, update: Document, remembered: RememberedRequest | None
) -> tuple[Document, Document]:
    """The filter and update that apply `update` and remember the request in the same write,
    only if that request's key is not on the document yet."""
    if remembered is None:
        return filter_, update
    return (
        {**filter_, f"{REQUESTS_FIELD}.token": {"$ne": remembered.token}},
        with_remembered(update, [remembered]),
    )


def _held(doc: Document | None, token: str, of: Any) -> Held[Any] | None:
    if doc is None:
        return None
    entries = [RememberedRequest.from_document(e) for e in doc.get(REQUESTS_FIELD, ())]
    remembered = next((e for e in entries if e.token == token), None)
    creation = _creation_of(doc)
    if remembered is None and creation is not None and creation.token == token:
        remembered = creation
    return Held(of(doc), remembered)


def _claimed(error: Exception | None) -> bool | Exception:
    """A claim whose insert met the key already there lost; any other error is an error."""
    if error is None:
        return True
    return False if isinstance(error, DuplicateKeyError) else error


class MongoOrganisations:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def add(
        self, organisation: Organisation, remembered: RememberedRequest | None = None
    ) -> None:
        try:
            await self.collection.insert_one(
                {
                    "_id": organisation.organisation_id,
                    "name": organisation.name,
                    "kind": organisation.kind.value,
                    "created_at": organisation.created_at,
                    "active": organisation.active,
                    **_created_by(remembered),
                }
            )
        except DuplicateKeyError:
            raise AlreadyExists(
                "organisation", organisation.organisation_id, "organisation_id"
            ) from None

    async def get(self, organisation_id: str) -> Organisation | None:
        doc = await self.collection.find_one({"_id": organisation_id})
        return self._of(doc) if doc else None

    async def by_request(self, token: str) -> Held[Organisation] | None:
        return _held(await self.collection.find_one({CREATED_BY_TOKEN: token}), token, self._of)

    async def get_with_request(self, organisation_id: str, token: str) -> Held[Organisation] | None:
        doc = await self.collection.find_one({"_id": organisation_id})
        return _held(doc, token, self._of)

    async def set_active(
        self, organisation_id: str, active: bool, remembered: RememberedRequest | None
    ) -> Organisation | None:
        filter_, update = _remembering(
            {"_id": organisation_id}, {"$set": {"active": active}}, remembered
        )
        doc = await self.collection.find_one_and_update(
            filter_, update, return_document=ReturnDocument.AFTER
        )
        return self._of(doc) if doc else None

    async def list(self, *, limit: int, offset: int) -> Page[Organisation]:
        total = await self.collection.count_documents({})
        cursor = self.collection.find({}).sort("_id", ASCENDING).skip(offset).limit(limit)
        return Page([self._of(d) async for d in cursor], total)

    @staticmethod
    def _of(doc: Document) -> Organisation:
        return Organisation(
            organisation_id=doc["_id"],
            name=doc["name"],
            kind=OrganisationKind(doc["kind"]),
            created_at=doc["created_at"],
            active=doc["active"],
        )


class MongoUsers:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def add(self, user: User, remembered: RememberedRequest | None = None) -> None:
        try:
            await self.collection.insert_one({**self._doc(user), **_created_by(remembered)})
        except DuplicateKeyError:
            raise AlreadyExists("user", user.username, "username") from None

    async def by_request(self, token: str) -> Held[User] | None:
        return _held(await self.collection.find_one({CREATED_BY_TOKEN: token}), token, self._of)

    async def get_with_request(self, user_id: str, token: str) -> Held[User] | None:
        doc = await self.collection.find_one({"_id": user_id})
        return _held(doc, token, self._of)

    async def get(self, user_id: str) -> User | None:
        doc = await self.collection.find_one({"_id": user_id})
        return self._of(doc) if doc else None

    async def by_username(self, username: str) -> User | None:
        doc = await self.collection.find_one({"username": username})
        return self._of(doc) if doc else None

    async def replace(
        self, user: User, remembered: RememberedRequest | None = None, *, expected_version: int
    ) -> bool:
        fields = {k: v for k, v in self._doc(user).items() if k != "_id"}
        filter_, update = _remembering(
            {"_id": user.user_id, "token_version": expected_version}, {"$set": fields}, remembered
        )
        result = await self.collection.update_one(filter_, update)
        return result.matched_count == 1

    async def list(self, *, organisation: str | None, limit: int, offset: int) -> Page[User]:
        query: Document = {} if organisation is None else {"organisation": organisation}
        total = await self.collection.count_documents(query)
        cursor = self.collection.find(query).sort("_id", ASCENDING).skip(offset).limit(limit)
        return Page([self._of(d) async for d in cursor], total)

    @staticmethod
    def _doc(user: User) -> Document:
        return {
            "_id": user.user_id,
            "username": user.username,
            "organisation": user.organisation,
            "roles": sorted(user.roles),
            "warehouses": sorted(user.warehouses),
            "password_hash": user.password_hash,
            "created_at": user.created_at,
            "active": user.active,
            "token_version": user.token_version,
        }

    @staticmethod
    def _of(doc: Document) -> User:
        return User(
            user_id=doc["_id"],
            username=doc["username"],
            organisation=doc["organisation"],
            roles=_roles(doc["roles"]),
            warehouses=frozenset(doc["warehouses"]),
            password_hash=doc["password_hash"],
            created_at=doc["created_at"],
            active=doc["active"],
            token_version=doc["token_version"],
        )


class MongoApiKeys:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection
        # Every authenticated request reads its key: concurrent reads go as one query.
        self._reads: Batcher[str, ApiKey | None] = Batcher(self._get_many)

    async def add(self, key: ApiKey, remembered: RememberedRequest | None = None) -> None:
        try:
            await self._insert(key, remembered)
        except DuplicateKeyError:
            raise AlreadyExists("API key", key.key_id, "key_id") from None

    async def by_request(self, token: str) -> Held[ApiKey] | None:
        return _held(await self.collection.find_one({CREATED_BY_TOKEN: token}), token, self._of)

    async def get_with_request(self, key_id: str, token: str) -> Held[ApiKey] | None:
        doc = await self.collection.find_one({"_id": key_id})
        return _held(doc, token, self._of)

    async def _insert(self, key: ApiKey, remembered: RememberedRequest | None = None) -> None:
        await self.collection.insert_one(
            {
                "_id": key.key_id,
                "name": key.name,
                "user_id": key.user_id,
                "username": key.username,
                "organisation": key.organisation,
                "roles": sorted(key.roles),
                "warehouses": sorted(key.warehouses),
                "secret_hash": key.secret_hash,
                "created_at": key.created_at,
                "created_by": key.created_by,
                "expires_at": key.expires_at,
                "revoked_at": key.revoked_at,
                **_created_by(remembered),
            }
        )

    async def get(self, key_id: str) -> ApiKey | None:
        return await self._reads(key_id)

    async def _get_many(self, key_ids: Sequence[str]) -> list[ApiKey | None]:
        wanted = list(dict.fromkeys(key_ids))
        found = {
            doc["_id"]: self._of(doc)
            async for doc in self.collection.find({"_id": {"$in": wanted}})
        }
        return [found.get(key_id) for key_id in key_ids]

    async def revoke(
        self, key_id: str, at: datetime, remembered: RememberedRequest | None = None
    ) -> ApiKey | None:
        filter_, update = _remembering(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": at}}, remembered
        )
        await self.collection.update_one(filter_, update)
        return await self.get(key_id)

    async def revoke_all_of(self, user_id: str, at: datetime) -> int:
        result = await self.collection.update_many(
            {"user_id": user_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
        return result.modified_count

    async def list(
        self,
        *,
        organisation: str | None,
        user_id: str | None,
        include_revoked: bool,
        limit: int,
        offset: int,
    ) -> Page[ApiKey]:
        query: Document = {}
        if organisation is not None:
            query["organisation"] = organisation
        if user_id is not None:
            query["user_id"] = user_id
        if not include_revoked:
            query["revoked_at"] = None
        total = await self.collection.count_documents(query)
        cursor = self.collection.find(query).sort("created_at", ASCENDING).skip(offset).limit(limit)
        return Page([self._of(d) async for d in cursor], total)

    @staticmethod
    def _of(doc: Document) -> ApiKey:
        return ApiKey(
            key_id=doc["_id"],
            name=doc["name"],
            user_id=doc["user_id"],
            username=doc["username"],
            organisation=doc["organisation"],
            roles=_roles(doc["roles"]),
            warehouses=frozenset(doc["warehouses"]),
            secret_hash=doc["secret_hash"],
            created_at=doc["created_at"],
            created_by=doc["created_by"],
            expires_at=doc.get("expires_at"),
            revoked_at=doc.get("revoked_at"),
        )


class MongoIdempotency:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection
        # Claims and completions of concurrent requests go as one command each.
        self._claims: Batcher[Claim, bool] = Batcher(self._claim_many)
        self._completions: Batcher[tuple[str, str, StoredResponse], None] = Batcher(
            self._complete_many
        )

    @staticmethod
    def _id(organisation: str, key: str) -> Document:
        # A sub-document id keeps the two parts apart whatever characters the key holds.
        return {"organisation": organisation, "key": key}

    async def claim(self, claim: Claim) -> bool:
        return await self._claims(claim)

    async def _claim_many(self, claims: Sequence[Claim]) -> list[bool | Exception]:
        docs = [
            {
                "_id": self._id(claim.organisation, claim.key),
                "fingerprint": claim.fingerprint,
                "state": claim.state.value,
                "claimed_at": claim.claimed_at,
            }
            for claim in claims
        ]
        # Unordered: one claim losing (its key is taken, by another request of this very batch
        # too) does not stop the others. The unique _id decides each claim atomically.
        failed = await _unordered(self.collection.insert_many(docs, ordered=False))
        return [_claimed(failed.get(i)) for i in range(len(docs))]

    async def get(self, organisation: str, key: str) -> Claim | None:
        doc = await self.collection.find_one({"_id": self._id(organisation, key)})
        if doc is None:
            return None
        stored = doc.get("response")
        return Claim(
            organisation=organisation,
            key=key,
            fingerprint=doc["fingerprint"],
            state=ClaimState(doc["state"]),
            claimed_at=doc["claimed_at"],
            response=StoredResponse(
                status=stored["status"],
                body=bytes(stored["body"]),
                content_type=stored.get("content_type"),
                location=stored.get("location"),
            )
            if stored
            else None,
        )

    async def take_over(
        self, organisation: str, key: str, claimed_before: datetime, now: datetime
    ) -> bool:
        result = await self.collection.update_one(
            {
                "_id": self._id(organisation, key),
                "state": ClaimState.IN_PROGRESS.value,
                "claimed_at": {"$lt": claimed_before},
            },
            {"$set": {"claimed_at": now}},
        )
        return result.modified_count == 1

    async def complete(self, organisation: str, key: str, response: StoredResponse) -> None:
        await self._completions((organisation, key, response))

    async def _complete_many(
        self, completions: Sequence[tuple[str, str, StoredResponse]]
    ) -> list[Exception | None]:
        updates = [
            UpdateOne(
                {"_id": self._id(organisation, key)},
                {
                    "$set": {
                        "state": ClaimState.COMPLETED.value,
                        "response": {
                            "status": response.status,
                            "body": response.body,
                            "content_type": response.content_type,
                            "location": response.location,
                        },
                    }
                },
            )
            for organisation, key, response in completions
        ]
        failed = await _unordered(self.collection.bulk_write(updates, ordered=False))
        return [failed.get(i) for i in range(len(updates))]

    async def release(self, organisation: str, key: str) -> None:
        await self.collection.delete_one(
            {"_id": self._id(organisation, key), "state": ClaimState.IN_PROGRESS.value}
        )

    async def prune(self, claimed_before: datetime) -> int:
        result = await self.collection.delete_many({"claimed_at": {"$lt": claimed_before}})
        return result.deleted_count


class MongoRateCounters:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection
        # Concurrent requests of one organisation add themselves to its counter in one $inc.
        self._increments: Batcher[tuple[str, datetime], int] = Batcher(self._increment_many)

    async def increment(self, counter_id: str, window_start: datetime) -> int:
        return await self._increments((counter_id, window_start))

    async def _increment_many(self, calls: Sequence[tuple[str, datetime]]) -> list[int | Exception]:
        by_counter: dict[str, list[int]] = {}
        for index, (counter_id, _) in enumerate(calls):
            by_counter.setdefault(counter_id, []).append(index)
        counts: list[int | Exception] = [0] * len(calls)

        async def add(counter_id: str, indexes: list[int]) -> None:
            try:
                after = await self._add(counter_id, calls[indexes[0]][1], len(indexes))
            except Exception as exc:
                for index in indexes:
                    counts[index] = exc
                return
            # The same counts as that many increments one after the other, in call order.
            for offset, index in enumerate(indexes):
                counts[index] = after - len(indexes) + 1 + offset

        await asyncio.gather(*(add(c, indexes) for c, indexes in by_counter.items()))
        return counts

    async def _add(self, counter_id: str, window_start: datetime, n: int) -> int:
        for _ in range(3):
            try:
                doc = await self.collection.find_one_and_update(
                    {"_id": counter_id},
                    {"$inc": {"count": n}, "$setOnInsert": {"window_start": window_start}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                # Two first requests of a window upserted at once; the loser increments the
                # document the winner created.
                continue
            if doc is not None:
                count: int = doc["count"]
                return count
        raise RuntimeError(f"rate counter {counter_id} could not be incremented")

    async def prune(self, windows_before: datetime) -> int:
        result = await self.collection.delete_many({"window_start": {"$lt": windows_before}})
        return result.deleted_count


class MongoAuditLog:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def record_many(self, entries: Sequence[AuditEntry]) -> None:
        # Unordered: after a duplicate (an entry a failed attempt did store) the rest go on.
        failed = await _unordered(
            self.collection.insert_many([self._doc(e) for e in entries], ordered=False)
        )
        for error in failed.values():
            if not isinstance(error, DuplicateKeyError):
                raise error

    @staticmethod
    def _doc(entry: AuditEntry) -> Document:
        return {
            "_id": entry.entry_id,
            "at": entry.at,
            "method": entry.method,
            "path": entry.path,
            "status": entry.status,
            "correlation_id": entry.correlation_id,
            "duration_ms": entry.duration_ms,
            "user_id": entry.user_id,
            "username": entry.username,
            "organisation": entry.organisation,
            "key_id": entry.key_id,
            "client": entry.client,
        }

    async def find(self, query: AuditQuery) -> Page[AuditEntry]:
        filters: Document = {}
        for field in ("organisation", "user_id", "key_id", "method", "status"):
            value = getattr(query, field)
            if value is not None:
                filters[field] = value
        if query.path_prefix:
            filters["path"] = {"$regex": f"^{re.escape(query.path_prefix)}"}
        period: dict[str, Any] = {}
        if query.since is not None:
            period["$gte"] = query.since
        if query.until is not None:
            period["$lt"] = query.until
        if period:
            filters["at"] = period
        total = await self.collection.count_documents(filters)
        cursor = (
            self.collection.find(filters)
            .sort([("at", DESCENDING), ("_id", DESCENDING)])
            .skip(query.offset)
            .limit(query.limit)
        )
        return Page([self._of(d) async for d in cursor], total)

    @staticmethod
    def _of(doc: Document) -> AuditEntry:
        return AuditEntry(
            entry_id=doc["_id"],
            at=doc["at"],
            method=doc["method"],
            path=doc["path"],
            status=doc["status"],
            correlation_id=doc.get("correlation_id"),
            duration_ms=doc["duration_ms"],
            user_id=doc.get("user_id"),
            username=doc.get("username"),
            organisation=doc.get("organisation"),
            key_id=doc.get("key_id"),
            client=doc.get("client"),
        )
