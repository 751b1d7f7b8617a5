"""How long a plan's solve stalls the event loop: inline, in a thread, in a process.

    uv run python -m bench.planner_loop [--needs 5000] [--seed 7]

A ticker on the loop wakes every 10 ms and records how late it woke; the longest lateness while
one plan of a seeded Mali-like instance (bench.planner.make_problem) is solved is the loop's
longest stall: what a health probe, a consumer's heartbeat or the relay would have waited. Run
the plan inline (as the draft handler did), in a thread and in a process, both through
kitflow_shared.offload.BoundedPool (the distribution service uses threads: HiGHS releases the
GIL while it solves; ADR 0028 quotes the figures). Prints one line per mode.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable

from kitflow_distribution.domain.planner import PlanningProblem, plan_allocation
from kitflow_shared.offload import BoundedPool

from bench.planner import make_problem

TICK_S = 0.01


async def _longest_stall(work: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """The work's wall time and the loop's longest stall (beyond the tick) while it ran."""
    longest = 0.0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal longest
        while not done.is_set():
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            longest = max(longest, time.perf_counter() - before - TICK_S)

    tick = asyncio.create_task(ticker())
    await asyncio.sleep(TICK_S * 3)
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    done.set()
    await tick
    return elapsed, longest


async def _inline(problem: PlanningProblem) -> object:
    return plan_allocation(problem)


async def main_async(needs: int, seed: int) -> None:
    problem = make_problem(needs, seed)
    threads = BoundedPool("bench", workers=1, queue_limit=0, kind="thread")
    processes = BoundedPool("bench", workers=1, queue_limit=0, kind="process")
    # The process pool's worker starts (and imports the planner) on its first task: not a solve.
    await processes.run(plan_allocation, make_problem(50, seed))
    modes: dict[str, Callable[[], Awaitable[object]]] = {
        "inline": lambda: _inline(problem),
        "thread": lambda: threads.run(plan_allocation, problem),
        "process": lambda: processes.run(plan_allocation, problem),
    }
    print(f"{needs} needs, seed {seed}: solve time and the event loop's longest stall")
    for mode, work in modes.items():
        elapsed, stall = await _longest_stall(work)
        print(f"  {mode:8} solve {elapsed:7.2f} s   longest stall {stall * 1000:8.1f} ms")
    threads.close()
    processes.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--needs", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(main_async(args.needs, args.seed))


if __name__ == "__main__":
    main()
