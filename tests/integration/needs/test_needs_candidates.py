"""Duplicate candidates of a single need, read from the real store: the query leaves out what the
duplicate rule could never flag (another period, no common item), and nothing it could."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from itertools import count
from typing import Any

import pytest
from kitflow_needs.adapters import mongo_needs
from kitflow_needs.adapters.bundled import load_catalogue, load_gazetteer
from kitflow_needs.adapters.mongo_needs import MongoNeedRepository
from kitflow_needs.domain.duplicates import find_duplicates
from kitflow_needs.domain.intake import build_details
from kitflow_needs.domain.need import Need, NeedDetails, NeedStatus
from kitflow_shared.store import ensure_indexes
from pymongo.asynchronous.database import AsyncDatabase

from tests.unit.needs.builders import need_input

pytestmark = pytest.mark.infra
NOW = datetime(2025, 3, 2, 9, 0, tzinfo=UTC)
ids = count(1)


def _details(start: date, end: date, items: tuple[tuple[str, int], ...]) -> NeedDetails:
    given = replace(need_input(), period_start=start, period_end=end, items=items)
    return build_details(given, gazetteer=load_gazetteer(), catalogue=load_catalogue(), profiles={})


async def _stored(repo: MongoNeedRepository, organisation: str, details: NeedDetails) -> Need:
    need = Need.create(f"need-{next(ids)}", organisation, details, by="someone", now=NOW)
    await repo.add(need, [])
    return need


async def test_only_needs_the_rule_could_flag_are_read(db: AsyncDatabase[dict[str, Any]]) -> None:
    await ensure_indexes(db, mongo_needs.INDEXES)
    repo = MongoNeedRepository(db[mongo_needs.COLLECTION], lambda _c, _i: None)
    march, kits = (date(2025, 3, 1), date(2025, 3, 31)), (("KIT-NFI", 10),)
    probe = _details(*march, kits)

    same = await _stored(repo, "UNHCR", _details(*march, kits))
    # Periods that touch on one day overlap (the rule's periods are inclusive at both ends).
    ends_on_first_day = await _stored(repo, "ACTED", _details(date(2025, 2, 1), march[0], kits))
    starts_on_last_day = await _stored(repo, "IRC", _details(march[1], date(2025, 4, 30), kits))
    one_item_in_common = await _stored(
        repo, "DRC", _details(*march, (("BLANKET", 5), ("KIT-NFI", 3)))
    )
    # What the rule could never flag.
    await _stored(repo, "UNHCR", _details(date(2025, 4, 1), date(2025, 4, 30), kits))
    await _stored(repo, "UNHCR", _details(date(2025, 1, 1), date(2025, 2, 28), kits))
    await _stored(repo, "UNHCR", _details(*march, (("BLANKET", 5),)))
    await _stored(repo, "NRC", _details(*march, kits))  # the caller's own organisation
    cancelled = await _stored(repo, "IOM", _details(*march, kits))
    expected = cancelled.sequence
    cancelled.cancel("assessed twice", now=NOW)
    await repo.save(cancelled, expected, [])

    found = await repo.candidates_for(probe, excluding_organisation="NRC")

    assert {n.need_id for n in found} == {
        same.need_id,
        ends_on_first_day.need_id,
        starts_on_last_day.need_id,
        one_item_in_common.need_id,
    }
    assert all(n.status is NeedStatus.SUBMITTED for n in found)
    # ...and the rule flags each of them: the query left out none it would have flagged.
    everyone = await repo.active_in({"ML0501"}, excluding_organisation="NRC")
    assert {link.need_id for link in find_duplicates("probe", "NRC", probe, everyone)} == {
        n.need_id for n in found
    }
