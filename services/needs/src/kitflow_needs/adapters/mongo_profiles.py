"""Norms profiles in MongoDB: one document per profile, the built-in ones seeded at start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitflow_shared.request_keys import (
    REQUESTS_FIELD,
    RememberedRequest,
    RequestKey,
    remembered_in,
    requests_projection,
    with_remembered,
)
from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_needs.adapters.bundled import profile_from_dict, profile_to_dict
from kitflow_needs.domain.errors import ConcurrentChange, DuplicateProfile, UnknownProfile
from kitflow_needs.domain.norms import NormsProfile

COLLECTION = "norms_profiles"
# A handful of profiles: looking a request key up across them needs no index.
INDEXES: list[IndexSpec] = []

Document = dict[str, Any]
# The keys of the requests that added or changed a profile are read only by their retries.
HIDDEN: Document = {REQUESTS_FIELD: 0}


def _document(profile: NormsProfile) -> Document:
    raw = profile_to_dict(profile)
    return {"_id": raw.pop("profile_id"), **raw}


def _profile(doc: Document) -> NormsProfile:
    return profile_from_dict({**doc, "profile_id": doc["_id"]})


class MongoProfileRepository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def get(self, profile_id: str) -> NormsProfile:
        doc = await self._collection.find_one({"_id": profile_id}, HIDDEN)
        if doc is None:
            raise UnknownProfile(profile_id)
        return _profile(doc)

    async def all(self) -> list[NormsProfile]:
        return [_profile(doc) async for doc in self._collection.find({}, HIDDEN).sort("_id", 1)]

    async def remembered(self, key: RequestKey) -> tuple[str, RememberedRequest] | None:
        doc = await self._collection.find_one(
            {f"{REQUESTS_FIELD}.token": key.token}, requests_projection(key)
        )
        remembered = remembered_in(doc, key)
        if doc is None or remembered is None:
            return None
        return doc["_id"], remembered

    async def add(self, profile: NormsProfile, remember: RememberedRequest | None = None) -> None:
        doc = _document(profile)
        if remember is not None:
            doc[REQUESTS_FIELD] = [remember.to_document()]
        try:
            await self._collection.insert_one(doc)
        except DuplicateKeyError:
            raise DuplicateProfile(profile.profile_id) from None

    async def save(
        self,
        profile: NormsProfile,
        expected_version: int,
        remember: RememberedRequest | None = None,
    ) -> None:
        fields = _document(profile)
        profile_id = fields.pop("_id")
        selector: Document = {"_id": profile_id, "version": expected_version}
        if remember is not None:
            selector[f"{REQUESTS_FIELD}.token"] = {"$ne": remember.token}
        # Every field of the profile is set (a replacement would drop the remembered keys).
        result = await self._collection.update_one(
            selector, with_remembered({"$set": fields}, [remember] if remember else [])
        )
        if result.matched_count == 0:
            raise ConcurrentChange(
                f"norms profile {profile.profile_id} is no longer at version {expected_version}"
            )

    async def seed(self, profiles: Sequence[NormsProfile]) -> int:
        """Insert the built-in profiles that are missing; never overwrite an admin's change."""
        added = 0
        for profile in profiles:
            doc = _document(profile)
            result = await self._collection.update_one(
                {"_id": doc["_id"]},
                {"$setOnInsert": {k: v for k, v in doc.items() if k != "_id"}},
                upsert=True,
            )
            added += 1 if result.upserted_id is not None else 0
        return added
