"""Soak: cluster mode under a steady mixed load for `--minutes`, per minute the errors, latency
p50/p99 and the stack's memory; the drift between the first and the last minutes.

    uv run python -m bench.run soak [--minutes 30] [--window 5] [--rate R] [--ramp-s 60]
    make soak

The stack runs as `make run-cluster` starts it (bench.stack: three brokers, two instances of
each service, the front). First a short ramp measures the most operations per second the stack
serves (closed loop, a few concurrency levels, `--ramp-s` in all); the soak then sends an open
loop at `--rate` operations per second (default: half that maximum) through the front, mixed:
needs reported by a partner (40 %), one-unit receipts spread over the demo's four warehouses
(20 %), a warehouse's stock read (20 %) and the partner's needs listed (20 %). Every answer that
is not 2xx, and every request that failed, is an error. Each minute: operations, errors (by
status), latency p50 and p99 (and each operation's, so that a creep can be named), and the
resident memory of the services (every instance and the front) and of the brokers and the
store. At the end, the drift of p99 (over the requests of the first and the last `--window`
minutes) and of the services' memory (the mean of those minutes' readings); issue 17's aims: no
error, both drifts under 10 %.

Beside them, two figures that say whose drift it is. The p99 of the operations that reach
their documents by key (a receipt, a stock read), which no growing collection slows. And the
reference measured in the same run: each minute, the store's own answer to the partner's
needs list (the count and the sorted first page, straight from PyMongo, no service between),
with the number of needs then stored. The embedded store ignores non-unique indexes, so that
query scans the collection, and reporting and listing needs slow with it on any service.
Written to bench/results/soak.json and bench/results/soak.md (the report links it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from kitflow_shared.settings import CommonSettings

from bench.gateway_needs import need_body
from bench.machine import finish, snapshot
from bench.propagation import percentile
from bench.stack import ADMIN, PARTNER, Stack, sign_in

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
WAREHOUSES = ("BKO-MAIN", "MOP-SUB", "TOM-SUB", "GAO-SUB")
AIM_DRIFT = 0.10
MIB = 1024**2
RAMP_CONCURRENCY = (4, 16, 32)
MAX_IN_FLIGHT = 256
# The in-memory store keeps every document of the run in its heap: 30 minutes at about 25 ops/s
# reach about 2 GiB (1.2 GiB at minute 18). A full heap slows every answer of the store, which
# is then what the soak measures, not the services.
STORE_HEAP = "3g"
# Reached by key, whatever the collections hold: their p99 is the services' drift alone.
KEY_OPERATIONS = ("receipt", "stock")
PARTNER_ORGANISATION = "NRC"  # bench.stack's PARTNER signs in for it


@dataclass
class Minute:
    latencies_ms: list[float] = field(default_factory=list)
    # The same latencies per operation (need, receipt, stock, needs): which one creeps.
    by_operation: dict[str, list[float]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    services_mib: float = 0.0
    infrastructure_mib: dict[str, float] = field(default_factory=dict)
    # The machine's 1-minute load average as the minute ends: on a shared machine a p99 that
    # rises with it is the neighbours' work, not the stack drifting.
    load_average: float | None = None
    # The store's own answer to the partner's needs list as the minute ends (StoreProbe), and
    # how many needs it then held.
    store_list_ms: float | None = None
    store_needs: int | None = None
    # CPU seconds used in the minute by the store, the brokers, each kind of service (both
    # instances together) and the soak's own client: on two cores 120 s is everything, and
    # what takes more and more of it is what slows the rest.
    cpu_s: dict[str, float] = field(default_factory=dict)


def _cpu_readings(stack: Stack) -> dict[str, float]:
    """The stack's parts and this client (sending the load, and its store probes once
    reaped): the client shares the two cores too."""
    own = os.times()
    return {
        **stack.cpu(),
        "client": own.user + own.system + own.children_user + own.children_system,
    }


def cpu_by_part(readings: dict[str, float]) -> dict[str, float]:
    """Stack.cpu's readings by part: `kafka-1`..`kafka-3` are the brokers, `needs` and
    `needs-2` are needs."""
    parts: dict[str, float] = {}
    for name, seconds in readings.items():
        part = "brokers" if name.startswith("kafka") else name.split("-")[0]
        parts[part] = parts.get(part, 0.0) + seconds
    return parts


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Seconds used between two readings; a part restarted meanwhile counts from zero."""
    used = {}
    for part, seconds in sorted(after.items()):
        earlier = before.get(part, 0.0)
        used[part] = round(seconds - earlier if seconds >= earlier else seconds, 1)
    return used


class StoreProbe:
    """bench.store_probe once a minute, in a process of its own: the store's own time for the
    partner's needs list as the collection grows."""

    def __init__(self, store_url: str, database: str | None = None) -> None:
        self.store_url = store_url
        # bench.stack runs the stack without a namespace (it leaves the caller's settings out).
        self.database = database or CommonSettings(namespace="").database_name("needs")

    async def measure(self, into: Minute) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.store_probe",
            self.store_url,
            self.database,
            PARTNER_ORGANISATION,
            stdout=asyncio.subprocess.PIPE,
            cwd=REPO,
        )
        out, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"bench.store_probe exited with {process.returncode}")
        measured = json.loads(out)
        into.store_list_ms, into.store_needs = measured["list_ms"], measured["needs"]


class Load:
    """The mixed operations, each returning its status (or the exception's name)."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client, self.url = client, url
        self.partner: dict[str, str] = {}
        self.admin: dict[str, str] = {}
        self.rng = random.Random(17)
        self.count = 0

    async def sign_in(self) -> None:
        self.partner = await sign_in(self.client, self.url, PARTNER)
        self.admin = await sign_in(self.client, self.url, ADMIN)

    def _key(self) -> dict[str, str]:
        return {"Idempotency-Key": f"soak-{uuid.uuid4().hex}"}

    async def need(self) -> httpx.Response:
        self.count += 1
        return await self.client.post(
            f"{self.url}/v1/needs",
            json=need_body(self.count),
            headers={**self.partner, **self._key()},
        )

    async def receipt(self) -> httpx.Response:
        warehouse = self.rng.choice(WAREHOUSES)
        return await self.client.post(
            f"{self.url}/v1/warehouses/{warehouse}/receipts",
            json={
                "grn_number": f"GRN-SOAK-{uuid.uuid4().hex[:10]}",
                "source": "ECHO",
                "lines": [{"item_code": "KIT-NFI", "quantity": 1, "lot": "SOAK"}],
            },
            headers={**self.admin, **self._key()},
        )

    async def stock(self) -> httpx.Response:
        warehouse = self.rng.choice(WAREHOUSES)
        url = f"{self.url}/v1/warehouses/{warehouse}/stock"
        return await self.client.get(url, headers=self.admin)

    async def needs(self) -> httpx.Response:
        return await self.client.get(f"{self.url}/v1/needs?limit=20", headers=self.partner)

    def pick(self) -> Callable[[], Awaitable[httpx.Response]]:
        return self.rng.choices(
            [self.need, self.receipt, self.stock, self.needs], weights=[4, 2, 2, 2]
        )[0]

    async def one(self) -> tuple[str, float, str | None]:
        """The operation's name, its milliseconds, and the error (None when the answer is 2xx)."""
        operation = self.pick()
        started = time.perf_counter()
        try:
            response = await operation()
            error = None if response.is_success else str(response.status_code)
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        return operation.__name__, 1000 * (time.perf_counter() - started), error


async def ramp(load: Load, seconds: float) -> dict[str, float]:
    """Operations per second answered at each concurrency (closed loop)."""
    rates: dict[str, float] = {}

    async def worker(end: float) -> int:
        done = 0
        while time.monotonic() < end:
            _, _, error = await load.one()
            done += error is None
        return done

    for concurrency in RAMP_CONCURRENCY:
        started = time.monotonic()
        end = started + seconds / len(RAMP_CONCURRENCY)
        done = sum(await asyncio.gather(*(worker(end) for _ in range(concurrency))))
        rates[str(concurrency)] = round(done / (time.monotonic() - started), 1)
        print(f"ramp: {concurrency} at once: {rates[str(concurrency)]} ops/s", flush=True)
    return rates


async def soak(
    load: Load, stack: Stack, rate: float, minutes: int, probe: StoreProbe | None = None
) -> list[Minute]:
    """An open loop at `rate` per second; each request's latency filed under its minute."""
    records = [Minute() for _ in range(minutes)]
    in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    started = time.monotonic()

    async def one(minute: int) -> None:
        try:
            operation, latency, error = await load.one()
        finally:
            in_flight.release()
        records[minute].latencies_ms.append(latency)
        records[minute].by_operation.setdefault(operation, []).append(latency)
        if error is not None:
            records[minute].errors[error] += 1

    cpu_before = cpu_by_part(await asyncio.to_thread(_cpu_readings, stack))
    next_at, minute = started, 0
    while (minute := int((next_at - started) // 60)) < minutes:
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        await in_flight.acquire()  # at the cap the schedule slips: seen as lower throughput
        task = asyncio.create_task(one(minute))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += 1 / rate
        if int((next_at - started) // 60) > minute:  # the minute is over: read the memory
            memory = await asyncio.to_thread(stack.memory)
            records[minute].services_mib = round(sum(memory["services"].values()) / MIB, 1)
            records[minute].infrastructure_mib = {
                n: round(v / MIB, 1) for n, v in memory["infrastructure"].items()
            }
            records[minute].load_average = round(os.getloadavg()[0], 2)
            cpu_now = cpu_by_part(await asyncio.to_thread(_cpu_readings, stack))
            records[minute].cpu_s = cpu_used(cpu_before, cpu_now)
            cpu_before = cpu_now
            if probe is not None:  # beside the load, not in its schedule's way
                measured = asyncio.create_task(probe.measure(records[minute]))
                tasks.add(measured)
                measured.add_done_callback(tasks.discard)
            summary = summarise([records[minute]])
            print(f"minute {minute + 1}: {json.dumps(summary)}", flush=True)
    await asyncio.gather(*tasks)
    return records


def summarise(minutes: list[Minute]) -> dict[str, Any]:
    latencies = [x for m in minutes for x in m.latencies_ms]
    errors = sum((m.errors for m in minutes), Counter[str]())
    return {
        "operations": len(latencies),
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "services_mib": round(statistics.mean(m.services_mib for m in minutes), 1),
        "load_average": _mean_load(minutes),
        "p50_by_operation_ms": _by_operation(minutes, 50),
        "p99_by_operation_ms": _by_operation(minutes, 99),
        "p99_by_key_ms": _p99_of(minutes, KEY_OPERATIONS),
        "store_list_ms": _median(m.store_list_ms for m in minutes),
        "cpu_s": _mean_cpu(minutes),
        "store_needs": max(
            (m.store_needs for m in minutes if m.store_needs is not None), default=None
        ),
    }


def _p99_of(minutes: list[Minute], operations: tuple[str, ...]) -> float | None:
    latencies = [x for m in minutes for op in operations for x in m.by_operation.get(op, [])]
    return round(percentile(latencies, 99), 1) if latencies else None


def _mean_cpu(minutes: list[Minute]) -> dict[str, float]:
    read = [m.cpu_s for m in minutes if m.cpu_s]
    parts = sorted({part for cpu in read for part in cpu})
    return {p: round(statistics.mean(cpu.get(p, 0.0) for cpu in read), 1) for p in parts}


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), 1) if known else None


def _by_operation(minutes: list[Minute], rank: float) -> dict[str, float]:
    """Each operation's percentile: the operations that read by key and those that search a
    growing collection drift apart, and one p99 over all of them hides which is which."""
    merged: dict[str, list[float]] = {}
    for m in minutes:
        for operation, latencies in m.by_operation.items():
            merged.setdefault(operation, []).extend(latencies)
    return {op: round(percentile(xs, rank), 1) for op, xs in sorted(merged.items()) if xs}


def _mean_load(minutes: list[Minute]) -> float | None:
    loads = [m.load_average for m in minutes if m.load_average is not None]
    return round(statistics.mean(loads), 2) if loads else None


def drift(first: float | None, last: float | None) -> float | None:
    return None if not first or last is None else round((last - first) / first, 3)


async def run(
    minutes: int, window: int, rate: float | None, ramp_s: float, store_heap: str = STORE_HEAP
) -> dict[str, Any]:
    machine = snapshot()
    stack = Stack("cluster", store_heap=store_heap)
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
    try:
        await asyncio.to_thread(stack.start)
        async with httpx.AsyncClient(timeout=60, limits=limits) as client:
            load = Load(client, stack.url)
            await load.sign_in()
            ramped = await ramp(load, ramp_s)
            maximum = max(ramped.values())
            chosen = rate or max(1.0, round(maximum / 2, 1))
            print(f"soak: {chosen} ops/s for {minutes} minutes", flush=True)
            records = await soak(load, stack, chosen, minutes, StoreProbe(stack.store_url))
    finally:
        await asyncio.to_thread(stack.stop)
    first, last = summarise(records[:window]), summarise(records[-window:])
    whole = summarise(records)
    return {
        "benchmark": "soak",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": finish(machine),
        "mode": "cluster",
        "store_heap": store_heap,
        "minutes": minutes,
        "window_minutes": window,
        "ramp_ops_per_s": ramped,
        "max_ops_per_s": maximum,
        "rate_ops_per_s": chosen,
        "operations": whole["operations"],
        "errors": whole["errors"],
        "errors_by_kind": whole["errors_by_kind"],
        "p99_first_ms": first["p99_ms"],
        "p99_last_ms": last["p99_ms"],
        "services_first_mib": first["services_mib"],
        "services_last_mib": last["services_mib"],
        "p50_by_operation_first_ms": first["p50_by_operation_ms"],
        "p50_by_operation_last_ms": last["p50_by_operation_ms"],
        "p99_by_operation_first_ms": first["p99_by_operation_ms"],
        "p99_by_operation_last_ms": last["p99_by_operation_ms"],
        "p99_by_key_first_ms": first["p99_by_key_ms"],
        "p99_by_key_last_ms": last["p99_by_key_ms"],
        "drift_p99_by_key": drift(first["p99_by_key_ms"], last["p99_by_key_ms"]),
        "store_list_first_ms": first["store_list_ms"],
        "store_list_last_ms": last["store_list_ms"],
        "drift_store_list": drift(first["store_list_ms"], last["store_list_ms"]),
        "store_needs_first": first["store_needs"],
        "store_needs_last": last["store_needs"],
        "cpu_first_s": first["cpu_s"],
        "cpu_last_s": last["cpu_s"],
        "load_first": first["load_average"],
        "load_last": last["load_average"],
        "drift_p99": drift(first["p99_ms"], last["p99_ms"]),
        "drift_memory": drift(first["services_mib"], last["services_mib"]),
        "aim_drift": AIM_DRIFT,
        "per_minute": [
            {"minute": n + 1, **summarise([m]), "infrastructure_mib": m.infrastructure_mib}
            for n, m in enumerate(records)
        ],
    }


def markdown(result: dict[str, Any]) -> str:
    def verdict(value: float | None) -> str:
        if value is None:
            return "not measured"
        return "met" if abs(value) < AIM_DRIFT else "**MISSED**"

    window = result["window_minutes"]
    kinds = f" by kind {result['errors_by_kind']}" if result["errors_by_kind"] else ""
    ramped = ", ".join(f"{v} at {k} at once" for k, v in result["ramp_ops_per_s"].items())
    lines = [
        "# Soak",
        "",
        f"Written by `python -m bench.soak` on {result['date']}: cluster mode (`make "
        f"run-cluster`), a mixed load of {result['rate_ops_per_s']} operations/s through the "
        f"front (half of the {result['max_ops_per_s']} ops/s measured in the ramp, "
        f"{ramped}) for {result['minutes']} minutes. "
        f"{result['machine'].get('cpus')} cores; load average at the start "
        f"{result['machine'].get('load_average_start')}, at the end "
        f"{result['machine'].get('load_average_end')}.",
        "",
        f"- **Errors:** {result['errors']} of {result['operations']} operations"
        f"{kinds} (aim: none: "
        f"{'met' if result['errors'] == 0 else '**MISSED**'})",
        f"- **p99 drift** (first {window} min {result['p99_first_ms']} ms, last {window} min "
        f"{result['p99_last_ms']} ms): {result['drift_p99']} (aim: under {AIM_DRIFT:.0%}: "
        f"{verdict(result['drift_p99'])})",
        f"- **Memory drift** of the services (first {result['services_first_mib']} MiB, last "
        f"{result['services_last_mib']} MiB): {result['drift_memory']} (aim: under "
        f"{AIM_DRIFT:.0%}: {verdict(result['drift_memory'])})",
        *_load_line(result, window),
        *_operations_line(result, window),
        *_whose_drift_lines(result, window, verdict),
        *_cpu_line(result, window),
        "",
        "| minute | operations | errors | p50 ms | p99 ms | services MiB | load | "
        "store's own needs list ms | needs stored | brokers and store MiB | CPU s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for m in result["per_minute"]:
        infrastructure = ", ".join(f"{k} {v}" for k, v in m["infrastructure_mib"].items())
        lines.append(
            f"| {m['minute']} | {m['operations']} | {m['errors']} | {m['p50_ms']} | "
            f"{m['p99_ms']} | {m['services_mib']} | {m.get('load_average', 'n/a')} | "
            f"{m.get('store_list_ms') or 'n/a'} | {m.get('store_needs') or 'n/a'} | "
            f"{infrastructure} | {_parts(m.get('cpu_s') or {}) or 'n/a'} |"
        )
    return "\n".join(lines) + "\n"


def _load_line(result: dict[str, Any], window: int) -> list[str]:
    """The machine's load beside the drift; a soak from before it was recorded has none."""
    if result.get("load_first") is None:
        return []
    return [
        f"- **The machine's load** (1-minute load average, mean over the minutes' ends): first "
        f"{window} min {result['load_first']}, last {window} min {result['load_last']}; "
        "a p99 drift that follows the load is other work on the machine."
    ]


def _whose_drift_lines(
    result: dict[str, Any], window: int, verdict: Callable[[float | None], str]
) -> list[str]:
    """The services' own drift (the operations by key) and the store's (its answer to the
    needs list). A soak from before they were recorded has neither."""
    lines = []
    if result.get("p99_by_key_first_ms") is not None:
        lines.append(
            f"- **p99 of the operations by key** ({', '.join(KEY_OPERATIONS)}; first {window} "
            f"min {result['p99_by_key_first_ms']} ms, last {window} min "
            f"{result['p99_by_key_last_ms']} ms): {result['drift_p99_by_key']} (under "
            f"{AIM_DRIFT:.0%}: {verdict(result['drift_p99_by_key'])})"
        )
    if result.get("store_list_first_ms") is not None:
        lines.append(
            f"- **The store's own answer to the needs list** (count and first page, straight to "
            f"the store; the reference for reporting and listing needs): first {window} min "
            f"{result['store_list_first_ms']} ms with {result['store_needs_first']} needs "
            f"stored, last {window} min {result['store_list_last_ms']} ms with "
            f"{result['store_needs_last']}: {result['drift_store_list']}"
        )
    return lines


def _parts(cpu: dict[str, float]) -> str:
    return ", ".join(f"{part} {seconds}" for part, seconds in cpu.items())


def _cpu_line(result: dict[str, Any], window: int) -> list[str]:
    """Who used the cores at both ends. A soak from before it was recorded has none."""
    first, last = result.get("cpu_first_s"), result.get("cpu_last_s")
    if not first or not last:
        return []
    each = "; ".join(f"{part} {first.get(part, 0.0)} → {last.get(part, 0.0)}" for part in last)
    return [
        f"- **CPU seconds a minute** (mean; {result['machine'].get('cpus')} cores give "
        f"{60 * (result['machine'].get('cpus') or 0)}), first {window} min → last {window} min: "
        f"{each}."
    ]


def _operations_line(result: dict[str, Any], window: int) -> list[str]:
    """Each operation's p50 and p99 at both ends: what creeps. A soak from before they were
    recorded has none."""
    lines = []
    for rank in ("p50", "p99"):
        first = result.get(f"{rank}_by_operation_first_ms")
        last = result.get(f"{rank}_by_operation_last_ms")
        if not first or not last:
            continue
        each = "; ".join(
            f"{op} {first[op]} → {last[op]} ms ({drift(first[op], last[op])})"
            for op in sorted(first)
            if op in last
        )
        lines.append(f"- **{rank} per operation**, first {window} min → last {window} min: {each}.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="minutes compared at each end (default 5; a quarter of a run under 20 minutes)",
    )
    parser.add_argument("--rate", type=float, default=None, help="ops/s (default: half the max)")
    parser.add_argument("--ramp-s", type=float, default=60.0)
    parser.add_argument(
        "--store-heap",
        default=STORE_HEAP,
        help="the in-memory store's heap: it holds every document of the run (a 30-minute run "
        "at 25 ops/s filled 1g at minute 18, and the store's collections then slowed it all)",
    )
    args = parser.parse_args()
    if args.window is None:
        args.window = max(1, min(5, args.minutes // 4))
    if args.window * 2 > args.minutes:
        parser.error("--window must be at most half of --minutes")
    result = asyncio.run(run(args.minutes, args.window, args.rate, args.ramp_s, args.store_heap))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "soak.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "soak.md").write_text(markdown(result))
    print(markdown(result))
    print(f"written to {RESULTS / 'soak.md'}")


if __name__ == "__main__":
    main()
