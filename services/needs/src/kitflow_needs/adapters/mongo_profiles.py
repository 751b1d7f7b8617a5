"""Norms profiles in MongoDB: one document per profile, the built-in ones seeded at start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kitflow_shared.store import IndexSpec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from kitflow_needs.adapters.bundled import profile_from_dict, profile_to_dict
from kitflow_needs.domain.errors import ConcurrentChange, DuplicateProfile, UnknownProfile
from kitflow_needs.domain.norms import NormsProfile

COLLECTION = "norms_profiles"
INDEXES: list[IndexSpec] = []

Document = dict[str, Any]


def _document(profile: NormsProfile) -> Document:
    raw = profile_to_dict(profile)
    return {"_id": raw.pop("profile_id"), **raw}


def _profile(doc: Document) -> NormsProfile:
    return profile_from_dict({**doc, "profile_id": doc["_id"]})


class MongoProfileRepository:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def get(self, profile_id: str) -> NormsProfile:
        doc = await self._collection.find_one({"_id": profile_id})
        if doc is None:
            raise UnknownProfile(profile_id)
        return _profile(doc)

    async def all(self) -> list[NormsProfile]:
        return [_profile(doc) async for doc in self._collection.find({}).sort("_id", 1)]

    async def add(self, profile: NormsProfile) -> None:
        try:
            await self._collection.insert_one(_document(profile))
        except DuplicateKeyError:
            raise DuplicateProfile(profile.profile_id) from None

    async def save(self, profile: NormsProfile, expected_version: int) -> None:
        doc = _document(profile)
        result = await self._collection.replace_one(
            {"_id": doc["_id"], "version": expected_version}, doc
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
