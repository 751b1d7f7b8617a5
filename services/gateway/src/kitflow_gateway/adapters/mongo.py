"""Organisations, users, API keys, idempotency claims, rate counters and the audit log in the
gateway's own database. Every write is a single-document operation (docs/adr/0002-store.md)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kitflow_shared.store import Document, IndexSpec
from kitflow_shared.web.identity import Role
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from kitflow_gateway.domain.audit import AuditEntry, AuditQuery
from kitflow_gateway.domain.errors import AlreadyExists
from kitflow_gateway.domain.idempotency import Claim, ClaimState, StoredResponse
from kitflow_gateway.domain.identity import ApiKey, Organisation, OrganisationKind, User
from kitflow_gateway.handlers.ports import Page

ORGANISATIONS = "organisations"
USERS = "users"
API_KEYS = "api_keys"
IDEMPOTENCY = "idempotency_keys"
RATE_COUNTERS = "rate_counters"
AUDIT = "audit_log"
DUPLICATE_KEY = 11000

INDEXES = [
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


class MongoOrganisations:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self.collection = collection

    async def add(self, organisation: Organisation) -> None:
        try:
            await self.collection.insert_one(
                {
                    "_id": organisation.organisation_id,
                    "name": organisation.name,
                    "kind": organisation.kind.value,
                    "created_at": organisation.created_at,
                    "active": organisation.active,
                }
            )
        except DuplicateKeyError:
            raise AlreadyExists(
                "organisation", organisation.organisation_id, "organisation_id"
            ) from None

    async def get(self, organisation_id: str) -> Organisation | None:
        doc = await self.collection.find_one({"_id": organisation_id})
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

    async def add(self, user: User) -> None:
        try:
            await self.collection.insert_one(self._doc(user))
        except DuplicateKeyError:
            raise AlreadyExists("user", user.username, "username") from None

    async def get(self, user_id: str) -> User | None:
        doc = await self.collection.find_one({"_id": user_id})
        return self._of(doc) if doc else None

    async def by_username(self, username: str) -> User | None:
        doc = await self.collection.find_one({"username": username})
        return self._of(doc) if doc else None

    async def replace(self, user: User) -> None:
        await self.collection.replace_one({"_id": user.user_id}, self._doc(user))

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

    async def add(self, key: ApiKey) -> None:
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
            }
        )

    async def get(self, key_id: str) -> ApiKey | None:
        doc = await self.collection.find_one({"_id": key_id})
        return self._of(doc) if doc else None

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        await self.collection.update_one(
            {"_id": key_id, "revoked_at": None}, {"$set": {"revoked_at": at}}
        )
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

    @staticmethod
    def _id(organisation: str, key: str) -> Document:
        # A sub-document id keeps the two parts apart whatever characters the key holds.
        return {"organisation": organisation, "key": key}

    async def claim(self, claim: Claim) -> bool:
        try:
            await self.collection.insert_one(
                {
                    "_id": self._id(claim.organisation, claim.key),
                    "fingerprint": claim.fingerprint,
                    "state": claim.state.value,
                    "claimed_at": claim.claimed_at,
                }
            )
        except DuplicateKeyError:
            return False
        return True

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
        await self.collection.update_one(
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

    async def increment(self, counter_id: str, window_start: datetime) -> int:
        for _ in range(3):
            try:
                doc = await self.collection.find_one_and_update(
                    {"_id": counter_id},
                    {"$inc": {"count": 1}, "$setOnInsert": {"window_start": window_start}},
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
        try:
            # Unordered: after a duplicate (an entry a failed attempt did store) the rest go on.
            await self.collection.insert_many([self._doc(e) for e in entries], ordered=False)
        except BulkWriteError as exc:
            if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise
            if exc.details.get("writeConcernErrors"):
                raise

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
