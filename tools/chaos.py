"""`make chaos`: a mixed workload through the cluster's front while processes are killed, then
a check that nothing acknowledged was lost or doubled.

It starts `make run-cluster` (deploy/local/run_system.py --cluster) on ports of its own, in a
directory of its own (never touching a running `make run` or `make run-cluster`), with the
store on disk (h2) so that a store restart keeps the data. `run_system` seeds the demo Mali
operation (warehouses, catalogue, partners, users); the workload then runs through the
round-robin front: receipts, dispatches, transfers (sent and received), needs (reported by the
demo's partner organisations, NRC, DRC and AMSS, each signed in as itself; validated by the
coordinator), plans (drafted, approved, dispatched, delivered; cancelled when nothing could be
reserved). Every state change carries an Idempotency-Key and is retried as a careful client
would: the same key, exponential backoff with jitter, on a connection error, a timeout, 5xx,
429, and a 409 that says when to come back, never sooner than an answer's Retry-After; any
other 4xx is an answer.

Meanwhile the chaos monkey SIGKILLs service instances at random (run_system's supervisor starts
them again), SIGKILLs one Kafka broker and starts it again, and stops and starts the store on the
same data. Then, once everything has settled (polled with a deadline), it checks:

- every acknowledged stock operation is in the ledger exactly once, and per warehouse and item
  the balance is the baseline plus the acknowledged receipts, minus the dispatches and transfers
  sent, plus the transfers received, minus what plans dispatched; the ledger's last running
  balance is the balance; no balance is negative;
- distribution's view of each balance is stock's;
- every acknowledged need exists once, in the organisation that reported it, in the status its
  acknowledged commands left; each partner's own list holds its needs of the run, all of them
  and no other organisation's;
- every plan is in a final state: delivered, cancelled, or (its saga done, waiting for a
  command) reserved, partly-reserved, dispatched with every line answered; never reserving or
  dispatching;
- the dead-letter topics are empty (each message found is listed as a violation).

It prints the table and exits 1 on any violation.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import signal
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from unittest import mock

import httpx
import typer
from kitflow_gateway.config import DEV_ADMIN_PASSWORD
from rich.console import Console
from rich.table import Table

from tools.local_system import CLUSTER_OFFSETS, LocalSystem, alive, cluster_script

REPO = Path(__file__).resolve().parents[1]
LOCAL = REPO / "deploy" / "local"
ADMIN = ("admin@iom.int", DEV_ADMIN_PASSWORD)
# The demo users' (deploy/local/demo_operation.py), good on a development store only.
DEMO_PASSWORD = "kitflow-demo-passphrase"  # noqa: S105
COORDINATOR = "coordinator@iom.int"
# How long the restarted store may take to answer again (kitflow-local's default is 60 s).
STORE_RESTART_READY_S = 300
# A token is renewed when half its life is gone, so that no operation's retries outlive it.
RENEW_AT_LIFE_FRACTION = 0.5
# The demo's partner organisations, each reporting its needs with its own sign-in (the gateway
# counts each organisation's requests apart, as it would real partners'). Each reports from
# sites of its own, 0.1° of longitude (11 km) apart, so no need is a possible duplicate of
# another partner's (needs' duplicate rule: the same site within 1 km).
PARTNERS = {"needs@nrc.no": "NRC", "needs@drc.ngo": "DRC", "needs@amss.ml": "AMSS"}
PARTNER_SITES_LON = {"NRC": -4.1, "DRC": -4.0, "AMSS": -3.9}
# Everyone else the workload signs in as works for the cluster lead.
LEAD = "IOM"
# Demo warehouses (deploy/demo/mali) and items the demo's plans do not reserve.
WAREHOUSES = ("BKO-MAIN", "MOP-SUB", "TOM-SUB", "GAO-SUB")
ITEMS = ("KIT-NFI", "KIT-HYGIENE", "BLANKET", "JERRYCAN-20L")
PLAN_ITEM = "KIT-NFI"
# Needs planned from these (admin1 Mopti): the warehouses a plan may draw from.
PLAN_WAREHOUSES = {"ML05": ["MOP-SUB", "BKO-MAIN"]}
NEED_PLACES = ("ML0501", "ML0502", "ML0505", "ML0506", "ML0507", "ML0508")
# Plans rest in these once their saga has nothing left to do on its own.
FINAL_PLAN_STATES = frozenset(
    {"delivered", "closed", "cancelled", "reserved", "partly-reserved", "dispatched"}
)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})

console = Console()


# --------------------------------------------------------------------------- the cluster


class ChaosCluster(LocalSystem):
    """`run_system.py --cluster` as a child process (tools/local_system.py), and the handles to
    hurt it."""

    def __init__(self, local: Path, rng: random.Random) -> None:
        super().__init__(
            "cluster",
            local,
            {
                # On disk: the store's restart keeps what it held.
                "KITFLOW_STORE_BACKEND": "h2",
                "KITFLOW_STORE_HEAP": os.environ.get("KITFLOW_STORE_HEAP", "768m"),
                # A supervisor that brings a killed instance back quickly.
                "KITFLOW_RESTART_FIRST_DELAY_S": "1",
                "KITFLOW_RESTART_MAX_DELAY_S": "5",
            },
            rng=rng,
        )
        self.cluster_mod = cluster_script()
        self.cluster = self.cluster_mod.Cluster(
            local_dir=local,
            kafka_port=self.kafka_port,
            front_port=self.front_port,
            store_port=self.store_port,
            kafka_heap=os.environ.get("KITFLOW_CLUSTER_KAFKA_HEAP", "384m"),
        )

    def instances(self) -> dict[int, str]:
        """pid → instance name (stock-1, gateway-2, ...) of the services run_system supervises
        (the front is left out: the workload goes through it)."""
        return {pid: name for name, pid in self.service_pids().items() if name != "front"}

    def kill_broker(self, node: int) -> int:
        pid = int(self.broker_pid_file(node).read_text())
        os.kill(pid, signal.SIGKILL)
        while alive(pid):
            time.sleep(0.1)
        return pid

    def _tool(self, node: int | None, *args: str, ready_s: float | None = None) -> None:
        """kitflow-local as run_system runs it (its cache, the store's backend and heap)."""
        ready = {} if ready_s is None else {"KITFLOW_READY_TIMEOUT": f"{ready_s:g}"}
        with mock.patch.dict(os.environ, {**self.env, **ready}):
            self.cluster_mod._tool(self.cluster, node, *args)

    def start_broker(self, node: int) -> None:
        self._tool(node, "start", "kafka")
        self.remember()

    def restart_store(self) -> float:
        """Stop the store and start it on the same data; the seconds until it answered again.

        The restarted store reopens its files while every instance reconnects to it at once:
        on the 2-core machine under load that took more than kitflow-local's 60 s, and the run
        died there rather than measuring anything, so the restart has a budget of its own."""
        self._tool(None, "stop", "store")
        started = time.monotonic()
        self._tool(None, "start", "store", ready_s=STORE_RESTART_READY_S)
        self.remember()
        return time.monotonic() - started


# --------------------------------------------------------------------------- the careful client


@dataclass
class Outcome:
    status: int | None  # None: no answer after every retry
    body: Any
    attempts: int


@dataclass
class Stats:
    operations: Counter[str] = field(default_factory=Counter)
    acknowledged: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    unanswered: Counter[str] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    retry_reasons: Counter[str] = field(default_factory=Counter)
    # Answers 429 (the per-organisation rate limit) by the organisation that got them.
    rate_limited: Counter[str] = field(default_factory=Counter)
    refusals: Counter[str] = field(default_factory=Counter)
    # The first answer of each kind of refusal, to read why.
    refusal_examples: dict[str, str] = field(default_factory=dict)
    sign_ins: int = 0


class CarefulClient:
    def __init__(self, base_url: str, rng: random.Random, stats: Stats, give_up_s: float) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(30, connect=5))
        self.rng = rng
        self.stats = stats
        self.give_up_s = give_up_s
        self.bearers: dict[str, dict[str, str]] = {}
        self.renew_at: dict[str, float] = {}  # username → when its token is renewed
        self.organisation_of: dict[str, str] = {}  # Authorization header → organisation
        self.keys = itertools.count(1)
        self.run_id = f"{rng.getrandbits(32):08x}"

    async def close(self) -> None:
        await self.http.aclose()

    def key(self, what: str) -> str:
        return f"chaos-{self.run_id}-{what}-{next(self.keys)}"

    async def sign_in(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        """The user's Authorization header, signed in again once half the token's life is gone
        (a 10,000-operation run outlives the gateway's 15-minute tokens)."""
        if time.monotonic() >= self.renew_at.get(username, 0.0):
            self.bearers.pop(username, None)
        if username not in self.bearers:
            answer = await self._retrying(
                "sign-in",
                lambda: self.http.post(
                    "/v1/auth/token",
                    data={"grant_type": "password", "username": username, "password": password},
                ),
            )
            if answer.status != 200:
                raise RuntimeError(f"sign-in of {username}: {answer.status} {answer.body}")
            bearer = f"Bearer {answer.body['access_token']}"
            self.bearers[username] = {"Authorization": bearer}
            life = float(answer.body.get("expires_in") or 0)
            self.renew_at[username] = time.monotonic() + life * RENEW_AT_LIFE_FRACTION
            self.stats.sign_ins += 1
            self.organisation_of[bearer] = PARTNERS.get(username, LEAD)
        return self.bearers[username]

    async def admin(self) -> dict[str, str]:
        return await self.sign_in(*ADMIN)

    async def command(
        self, kind: str, who: dict[str, str], path: str, body: Any, method: str = "POST"
    ) -> Outcome:
        """One state change with one Idempotency-Key, retried until answered."""
        headers = {**who, "Idempotency-Key": self.key(kind)}
        self.stats.operations[kind] += 1
        outcome = await self._retrying(
            kind, lambda: self.http.request(method, path, json=body, headers=headers), who
        )
        if outcome.status is None:
            self.stats.unanswered[kind] += 1
        elif outcome.status < 300:
            self.stats.acknowledged[kind] += 1
        else:
            self.stats.refused[kind] += 1
            slug = outcome.body.get("type", "") if isinstance(outcome.body, dict) else ""
            refusal = f"{kind} {outcome.status} {str(slug).rsplit('/', 1)[-1]}"
            self.stats.refusals[refusal] += 1
            self.stats.refusal_examples.setdefault(refusal, str(outcome.body)[:300])
        return outcome

    async def get(self, path: str, who: dict[str, str] | None = None) -> Any:
        who = who or await self.admin()
        outcome = await self._retrying("read", lambda: self.http.get(path, headers=who), who)
        if outcome.status != 200:
            raise RuntimeError(f"GET {path}: {outcome.status} {outcome.body}")
        return outcome.body

    async def _retrying(
        self,
        kind: str,
        send: Callable[[], Awaitable[httpx.Response]],
        who: dict[str, str] | None = None,
    ) -> Outcome:
        deadline = time.monotonic() + self.give_up_s
        delay = 0.2
        for attempt in itertools.count(1):
            reason, told = "", None
            try:
                response = await send()
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
            else:
                body = _body(response)
                if not _retry(response):
                    return Outcome(response.status_code, body, attempt)
                reason, told = str(response.status_code), retry_after_s(response)
            if time.monotonic() > deadline:
                return Outcome(None, reason, attempt)
            self.stats.retry_reasons[reason] += 1
            if reason == "429":
                organisation = self.organisation_of.get((who or {}).get("Authorization", ""))
                self.stats.rate_limited[organisation or "(signing in)"] += 1
            if kind != "read":
                self.stats.retried[kind] += attempt == 1
            # Full jitter: replicas coming back are not hit by every client at once. A server
            # that said when to come back (429's window, 503's outage) is asked no sooner.
            pause = self.rng.uniform(0, delay) + (told or 0.0)
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, 5.0)
        raise AssertionError("unreachable")


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def retry_after_s(response: httpx.Response) -> float | None:
    """The answer's Retry-After in seconds (RFC 9110: a number of seconds, or an HTTP date,
    which the gateways do not send and which is ignored here); None when absent or unreadable."""
    value = response.headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None


def _retry(response: httpx.Response) -> bool:
    if response.status_code in RETRY_STATUSES:
        return True
    # A 409 that says when to come back (a request with this key still in progress).
    return response.status_code == 409 and "retry-after" in response.headers


# --------------------------------------------------------------------------- the workload


@dataclass
class StockMove:
    """One acknowledged (or unanswered) stock document and what it does to on-hand."""

    warehouse: str
    document: str
    deltas: dict[str, int]  # item → change of on hand
    acknowledged: bool


@dataclass
class Expectations:
    moves: list[StockMove] = field(default_factory=list)
    # need id → the status its acknowledged commands left it in
    needs: dict[str, str] = field(default_factory=dict)
    need_refs: dict[str, str] = field(default_factory=dict)  # external ref → need id
    need_organisations: dict[str, str] = field(default_factory=dict)  # need id → reported by
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # plan id → what was done
    unanswered: list[str] = field(default_factory=list)
    validated_queue: list[str] = field(default_factory=list)
    pending_transfers: list[tuple[str, str, list[dict[str, Any]], dict[str, int]]] = field(
        default_factory=list
    )


class Workload:
    def __init__(self, client: CarefulClient, rng: random.Random, operations: int) -> None:
        self.c = client
        self.rng = rng
        self.target = operations
        self.expect = Expectations()
        self.numbers = itertools.count(1)
        self.finished = False
        self.errors: list[str] = []

    @property
    def done(self) -> int:
        return sum(self.c.stats.operations.values())

    def _doc(self, prefix: str) -> str:
        return f"{prefix}-{self.c.run_id}-{next(self.numbers)}".upper()

    def _record(self, out: Outcome, move: StockMove, kind: str) -> None:
        if out.status is None:
            self.expect.unanswered.append(f"{kind} {move.document}")
            move.acknowledged = False
            self.expect.moves.append(move)
        elif out.status < 300:
            self.expect.moves.append(move)

    async def receipt(self) -> None:
        warehouse = self.rng.choice(WAREHOUSES)
        items = self.rng.sample(ITEMS, self.rng.randint(1, 2))
        quantities = {i: self.rng.randint(5, 60) for i in items}
        grn = self._doc("GRN")
        body = {
            "grn_number": grn,
            "source": "ECHO",
            "lines": [
                {"item_code": i, "quantity": q, "lot": "CHAOS"} for i, q in quantities.items()
            ],
        }
        out = await self.c.command(
            "receipt", await self.c.admin(), f"/v1/warehouses/{warehouse}/receipts", body
        )
        self._record(out, StockMove(warehouse, grn, quantities, True), "receipt")

    async def dispatch(self) -> None:
        warehouse = self.rng.choice(WAREHOUSES)
        item = self.rng.choice(ITEMS)
        quantity = self.rng.randint(1, 30)
        waybill = self._doc("WB")
        body = {
            "waybill_number": waybill,
            "destination": "Sévaré site (ML0501)",
            "lines": [{"item_code": item, "quantity": quantity}],
        }
        out = await self.c.command(
            "dispatch", await self.c.admin(), f"/v1/warehouses/{warehouse}/dispatches", body
        )
        self._record(out, StockMove(warehouse, waybill, {item: -quantity}, True), "dispatch")

    async def transfer(self) -> None:
        source, destination = self.rng.sample(WAREHOUSES, 2)
        item = self.rng.choice(ITEMS)
        quantity = self.rng.randint(1, 20)
        waybill = self._doc("TWB")
        body = {
            "to_warehouse": destination,
            "waybill_number": waybill,
            "lines": [{"item_code": item, "quantity": quantity}],
        }
        out = await self.c.command(
            "transfer", await self.c.admin(), f"/v1/warehouses/{source}/transfers", body
        )
        self._record(out, StockMove(source, waybill, {item: -quantity}, True), "transfer")
        if out.status is not None and out.status < 300 and out.body.get("transfer_id"):
            lines = [
                {
                    "item_code": x["item_code"],
                    "lot": x["lot"],
                    "owner": x["owner"],
                    "received": abs(x["quantity"]),
                }
                for x in out.body["lines"]
            ]
            self.expect.pending_transfers.append(
                (destination, str(out.body["transfer_id"]), lines, {item: quantity})
            )

    async def transfer_receipt(self) -> None:
        if not self.expect.pending_transfers:
            await self.transfer()
            return
        pending = self.expect.pending_transfers.pop(0)
        destination, transfer_id, lines, quantities = pending
        stock = await self.c.get(f"/v1/warehouses/{destination}/stock")
        if transfer_id not in stock.get("transfers_in_transit", []):
            # Not yet known at the destination (the event is on its way): later.
            self.expect.pending_transfers.append(pending)
            return
        grn = self._doc("TGRN")
        body = {"grn_number": grn, "lines": lines}
        out = await self.c.command(
            "transfer-receipt",
            await self.c.admin(),
            f"/v1/warehouses/{destination}/transfers/{transfer_id}/receipt",
            body,
        )
        self._record(out, StockMove(destination, grn, quantities, True), "transfer-receipt")

    def _need_body(self, ref: str, organisation: str) -> dict[str, Any]:
        households = self.rng.randint(3, 12)
        admin2 = self.rng.choice(NEED_PLACES)
        return {
            "external_ref": ref,
            "location": {
                "admin1_pcode": admin2[:4],
                "admin2_pcode": admin2,
                "site_name": f"Chaos site {ref}",
                "coordinates": {
                    "lat": 14.5 + self.rng.random() / 10,
                    "lon": PARTNER_SITES_LON[organisation],
                },
            },
            "population": {"households": households, "individuals": households * 6},
            "displacement_status": "idp",
            "assessment": {"date": "2026-11-16", "source": "partner-assessment"},
            "severity": self.rng.randint(2, 5),
            "items": [{"item_code": PLAN_ITEM, "quantity": households}],
        }

    async def need(self) -> str | None:
        ref = self._doc("CHAOS-NEED")
        username = self.rng.choice(sorted(PARTNERS))
        organisation = PARTNERS[username]
        partner = await self.c.sign_in(username)
        out = await self.c.command("need", partner, "/v1/needs", self._need_body(ref, organisation))
        if out.status is None:
            self.expect.unanswered.append(f"need {ref}")
            return None
        if out.status >= 300:
            return None
        need_id = str(out.body["id"])
        self.expect.need_refs[ref] = need_id
        self.expect.need_organisations[need_id] = organisation
        self.expect.needs[need_id] = str(out.body["status"])
        coordinator = await self.c.sign_in(COORDINATOR)
        out = await self.c.command("validate", coordinator, f"/v1/needs/{need_id}/validate", None)
        if out.status is not None and out.status < 300:
            self.expect.needs[need_id] = str(out.body["status"])
            self.expect.validated_queue.append(need_id)
            return need_id
        return None

    async def plan(self) -> None:
        needs = [
            self.expect.validated_queue.pop(0)
            for _ in range(min(2, len(self.expect.validated_queue)))
        ]
        while len(needs) < 2:
            need_id = await self.need()
            if need_id is None:
                return
            self.expect.validated_queue.remove(need_id)
            needs.append(need_id)
        coordinator = await self.c.sign_in(COORDINATOR)
        await self._until(
            "/v1/views/needs",
            lambda v: set(needs) <= {n["need_id"] for n in v if n["status"] != "submitted"},
            120,
        )
        title = self._doc("chaos plan")
        body = {
            "title": title,
            "need_ids": needs,
            "item_codes": [PLAN_ITEM],
            "allowed_warehouses": PLAN_WAREHOUSES,
        }
        out = await self.c.command("plan-draft", coordinator, "/v1/plans", body)
        if out.status is None or out.status >= 300:
            return
        plan_id = str(out.body["plan_id"])
        record: dict[str, Any] = {
            "needs": needs,
            "approved": False,
            "dispatched": False,
            "delivered": False,
            "cancelled": False,
        }
        self.expect.plans[plan_id] = record
        out = await self.c.command("plan-approve", coordinator, f"/v1/plans/{plan_id}/approve", {})
        if out.status is None or out.status >= 300:
            # A draft the coordinator cannot approve (nothing to distribute: the planned
            # warehouses ran out of the item) is discarded, as a coordinator would; left alone
            # it would rest in draft, which is no end of a saga.
            await self._cancel(plan_id, record, "the draft could not be approved")
            return
        record["approved"] = True
        plan = await self._plan_until(plan_id, {"reserved", "partly-reserved"})
        if plan is None:
            return
        if not any(line["reserved"] for line in plan["lines"]):
            await self._cancel(plan_id, record, "nothing could be reserved")
            return
        body = {"waybill_number": self._doc("PWB"), "destination": "Mopti sites"}
        out = await self.c.command(
            "plan-dispatch", coordinator, f"/v1/plans/{plan_id}/dispatch", body
        )
        if out.status is None or out.status >= 300:
            return
        record["dispatched"] = True
        plan = await self._plan_until(plan_id, {"dispatched"})
        if plan is None:
            return
        deliveries = []
        for need_id in needs:
            lines = [x for x in plan["lines"] if x["need_id"] == need_id and x["dispatched"]]
            if lines:
                deliveries.append(
                    {
                        "need_id": need_id,
                        "lines": [
                            {"line_id": x["line_id"], "quantity": x["dispatched"]} for x in lines
                        ],
                        "households": 1,
                        "individuals": 6,
                    }
                )
        if not deliveries:
            return
        out = await self.c.command(
            "plan-deliveries",
            coordinator,
            f"/v1/plans/{plan_id}/deliveries",
            {"deliveries": deliveries},
        )
        record["delivered"] = out.status is not None and out.status < 300

    async def _cancel(self, plan_id: str, record: dict[str, Any], reason: str) -> None:
        coordinator = await self.c.sign_in(COORDINATOR)
        out = await self.c.command(
            "plan-cancel", coordinator, f"/v1/plans/{plan_id}/cancel", {"reason": reason}
        )
        record["cancelled"] = out.status is not None and out.status < 300

    async def _plan_until(self, plan_id: str, statuses: set[str]) -> dict[str, Any] | None:
        try:
            plan: dict[str, Any] = await self._until(
                f"/v1/plans/{plan_id}", lambda p: p["status"] in statuses, 180
            )
        except TimeoutError:
            return None
        return plan

    async def _until(self, path: str, done: Callable[[Any], bool], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            body = await self.c.get(path, await self.c.sign_in(COORDINATOR))
            if done(body):
                return body
            if time.monotonic() > deadline:
                raise TimeoutError(path)
            await asyncio.sleep(0.5)

    async def one(self) -> None:
        roll = self.rng.random()
        if roll < 0.30:
            await self.receipt()
        elif roll < 0.50:
            await self.dispatch()
        elif roll < 0.62:
            await self.transfer()
        elif roll < 0.72:
            await self.transfer_receipt()
        elif roll < 0.88:
            await self.need()
        else:
            await self.plan()

    async def run(self, concurrency: int) -> None:
        async def worker() -> None:
            while self.done < self.target:
                try:
                    await self.one()
                except (RuntimeError, TimeoutError) as exc:
                    # A read that never answered, a view that never caught up: said as a
                    # violation at the end; the workload goes on.
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:300])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        # Received what was sent, so that in-transit is settled too.
        for _ in range(len(self.expect.pending_transfers) * 3):
            if not self.expect.pending_transfers:
                break
            await self.transfer_receipt()
            await asyncio.sleep(0.2)


# --------------------------------------------------------------------------- the chaos monkey


@dataclass
class ChaosPlan:
    service_kills: int
    broker_kill: bool = True
    store_restart: bool = True
    broker_down_s: float = 15.0


@dataclass
class Event:
    at_s: float
    kind: str  # service-kill, broker-kill, broker-start, store-restart
    what: str


class Monkey:
    """Hurts the cluster at points of the workload's progress (fractions of the operations)."""

    def __init__(
        self, cluster: ChaosCluster, plan: ChaosPlan, rng: random.Random, workload: Workload
    ) -> None:
        self.cluster = cluster
        self.rng = rng
        self.workload = workload
        self.plan = plan
        self.events: list[Event] = []
        self.started = time.monotonic()
        moments: list[tuple[float, str]] = [
            (rng.uniform(0.05, 0.9), "service") for _ in range(plan.service_kills)
        ]
        if plan.broker_kill:
            moments.append((0.3, "broker"))
        if plan.store_restart:
            moments.append((0.6, "store"))
        self.moments = sorted(moments)

    def _log(self, kind: str, what: str) -> None:
        event = Event(time.monotonic() - self.started, kind, what)
        self.events.append(event)
        console.print(f"[yellow]{event.at_s:7.1f} s {kind}: {what}[/yellow]")

    @property
    def kills(self) -> Counter[str]:
        return Counter(e.kind for e in self.events)

    async def run(self) -> None:
        for fraction, kind in self.moments:
            while self.workload.done < fraction * self.workload.target:
                if self.workload.finished:
                    return
                await asyncio.sleep(0.2)
            if kind == "service":
                await asyncio.to_thread(self._kill_service)
            elif kind == "broker":
                await self._bounce_broker()
            else:
                await asyncio.to_thread(self._restart_store)

    def _kill_service(self) -> None:
        instances = self.cluster.instances()
        if not instances:
            return
        pid = self.rng.choice(sorted(instances))
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            self._log("service-kill", f"{instances[pid]} (pid {pid}) SIGKILL")

    async def _bounce_broker(self) -> None:
        node = self.rng.randint(1, 3)
        pid = await asyncio.to_thread(self.cluster.kill_broker, node)
        self._log("broker-kill", f"broker {node} (pid {pid}) SIGKILL")
        await asyncio.sleep(self.plan.broker_down_s)
        await asyncio.to_thread(self.cluster.start_broker, node)
        self._log("broker-start", f"broker {node} started again")

    def _restart_store(self) -> None:
        seconds = self.cluster.restart_store()
        self._log(
            "store-restart", f"store stopped and started on the same data, ready in {seconds:.1f} s"
        )


# --------------------------------------------------------------------------- the checks


@dataclass
class Baseline:
    on_hand: dict[tuple[str, str], int]


async def take_baseline(c: CarefulClient) -> Baseline:
    on_hand: dict[tuple[str, str], int] = {}
    for w in WAREHOUSES:
        stock = await c.get(f"/v1/warehouses/{w}/stock")
        for b in stock["items"]:
            on_hand[(w, b["item_code"])] = b["on_hand"]
    return Baseline(on_hand)


async def _card(c: CarefulClient, warehouse: str, item: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = await c.get(
            f"/v1/warehouses/{warehouse}/stock/{item}/card?limit=1000&offset={len(rows)}"
        )
        rows.extend(page["rows"])
        if len(rows) >= page["total"] or not page["rows"]:
            return rows


async def _all_needs(c: CarefulClient, who: dict[str, str]) -> list[dict[str, Any]]:
    """Every need `who` may read (a partner: its organisation's; the admin: all)."""
    found: list[dict[str, Any]] = []
    while True:
        page = await c.get(f"/v1/needs?limit=500&offset={len(found)}", who)
        found.extend(page["items"])
        if len(found) >= page["total"] or not page["items"]:
            return found


async def check(
    c: CarefulClient, expect: Expectations, baseline: Baseline, bootstrap: str
) -> list[str]:
    """Every violation found, in words (empty: none)."""
    violations: list[str] = []
    admin = await c.admin()
    coordinator = await c.sign_in(COORDINATOR)
    stock: dict[tuple[str, str], dict[str, Any]] = {}
    for w in WAREHOUSES:
        for b in (await c.get(f"/v1/warehouses/{w}/stock", admin))["items"]:
            stock[(w, b["item_code"])] = b
    for (w, item), b in sorted(stock.items()):
        for key in ("on_hand", "reserved", "available", "in_transit"):
            if b[key] < 0:
                violations.append(f"{w} {item}: {key} {b[key]} is negative")

    plans = {pid: await c.get(f"/v1/plans/{pid}", coordinator) for pid in expect.plans}
    plan_issued: Counter[tuple[str, str]] = Counter()
    for plan in plans.values():
        for line in plan["lines"]:
            plan_issued[(line["warehouse"], line["item_code"])] += line["dispatched"]

    run_marker = c.run_id.upper()
    by_place: dict[tuple[str, str], list[StockMove]] = defaultdict(list)
    for move in expect.moves:
        for item in move.deltas:
            by_place[(move.warehouse, item)].append(move)
    for w in WAREHOUSES:
        for item in ITEMS:
            place = (w, item)
            card = await _card(c, w, item)
            # A movement has a row per lot it touched (first expiry first out): count movements.
            movements = {(str(r.get("document_number")), r.get("movement_id")) for r in card}
            counts = Counter(document for document, _movement in movements)
            expected = baseline.on_hand.get(place, 0) - plan_issued[place]
            known = set()
            for move in by_place[place]:
                known.add(move.document)
                n = counts[move.document]
                if move.acknowledged and n != 1:
                    violations.append(
                        f"{w} {item}: acknowledged {move.document} in the ledger {n} times"
                    )
                elif not move.acknowledged and n > 1:
                    violations.append(
                        f"{w} {item}: unanswered {move.document} in the ledger {n} times"
                    )
                expected += move.deltas[item] * (1 if move.acknowledged else min(n, 1))
            strays = [
                d for d in counts if run_marker in d and d not in known and not d.startswith("PWB")
            ]
            for d in strays:
                violations.append(f"{w} {item}: {d} in the ledger though never acknowledged")
            balance = stock.get(place, {}).get("on_hand", 0)
            if balance != expected:
                violations.append(
                    f"{w} {item}: on hand {balance}, acknowledged operations say {expected}"
                )
            if (
                card
                and card[-1].get("on_hand_after") is not None
                and card[-1]["on_hand_after"] != balance
            ):
                violations.append(
                    f"{w} {item}: ledger ends at {card[-1]['on_hand_after']}, balance {balance}"
                )

    view = await c.get("/v1/views/stock", coordinator)
    seen = {(x["warehouse"], x["balance"]["item_code"]): x["balance"] for x in view}
    for place, b in sorted(stock.items()):
        theirs = seen.get(place)
        mine = {k: b[k] for k in ("on_hand", "reserved", "available", "in_transit")}
        if theirs is None or {k: theirs[k] for k in mine} != mine:
            violations.append(
                f"{place[0]} {place[1]}: distribution sees {theirs}, stock has {mine}"
            )

    violations.extend(await _check_needs(c, expect))

    for plan_id, plan in plans.items():
        done = expect.plans[plan_id]
        status = plan["status"]
        if status not in FINAL_PLAN_STATES:
            violations.append(f"plan {plan_id}: saga not finished ({status})")
        pending = [x["line_id"] for x in plan["lines"] if x["reservation"] == "pending"]
        if status != "draft" and pending:
            violations.append(f"plan {plan_id}: {len(pending)} line(s) still pending in {status}")
        wanted = (
            "delivered"
            if done["delivered"]
            else "cancelled"
            if done["cancelled"]
            else "dispatched"
            if done["dispatched"]
            else None
        )
        if wanted == "delivered" and status not in ("delivered", "closed"):
            violations.append(f"plan {plan_id}: deliveries acknowledged, status {status}")
        if wanted == "cancelled" and status != "cancelled":
            violations.append(f"plan {plan_id}: cancel acknowledged, status {status}")
        if wanted == "dispatched" and status not in ("dispatched", "delivered", "closed"):
            violations.append(f"plan {plan_id}: dispatch acknowledged, status {status}")

    violations.extend(await dead_letters(bootstrap))
    return violations


async def _check_needs(c: CarefulClient, expect: Expectations) -> list[str]:
    """Every acknowledged need once, in its organisation, in the status its commands left; each
    partner sees its own needs of this run, all of them and no other's; distribution's view."""
    violations: list[str] = []
    run_marker = c.run_id.upper()
    needs = await _all_needs(c, await c.admin())
    refs = Counter(str(n.get("external_ref")) for n in needs)
    status_of = {str(n["id"]): str(n["status"]) for n in needs}
    organisation_of = {str(n["id"]): str(n.get("organisation")) for n in needs}
    for ref, need_id in expect.need_refs.items():
        if refs[ref] != 1:
            violations.append(f"need {ref}: {refs[ref]} needs with this reference")
        if need_id not in status_of:
            violations.append(f"need {need_id} ({ref}) acknowledged but not found")
            continue
        if expect.needs[need_id] == "validated" and status_of[need_id] in ("submitted", "draft"):
            violations.append(f"need {need_id}: validated but {status_of[need_id]}")
        reported_by = expect.need_organisations[need_id]
        if organisation_of[need_id] != reported_by:
            violations.append(
                f"need {need_id}: reported by {reported_by}, organisation "
                f"{organisation_of[need_id]}"
            )
    for ref, n in refs.items():
        if run_marker in ref and ref not in expect.need_refs:
            violations.append(f"need {ref}: exists {n} time(s) though never acknowledged")
    for username, organisation in sorted(PARTNERS.items()):
        theirs = {
            str(n["id"])
            for n in await _all_needs(c, await c.sign_in(username))
            if run_marker in str(n.get("external_ref"))
        }
        acknowledged = {i for i, o in expect.need_organisations.items() if o == organisation}
        if theirs != acknowledged:
            violations.append(
                f"{organisation} sees {len(theirs)} needs of this run, acknowledged "
                f"{len(acknowledged)}: missing {sorted(acknowledged - theirs)[:5]}, "
                f"not its own {sorted(theirs - acknowledged)[:5]}"
            )
    coordinator = await c.sign_in(COORDINATOR)
    need_view = {n["need_id"]: n["status"] for n in await c.get("/v1/views/needs", coordinator)}
    for need_id, status in expect.needs.items():
        if status == "validated" and need_view.get(need_id) in (None, "submitted"):
            violations.append(f"need {need_id}: distribution's view has {need_view.get(need_id)}")
    return violations


async def dead_letters(bootstrap: str) -> list[str]:
    """A violation per dead-letter topic holding messages (with how many)."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        topics = sorted(t for t in await consumer.topics() if t.endswith(".dlq"))
        found: list[str] = []
        for topic in topics:
            parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
            ends = await consumer.end_offsets(parts)
            starts = await consumer.beginning_offsets(parts)
            held = sum(ends[p] - starts[p] for p in parts)
            if held:
                found.append(f"dead-letter topic {topic}: {held} message(s)")
        return found
    finally:
        await consumer.stop()


async def settle(
    c: CarefulClient, expect: Expectations, baseline: Baseline, bootstrap: str, timeout_s: float
) -> list[str]:
    """The checks, again and again until they pass or the deadline: the views and sagas catch
    up through events, so a difference may only be late."""
    deadline = time.monotonic() + timeout_s
    while True:
        violations = await check(c, expect, baseline, bootstrap)
        if not violations or time.monotonic() > deadline:
            return violations
        await asyncio.sleep(3)


async def wait_all_up(cluster: ChaosCluster, timeout_s: float) -> None:
    """Until every instance (the supervisor restarts the killed) and the front answer /readyz."""
    ports = [cluster.front_port] + [
        cluster.front_port + offset + i for offset in CLUSTER_OFFSETS.values() for i in (1, 2)
    ]
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as http:
        for port in ports:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"127.0.0.1:{port} not ready after {timeout_s:g} s")
                await asyncio.sleep(1)


# --------------------------------------------------------------------------- the run


@dataclass
class Result:
    stats: Stats
    events: list[Event]
    violations: list[str]
    seconds: float
    operations: int

    @property
    def kills(self) -> Counter[str]:
        return Counter(e.kind for e in self.events)

    def table(self) -> Table:
        s = self.stats
        table = Table(title=f"chaos run: {self.operations} operations in {self.seconds:.0f} s")
        table.add_column("operation")
        for name in ("sent", "acknowledged", "refused (4xx)", "unanswered", "retried"):
            table.add_column(name, justify="right")
        for kind in sorted(s.operations):
            table.add_row(
                kind,
                str(s.operations[kind]),
                str(s.acknowledged[kind]),
                str(s.refused[kind]),
                str(s.unanswered[kind]),
                str(s.retried[kind]),
            )
        table.add_row(
            "[bold]all[/bold]",
            *(
                str(sum(c.values()))
                for c in (s.operations, s.acknowledged, s.refused, s.unanswered, s.retried)
            ),
        )
        table.add_section()
        k = self.kills
        table.add_row("service replicas killed", str(k["service-kill"]))
        table.add_row("brokers killed / started", f"{k['broker-kill']} / {k['broker-start']}")
        table.add_row("store restarts", str(k["store-restart"]))
        table.add_row("retried attempts", str(sum(s.retry_reasons.values())))
        table.add_row("sign-ins (renewed at half a token's life)", str(s.sign_ins))
        table.add_row("[bold]violations[/bold]", f"[bold]{len(self.violations)}[/bold]")
        return table

    def text(self) -> str:
        wide = Console(width=140, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
        wide.print(self.table())
        causes = ", ".join(f"{r}: {n}" for r, n in self.stats.retry_reasons.most_common())
        wide.print(f"retried attempts by cause: {causes or 'none'}")
        limited = ", ".join(f"{o}: {n}" for o, n in self.stats.rate_limited.most_common())
        wide.print(f"429 (rate limit) by organisation: {limited or 'none'}")
        for e in self.events:
            wide.print(f"{e.at_s:7.1f} s  {e.kind:<14} {e.what}")
        for r, n in sorted(self.stats.refusals.items()):
            wide.print(f"refused: {r} x {n}, e.g. {self.stats.refusal_examples[r]}")
        for v in self.violations:
            wide.print(f"VIOLATION: {v}")
        return wide.export_text()


async def drive(
    cluster: ChaosCluster,
    operations: int,
    plan: ChaosPlan,
    rng: random.Random,
    concurrency: int,
    settle_s: float,
) -> Result:
    stats = Stats()
    client = CarefulClient(cluster.url, rng, stats, give_up_s=240)
    started = time.monotonic()
    try:
        baseline = await take_baseline(client)
        workload = Workload(client, rng, operations)
        monkey = Monkey(cluster, plan, rng, workload)
        hurting = asyncio.create_task(monkey.run())
        await workload.run(concurrency)
        workload.finished = True
        await hurting
        await wait_all_up(cluster, 300)
        violations = await settle(client, workload.expect, baseline, cluster.bootstrap, settle_s)
        violations += [f"unanswered after every retry: {u}" for u in workload.expect.unanswered]
        violations += [f"workload: {e}" for e in workload.errors]
        if stats.retry_reasons["500"]:
            # Never a 500 (the team's rule): each is a defect, even when a retry then succeeded.
            errors = stats.retry_reasons["500"]
            violations.append(f"{errors} answer(s) 500 (see the services' logs)")
    finally:
        await client.close()
    return Result(stats, monkey.events, violations, time.monotonic() - started, workload.done)


def run_chaos(
    operations: int,
    seed: int,
    concurrency: int = 12,
    service_kills: int | None = None,
    local: Path | None = None,
    settle_s: float = 240,
) -> Result:
    rng = random.Random(seed)
    kills = service_kills if service_kills is not None else max(3, operations // 1000)
    with _workdir(local) as directory:
        cluster = ChaosCluster(directory, rng)
        try:
            console.print(f"starting the cluster in {directory} (front {cluster.url}) ...")
            cluster.start()
            console.print("cluster up; workload and chaos ...")
            return asyncio.run(
                drive(cluster, operations, ChaosPlan(kills), rng, concurrency, settle_s)
            )
        finally:
            cluster.stop()


@contextlib.contextmanager
def _workdir(local: Path | None) -> Iterator[Path]:
    if local is not None:
        local.mkdir(parents=True, exist_ok=True)
        yield local
        return
    with tempfile.TemporaryDirectory(prefix="kitflow-chaos-") as d:
        yield Path(d)


app = typer.Typer(add_completion=False)


@app.command()
def main(
    operations: Annotated[int, typer.Option(help="State changes to send")] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the workload and the kills")] = 17,
    concurrency: Annotated[int, typer.Option(help="Operations in flight")] = 12,
    service_kills: Annotated[
        int | None, typer.Option(help="Service replicas SIGKILLed (default: 1 per 1,000 ops, 3+)")
    ] = None,
    keep: Annotated[
        Path | None, typer.Option(help="Run in this directory and keep it (logs, data)")
    ] = None,
) -> None:
    """Run the chaos workload against a cluster of its own; exit 1 on any violation."""
    result = run_chaos(operations, seed, concurrency, service_kills, keep)
    print(result.text())
    summary = Path(os.environ.get("KITFLOW_CHAOS_REPORT", REPO / ".local" / "chaos-last.txt"))
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text(result.text())
    raise typer.Exit(1 if result.violations else 0)


if __name__ == "__main__":
    app()
