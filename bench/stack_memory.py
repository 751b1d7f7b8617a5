"""Memory of the whole stack: resident memory of each service process at rest and after a
10,000-need HXL import and a plan drafted over them, the broker and the store apart.

    uv run python -m bench.run stack_memory [--needs 10000] [--cluster] [--concurrency 8]

The whole stack runs as `make run` starts it (bench.stack; `--cluster`: as `make run-cluster`).
RSS is read from /proc (VmRSS) for each service process with its children (a worker pool
counts with its service), and for the broker(s) and the store apart:
- at rest: once the stack is up with the demo operation, after `--settle` seconds;
- after the import and the plan: the needs of a generated HXL file (the generator of
  bench.needs_hxl_import, 1 % bad rows) imported through POST /v1/needs/imports as the
  coordinator, each validated (POST /v1/needs/{id}/validate), distribution's needs view caught
  up with them, then one plan drafted over every open need (POST /v1/plans); read after
  `--settle` seconds;
- the peak of each process, sampled every half second from the import to the end.
Issue 17's aim: the four services of the one-process stack under 1 GiB together after the
import and the plan. Written as JSON to bench/results/stack_memory.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.machine import finish, snapshot
from bench.saving import save
from bench.stack import COORDINATOR, Mode, Stack, sign_in
from tests.unit.needs.hxl_samples import generate

GIB = 1024**3
MIB = 1024**2
AIM_BYTES = GIB
Memory = dict[str, dict[str, int]]


class PeakSampler:
    """Each process's highest RSS, read every half second on a thread of its own."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.peak: Memory = {"services": {}, "infrastructure": {}}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for group, values in self.stack.memory().items():
                for name, value in values.items():
                    self.peak[group][name] = max(self.peak[group].get(name, 0), value)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def in_mib(memory: Memory) -> dict[str, Any]:
    services = {name: round(v / MIB, 1) for name, v in sorted(memory["services"].items())}
    infrastructure = {name: round(v / MIB, 1) for name, v in memory["infrastructure"].items()}
    return {
        "services_mib": services,
        "services_total_mib": round(sum(memory["services"].values()) / MIB, 1),
        "infrastructure_mib": infrastructure,
    }


async def _validate_all(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], ids: list[str], workers: int
) -> None:
    pending = iter(ids)

    async def worker() -> None:
        for need_id in pending:
            key = {"Idempotency-Key": f"bench-mem-validate-{need_id}"}
            response = await client.post(
                f"{url}/v1/needs/{need_id}/validate", headers={**headers, **key}
            )
            if response.status_code != 200:
                raise RuntimeError(f"validate {need_id}: {response.status_code} {response.text}")

    await asyncio.gather(*(worker() for _ in range(workers)))


async def _validated_in_view(stack: Stack) -> int:
    """How many needs distribution's needs view has validated (it plans from there)."""
    store: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.store_url)
    try:
        view = store["kitflow_distribution"]["needs_view"]
        return await view.count_documents({"state.status": "validated"})
    finally:
        await store.close()


async def _wait_needs_view(stack: Stack, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while (seen := await _validated_in_view(stack)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{seen} of {expected} needs validated in the view")
        await asyncio.sleep(0.5)


async def import_and_plan(stack: Stack, needs: int, workers: int) -> dict[str, Any]:
    sample = generate(needs, bad_every=100, prefix=f"M{uuid.uuid4().hex[:4]}")
    seconds: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=900) as client:
        coordinator = await sign_in(client, stack.url, COORDINATOR)
        validated_before = await _validated_in_view(stack)
        started = time.perf_counter()
        imported = await client.post(
            f"{stack.url}/v1/needs/imports",
            content=sample.text.encode(),
            headers={
                **coordinator,
                "Content-Type": "text/csv",
                "Idempotency-Key": f"bench-mem-import-{uuid.uuid4().hex}",
            },
        )
        if imported.status_code != 200:
            raise RuntimeError(f"import: {imported.status_code} {imported.text[:500]}")
        ids: list[str] = imported.json()["created"]
        seconds["import"] = time.perf_counter() - started
        started = time.perf_counter()
        await _validate_all(client, stack.url, coordinator, ids, workers)
        await _wait_needs_view(stack, validated_before + len(ids), 600)
        seconds["validate"] = time.perf_counter() - started
        started = time.perf_counter()
        plan = await client.post(
            f"{stack.url}/v1/plans",
            json={"title": "Memory bench: every open need"},
            headers={**coordinator, "Idempotency-Key": f"bench-mem-plan-{uuid.uuid4().hex}"},
        )
        if plan.status_code != 201:
            raise RuntimeError(f"plan: {plan.status_code} {plan.text[:500]}")
        seconds["plan"] = time.perf_counter() - started
    return {
        "imported": len(ids),
        "plan_lines": len(plan.json()["lines"]),
        **{f"{step}_s": round(s, 1) for step, s in seconds.items()},
    }


async def run(mode: Mode, needs: int, workers: int, settle_s: float) -> dict[str, Any]:
    machine = snapshot()
    stack = Stack(mode, store_heap="2g")
    try:
        await asyncio.to_thread(stack.start)
        await asyncio.sleep(settle_s)
        at_rest = stack.memory()
        with PeakSampler(stack) as sampler:
            work = await import_and_plan(stack, needs, workers)
            await asyncio.sleep(settle_s)
            after = stack.memory()
    finally:
        await asyncio.to_thread(stack.stop)
    total_after = sum(after["services"].values())
    return {
        "benchmark": "stack_memory",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": finish(machine),
        "mode": mode,
        "needs": needs,
        **work,
        "at_rest": in_mib(at_rest),
        "after_import_and_plan": in_mib(after),
        "peak": in_mib(sampler.peak),
        "services_after_mib": round(total_after / MIB, 1),
        "ratio_services_after_to_aim": round(total_after / AIM_BYTES, 3),
        "aim_mib": AIM_BYTES // MIB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8, help="validations at once")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before reading")
    parser.add_argument("--cluster", action="store_true", help="as make run-cluster starts it")
    args = parser.parse_args()
    mode: Mode = "cluster" if args.cluster else "one-process"
    result = asyncio.run(run(mode, args.needs, args.concurrency, args.settle))
    name = "stack_memory" if mode == "one-process" else "stack_memory_cluster"
    out = save(name, result, stamped=False)
    print(json.dumps(result, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
