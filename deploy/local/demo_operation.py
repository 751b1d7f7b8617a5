"""The small Mali operation `make run` seeds, so that a first look shows a real picture.

Four warehouses with stock (receipts under GRN numbers, lots and expiries, two lots near expiry,
one item below its minimum), four partner organisations and their users, 28 needs across Mopti,
Tombouctou, Gao and Ménaka (P-codes of the bundled gazetteer, COD-AB 2015: Ménaka is the cercle
ML0704 of Gao there), one plan delivered to households, one approved plan waiting for stock, and
a transfer on its way to Gao.

Everything is made through the gateway, with the services' own commands, exactly as a user would
make it; each request carries an Idempotency-Key (ADR 0011), so seeding the same store again
replays every request and changes nothing. That is also why the scenario's calendar is fixed
(assessments in November 2026, expiries from March 2027) rather than counted from today: a key
sent again with another body would be refused as reused.

The scenario is the data below; `seed()` plays it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

DEMO = Path(__file__).resolve().parents[1] / "demo" / "mali"
# Every Idempotency-Key of the scenario starts with this; a new version of the scenario gets a
# new prefix (keys belong to an organisation and to one request body).
KEY_PREFIX = "demo-mali-2026"
# Demo accounts only: printed at the end of `make run`, never valid outside a development store.
DEMO_PASSWORD = "kitflow-demo-passphrase"
VIEW_TIMEOUT_S = 90.0
SAGA_TIMEOUT_S = 120.0
POLL_S = 0.5

# --------------------------------------------------------------------------- the scenario

ORGANISATIONS = [
    # organisation_id, name, kind
    ("IOM", "International Organization for Migration", "un-agency"),
    ("NRC", "Norwegian Refugee Council", "ngo"),
    ("DRC", "Danish Refugee Council", "ngo"),
    ("AMSS", "Association Malienne pour la Survie au Sahel", "ngo"),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    organisation: str
    role: str
    warehouses: tuple[str, ...] = ()
    what: str = ""


USERS = [
    DemoUser("coordinator@iom.int", "IOM", "coordinator", what="cluster coordinator"),
    DemoUser("storekeeper.mopti@iom.int", "IOM", "warehouse", ("MOP-SUB",), "Mopti storekeeper"),
    DemoUser("storekeeper.gao@iom.int", "IOM", "warehouse", ("GAO-SUB",), "Gao storekeeper"),
    DemoUser("needs@iom.int", "IOM", "partner", what="IOM's own assessments"),
    DemoUser("needs@nrc.no", "NRC", "partner", what="NRC partner"),
    DemoUser("needs@drc.ngo", "DRC", "partner", what="DRC partner"),
    DemoUser("needs@amss.ml", "AMSS", "partner", what="AMSS partner"),
]
COORDINATOR = USERS[0].username


@dataclass(frozen=True)
class Lot:
    item: str
    quantity: int
    lot: str
    expiry: str | None = None


@dataclass(frozen=True)
class Receipt:
    warehouse: str
    grn: str
    source: str
    lines: tuple[Lot, ...]


# fmt: off
RECEIPTS = [
    Receipt("BKO-MAIN", "GRN-BKO-2026-0141", "ECHO", (
        Lot("KIT-NFI", 400, "NFI-2609-A"),
        Lot("KIT-SHELTER-EMERGENCY", 250, "ESK-2609-A"),
        Lot("KIT-HYGIENE", 300, "HYG-2610-B", "2028-06-30"),
        Lot("TARPAULIN-6X4", 600, "TRP-2608-A"),
    )),
    Receipt("MOP-SUB", "GRN-MOP-2026-0057", "BHA", (
        Lot("KIT-NFI", 150, "NFI-2609-B"),
        Lot("KIT-SHELTER-EMERGENCY", 80, "ESK-2609-B"),
        Lot("KIT-HYGIENE", 120, "HYG-2603-A", "2027-03-31"),  # near expiry
    )),
    Receipt("TOM-SUB", "GRN-TOM-2026-0023", "CERF", (
        Lot("KIT-NFI", 90, "NFI-2607-C"),
        Lot("KIT-HYGIENE", 60, "HYG-2605-C", "2027-05-15"),  # near expiry
        Lot("BLANKET", 300, "BLK-2606-A"),
    )),
    Receipt("GAO-SUB", "GRN-GAO-2026-0031", "ECHO", (
        Lot("KIT-NFI", 40, "NFI-2607-D"),
        Lot("KIT-SHELTER-EMERGENCY", 30, "ESK-2607-D"),
        Lot("JERRYCAN-20L", 200, "JER-2606-A"),
    )),
]
# fmt: on

# warehouse, item, minimum: Mopti's NFI kits fall below theirs once the first plan is dispatched.
MINIMUMS = [
    ("MOP-SUB", "KIT-NFI", 50),
    ("BKO-MAIN", "KIT-NFI", 100),
    ("TOM-SUB", "KIT-NFI", 30),
]

AREAS = {"ML05": "Mopti", "ML06": "Tombouctou", "ML07": "Gao", "ML0704": "Ménaka"}
NFI = "KIT-NFI"
ESK = "KIT-SHELTER-EMERGENCY"
HYG = "KIT-HYGIENE"
KITS = {"NFI": NFI, "ESK": ESK, "HYG": HYG}


@dataclass(frozen=True)
class DemoNeed:
    ref: str  # the partner's own reference (external_ref), and the need's Idempotency-Key
    partner: str
    admin2: str
    site: str
    lat: float
    lon: float
    households: int
    severity: int
    items: tuple[str, ...]  # one of each per household
    validated: bool

    @property
    def admin1(self) -> str:
        return self.admin2[:4]

    @property
    def area(self) -> str:
        """Mopti, Tombouctou, Gao or Ménaka (a cercle of Gao in this vintage)."""
        return AREAS.get(self.admin2) or AREAS[self.admin1]


# Left for the coordinator to validate: they show in the needs waiting for validation.
AWAITING_VALIDATION = {"NRC-MEN-02", "AMSS-MEN-01", "IOM-MEN-02"}
# fmt: off
_NEEDS = [
    # ref           partner admin2    site                          lat     lon   hh sev kits
    ("NRC-MOP-01",  "NRC",  "ML0501", "Sévaré, Socoura",            14.53, -4.10, 60, 4, "NFI HYG"),
    ("NRC-MOP-02",  "NRC",  "ML0502", "Bandiagara, Wallo",          14.35, -3.61, 85, 4, "ESK NFI"),
    ("NRC-MOP-03",  "NRC",  "ML0506", "Douentza centre",            15.00, -2.95, 70, 5, "ESK"),
    ("NRC-TOM-01",  "NRC",  "ML0601", "Tombouctou, Abaradjou",      16.78, -3.02, 55, 3, "NFI"),
    ("NRC-TOM-02",  "NRC",  "ML0603", "Goundam, Tonka",             16.42, -3.66, 45, 3, "HYG"),
    ("NRC-GAO-01",  "NRC",  "ML0701", "Gao, Château",               16.29, -0.03, 90, 4, "ESK NFI"),
    ("NRC-MEN-01",  "NRC",  "ML0704", "Ménaka, Inekar",             15.95, 3.05,  40, 5, "ESK"),
    ("NRC-MEN-02",  "NRC",  "ML0704", "Ménaka, Tidermène",          16.29, 2.54,  25, 4, "HYG"),
    ("DRC-MOP-01",  "DRC",  "ML0507", "Koro, Dinangourou",          14.52, -2.60, 65, 4, "ESK HYG"),
    ("DRC-MOP-02",  "DRC",  "ML0501", "Mopti, Fatoma",              14.60, -4.02, 50, 3, "HYG"),
    ("DRC-TOM-01",  "DRC",  "ML0604", "Gourma-Rharous, Bambara M.", 15.88, -2.67, 60, 4, "NFI"),
    ("DRC-TOM-02",  "DRC",  "ML0605", "Niafunké, Soumpi",           15.90, -4.00, 35, 3, "NFI HYG"),
    ("DRC-GAO-01",  "DRC",  "ML0702", "Ansongo, Ouatagouna",        15.18, 0.72,  80, 5, "ESK"),
    ("DRC-GAO-02",  "DRC",  "ML0703", "Bourem, Bamba",              17.03, -1.40, 45, 3, "NFI"),
    ("DRC-MEN-01",  "DRC",  "ML0704", "Ménaka, Anderamboukane",     15.42, 3.03,  55, 5, "ESK NFI"),
    ("AMSS-MOP-01", "AMSS", "ML0501", "Mopti, Médina Coura",        14.49, -4.19, 40, 4, "NFI"),
    ("AMSS-MOP-02", "AMSS", "ML0505", "Djenné, Kéra",               13.91, -4.56, 30, 3, "HYG"),
    ("AMSS-TOM-01", "AMSS", "ML0601", "Tombouctou, Bellafarandi",   16.76, -2.99, 50, 4, "ESK HYG"),
    ("AMSS-TOM-02", "AMSS", "ML0602", "Diré, Haïbongo",             16.28, -3.40, 30, 3, "NFI"),
    ("AMSS-GAO-01", "AMSS", "ML0701", "Gao, Sosso Koïra",           16.26, -0.06, 35, 4, "NFI HYG"),
    ("AMSS-MEN-01", "AMSS", "ML0704", "Ménaka, ville",              15.92, 2.40,  30, 4, "NFI"),
    ("IOM-MOP-01",  "IOM",  "ML0505", "Djenné, Sirakoro",           13.95, -4.45, 35, 4, "NFI"),
    ("IOM-MOP-02",  "IOM",  "ML0508", "Ténenkou, Diafarabé",        14.17, -4.93, 45, 3, "ESK"),
    ("IOM-TOM-01",  "IOM",  "ML0603", "Goundam, Tin Aïcha",         16.58, -3.46, 25, 4, "ESK NFI"),
    ("IOM-GAO-01",  "IOM",  "ML0702", "Ansongo, Bazi Haoussa",      15.66, 0.50,  60, 4, "NFI HYG"),
    ("IOM-GAO-02",  "IOM",  "ML0703", "Bourem, Temera",             17.30, -0.70, 40, 3, "ESK"),
    ("IOM-MEN-01",  "IOM",  "ML0704", "Ménaka, Inchinanane",        15.80, 2.70,  45, 5, "NFI"),
    ("IOM-MEN-02",  "IOM",  "ML0704", "Ménaka, Tinfagat",           15.70, 2.90,  20, 4, "HYG"),
]
# fmt: on
NEEDS = [
    DemoNeed(
        ref,
        partner,
        admin2,
        site,
        lat,
        lon,
        households,
        severity,
        tuple(KITS[k] for k in kits.split()),
        ref not in AWAITING_VALIDATION,
    )
    for ref, partner, admin2, site, lat, lon, households, severity, kits in _NEEDS
]
PEOPLE_PER_HOUSEHOLD = 6  # Sahel households are large: Burkina's hosting households average 7
ASSESSED_ON = "2026-11-16"


@dataclass(frozen=True)
class DemoPlan:
    key: str
    title: str
    need_refs: tuple[str, ...]
    item: str
    warehouses: dict[str, list[str]]  # admin1 → the warehouses it may draw from


# Delivered: Mopti's NFI kits to three Mopti sites, households reached counted once per need.
DELIVERED_PLAN = DemoPlan(
    "plan-mopti-nfi-1",
    "Mopti NFI kits, round 1",
    ("NRC-MOP-01", "AMSS-MOP-01", "IOM-MOP-01"),
    NFI,
    {"ML05": ["MOP-SUB"]},
)
DELIVERY_WAYBILL = ("WB-MOP-2026-0102", "Sévaré, Mopti and Djenné sites")
# Waiting: drafted while Bamako held 250 shelter kits, approved after 200 of them left for Gao,
# so part of it waits for stock (partly-reserved) while the transfer is on the road.
WAITING_PLAN = DemoPlan(
    "plan-gao-menaka-esk-1",
    "Gao and Ménaka emergency shelter, round 1",
    ("NRC-GAO-01", "DRC-GAO-01", "NRC-MEN-01", "DRC-MEN-01"),
    ESK,
    {"ML07": ["GAO-SUB", "BKO-MAIN"]},
)
TRANSFER = ("BKO-MAIN", "GAO-SUB", "WB-BKO-2026-0217", ESK, 200)  # from, to, waybill, item, qty


# --------------------------------------------------------------------------- playing it


class SeedError(RuntimeError):
    pass


@dataclass
class SeedReport:
    """What the seeding did: per request, whether it made something or was replayed."""

    created: Counter[str] = field(default_factory=Counter)
    replayed: Counter[str] = field(default_factory=Counter)
    existing: Counter[str] = field(default_factory=Counter)  # already there by its natural key
    need_ids: dict[str, str] = field(default_factory=dict)
    plan_ids: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        made, again, there = (sum(c.values()) for c in (self.created, self.replayed, self.existing))
        return f"{made} change(s) made, {again} replayed, {there} already there"


class Seeder:
    def __init__(self, client: httpx.AsyncClient, admin_username: str, admin_password: str):
        self.client = client
        self.admin_credentials = (admin_username, admin_password)
        self.report = SeedReport()
        self._bearers: dict[str, dict[str, str]] = {}

    async def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        if username not in self._bearers:
            answer = await self.client.post(
                "/v1/auth/token",
                data={"grant_type": "password", "username": username, "password": password},
            )
            if answer.status_code != 200:
                raise SeedError(f"sign-in of {username}: {answer.status_code} {answer.text}")
            self._bearers[username] = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        return self._bearers[username]

    async def admin(self) -> dict[str, str]:
        return await self.sign_in(*self.admin_credentials)

    async def send(
        self,
        who: dict[str, str],
        path: str,
        key: str,
        body: Any,
        *,
        method: str = "POST",
        natural_key: bool = False,
    ) -> dict[str, Any]:
        """One command with its Idempotency-Key; `natural_key`: a 409 means it already exists
        (made before this scenario had keys, or by hand), which is what the scenario wants."""
        headers = {**who, "Idempotency-Key": f"{KEY_PREFIX}:{key}"}
        answer = await self.client.request(method, path, json=body, headers=headers)
        kind = path.split("/")[2]
        if answer.status_code in (200, 201, 204):
            replayed = answer.headers.get("Idempotent-Replayed") == "true"
            (self.report.replayed if replayed else self.report.created)[kind] += 1
            result: dict[str, Any] = answer.json() if answer.content else {}
            return result
        if answer.status_code == 409 and natural_key:
            self.report.existing[kind] += 1
            return {}
        raise SeedError(f"{method} {path} ({key}): {answer.status_code} {answer.text}")

    async def get(self, path: str) -> Any:
        answer = await self.client.get(path, headers=await self.admin())
        if answer.status_code != 200:
            raise SeedError(f"GET {path}: {answer.status_code} {answer.text}")
        return answer.json()

    async def until(
        self, path: str, done: Callable[[Any], bool], what: str, timeout_s: float
    ) -> Any:
        """Poll a read until it shows the outcome; the services agree through events."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = await self.get(path)
            if done(body):
                return body
            if time.monotonic() > deadline:
                raise SeedError(f"{what}: not seen within {timeout_s:g} s")
            await asyncio.sleep(POLL_S)


async def seed(
    gateway_url: str, admin_username: str, admin_password: str, *, timeout_s: float = 30
) -> SeedReport:
    """Play the scenario against the gateway at `gateway_url`; safe to run again."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=timeout_s) as client:
        seeder = Seeder(client, admin_username, admin_password)
        for step in (
            _warehouses_and_catalogue,
            _organisations_and_users,
            _stock,
            _needs,
            _delivered_plan,
            _waiting_plan,
        ):
            await step(seeder)
        return seeder.report


def _strip_notes(record: dict[str, Any]) -> dict[str, Any]:
    # Keys starting with "_" are the demo files' notes and sources, not API fields.
    return {k: v for k, v in record.items() if not k.startswith("_")}


async def _warehouses_and_catalogue(s: Seeder) -> None:
    admin = await s.admin()
    warehouses = json.loads((DEMO / "warehouses.json").read_text())["warehouses"]
    catalogue = json.loads((DEMO / "catalogue.json").read_text())
    for w in warehouses:
        await s.send(
            admin, "/v1/warehouses", f"warehouse:{w['code']}", _strip_notes(w), natural_key=True
        )
    # Items first: a kit's components must exist.
    for item in [*catalogue["items"], *catalogue["kits"]]:
        await s.send(
            admin, "/v1/items", f"item:{item['code']}", _strip_notes(item), natural_key=True
        )


async def _organisations_and_users(s: Seeder) -> None:
    admin = await s.admin()
    for organisation_id, name, kind in ORGANISATIONS:
        body = {"organisation_id": organisation_id, "name": name, "kind": kind}
        await s.send(
            admin, "/v1/organisations", f"organisation:{organisation_id}", body, natural_key=True
        )
    for user in USERS:
        body = {
            "username": user.username,
            "password": DEMO_PASSWORD,
            "organisation": user.organisation,
            "roles": [user.role],
            "warehouses": list(user.warehouses),
        }
        await s.send(admin, "/v1/users", f"user:{user.username}", body, natural_key=True)


async def _stock(s: Seeder) -> None:
    admin = await s.admin()
    for r in RECEIPTS:
        lines = [
            {"item_code": x.item, "quantity": x.quantity, "lot": x.lot}
            | ({"expiry": x.expiry} if x.expiry else {})
            for x in r.lines
        ]
        body = {"grn_number": r.grn, "source": r.source, "lines": lines}
        await s.send(admin, f"/v1/warehouses/{r.warehouse}/receipts", f"receipt:{r.grn}", body)
    for warehouse, item, minimum in MINIMUMS:
        await s.send(
            admin,
            f"/v1/warehouses/{warehouse}/stock/{item}/minimum",
            f"minimum:{warehouse}:{item}",
            {"minimum": minimum},
            method="PUT",
        )


def _need_body(need: DemoNeed) -> dict[str, Any]:
    return {
        "external_ref": need.ref,
        "location": {
            "admin1_pcode": need.admin1,
            "admin2_pcode": need.admin2,
            "site_name": need.site,
            "coordinates": {"lat": need.lat, "lon": need.lon},
        },
        "population": {
            "households": need.households,
            "individuals": need.households * PEOPLE_PER_HOUSEHOLD,
        },
        "displacement_status": "idp",
        "assessment": {"date": ASSESSED_ON, "source": "partner-assessment"},
        "severity": need.severity,
        "items": [{"item_code": item, "quantity": need.households} for item in need.items],
    }


async def _needs(s: Seeder) -> None:
    coordinator = await s.sign_in(COORDINATOR)
    for need in NEEDS:
        partner = await s.sign_in(_partner_user(need.partner))
        made = await s.send(partner, "/v1/needs", f"need:{need.ref}", _need_body(need))
        s.report.need_ids[need.ref] = made["id"]
        if need.validated:
            await s.send(
                coordinator, f"/v1/needs/{made['id']}/validate", f"validate:{need.ref}", None
            )


def _partner_user(organisation: str) -> str:
    return next(u.username for u in USERS if u.organisation == organisation and u.role == "partner")


async def _views_know(s: Seeder, plan: DemoPlan) -> None:
    """Distribution plans from its views, built from events: wait until they hold the plan's
    needs (validated, or further along on a second run) and its warehouses' stock."""
    ids = {s.report.need_ids[ref] for ref in plan.need_refs}
    await s.until(
        "/v1/views/needs",
        lambda view: ids <= {n["need_id"] for n in view if n["status"] != "submitted"},
        f"the needs of {plan.title!r} in distribution's view",
        VIEW_TIMEOUT_S,
    )
    places = {(w, plan.item) for ws in plan.warehouses.values() for w in ws}
    await s.until(
        "/v1/views/stock",
        lambda view: places <= {(x["warehouse"], x["balance"]["item_code"]) for x in view},
        f"the stock for {plan.title!r} in distribution's view",
        VIEW_TIMEOUT_S,
    )


async def _draft(s: Seeder, plan: DemoPlan) -> str:
    await _views_know(s, plan)
    body = {
        "title": plan.title,
        "need_ids": [s.report.need_ids[ref] for ref in plan.need_refs],
        "item_codes": [plan.item],
        "allowed_warehouses": plan.warehouses,
    }
    coordinator = await s.sign_in(COORDINATOR)
    drafted = await s.send(coordinator, "/v1/plans", f"{plan.key}:draft", body)
    plan_id: str = drafted["plan_id"]
    s.report.plan_ids[plan.key] = plan_id
    return plan_id


async def _plan_reaches(s: Seeder, plan_id: str, statuses: Iterable[str], what: str) -> Any:
    wanted = set(statuses)
    return await s.until(
        f"/v1/plans/{plan_id}", lambda p: p["status"] in wanted, what, SAGA_TIMEOUT_S
    )


async def _delivered_plan(s: Seeder) -> None:
    plan = DELIVERED_PLAN
    plan_id = await _draft(s, plan)
    coordinator = await s.sign_in(COORDINATOR)
    await s.send(coordinator, f"/v1/plans/{plan_id}/approve", f"{plan.key}:approve", {})
    await _plan_reaches(
        s, plan_id, ("reserved", "dispatching", "dispatched", "delivered"), "reserved"
    )
    waybill, destination = DELIVERY_WAYBILL
    body = {"waybill_number": waybill, "destination": destination}
    await s.send(coordinator, f"/v1/plans/{plan_id}/dispatch", f"{plan.key}:dispatch", body)
    dispatched = await _plan_reaches(s, plan_id, ("dispatched", "delivered"), "dispatched")
    by_ref = {need.ref: need for need in NEEDS}
    deliveries = []
    for ref in plan.need_refs:
        need_id = s.report.need_ids[ref]
        lines = [x for x in dispatched["lines"] if x["need_id"] == need_id and x["dispatched"]]
        households = by_ref[ref].households
        deliveries.append(
            {
                "need_id": need_id,
                "lines": [{"line_id": x["line_id"], "quantity": x["dispatched"]} for x in lines],
                "households": households,
                "individuals": households * PEOPLE_PER_HOUSEHOLD,
            }
        )
    await s.send(
        coordinator,
        f"/v1/plans/{plan_id}/deliveries",
        f"{plan.key}:deliveries",
        {"deliveries": deliveries},
    )


async def _waiting_plan(s: Seeder) -> None:
    plan = WAITING_PLAN
    plan_id = await _draft(s, plan)
    source, destination, waybill, item, quantity = TRANSFER
    body = {
        "to_warehouse": destination,
        "waybill_number": waybill,
        "lines": [{"item_code": item, "quantity": quantity}],
    }
    await s.send(await s.admin(), f"/v1/warehouses/{source}/transfers", f"transfer:{waybill}", body)
    coordinator = await s.sign_in(COORDINATOR)
    await s.send(coordinator, f"/v1/plans/{plan_id}/approve", f"{plan.key}:approve", {})
    await _plan_reaches(s, plan_id, ("reserved", "partly-reserved"), "answered by stock")


def sign_ins() -> list[tuple[str, str, str]]:
    """(user name, organisation and role, password) of every demo user, for `make run`."""
    return [
        (
            u.username,
            f"{u.organisation} {u.role}" + (f" ({u.what})" if u.what else ""),
            DEMO_PASSWORD,
        )
        for u in USERS
    ]


def run(gateway_url: str, admin_username: str, admin_password: str) -> SeedReport:
    return asyncio.run(seed(gateway_url, admin_username, admin_password))
