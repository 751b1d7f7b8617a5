"""What the levers left for the HXL import would give: processes, interpreter, compiled code.

    uv run python -m bench.needs_import_levers [--rounds 7] \\
        [--setup "pyenv x1=.venv/bin/python::1"] [--setup "NAME=PYTHON:PYTHONPATH:PROCESSES"] ...

Each setup is an interpreter (PYTHON), an optional PYTHONPATH put in front of the project's
modules (a directory of mypyc-compiled kitflow_needs modules, say) and a number of processes.
Every process runs the bench's service path (bench.needs_hxl_import.service_run) on its part of
the file, into its own database: the parts are not coordinated, so with more than one process
the figure is an upper bound of what a partitioned import could reach, not a design. All
processes of a setup start at once; its rate is the rows they imported over the time until the
last one finished. Each round runs every setup, then the bench's reference, so all figures come
from the same sitting (ADR 0009, third amendment, has the figures and what they mean).

To compile the import path with mypyc (it comes with mypy) for a setup:

    mkdir -p /tmp/compiled && cp -r services/needs/src/kitflow_needs /tmp/compiled/
    cd /tmp/compiled && mypyc --python-executable "$PYTHON" --ignore-missing-imports \\
        kitflow_needs/domain/*.py kitflow_needs/adapters/{hxl_io,mongo_needs}.py \\
        kitflow_needs/handlers/{integration,imports,ports,needs}.py

(mypyc's classes refuse `object.__new__`: make `Need.snapshot` with `dataclasses.replace` in
that copy first.) The build needs setuptools and a C compiler beside mypyc, and the headers of
the interpreter that will import it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from bench.needs_hxl_import import Document, reference_run
from bench.saving import save
from tests.support.infra import start_infra
from tests.unit.needs.hxl_samples import generate

ROOT = Path(__file__).resolve().parent.parent

# One importing process: ready once warmed up, then one import of its part per "go" line.
_WORKER = """
import asyncio, json, os, sys, time
from bench.needs_hxl_import import service_run
from pymongo import AsyncMongoClient

async def main() -> None:
    data = open(sys.argv[1], "rb").read()
    client = AsyncMongoClient(os.environ["KITFLOW_BENCH_STORE_URL"], tz_aware=True)
    await service_run(client, data)
    print("ready", flush=True)
    while sys.stdin.readline().strip() == "go":
        _, _, imported = await service_run(client, data)
        print(json.dumps([time.time(), imported]), flush=True)
    await client.close()

asyncio.run(main())
"""


@dataclass(frozen=True)
class Setup:
    name: str
    python: str
    pythonpath: str
    processes: int

    @classmethod
    def parse(cls, text: str) -> Setup:
        name, sep, rest = text.partition("=")
        parts = rest.split(":")
        if not sep or len(parts) != 3 or not parts[2].isdigit() or int(parts[2]) < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r}: give NAME=PYTHON:PYTHONPATH:PROCESSES (PYTHONPATH may be empty)"
            )
        return cls(name, parts[0], parts[1], int(parts[2]))


def split_file(text: str, parts: int, into: Path) -> list[Path]:
    """The file's rows dealt into `parts` files, each with the header and hashtag rows."""
    lines = text.splitlines(keepends=True)
    head, body = lines[:2], lines[2:]
    paths = []
    for i in range(parts):
        path = into / f"part-{parts}-{i}.csv"
        path.write_text("".join(head + body[i::parts]))
        paths.append(path)
    return paths


def start_workers(setup: Setup, files: list[Path], store_url: str) -> list[subprocess.Popen[str]]:
    pythonpath = os.pathsep.join(p for p in (setup.pythonpath, str(ROOT)) if p)
    env = dict(os.environ, KITFLOW_BENCH_STORE_URL=store_url, PYTHONPATH=pythonpath)
    workers = [
        subprocess.Popen(
            [setup.python, "-c", _WORKER, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for path in files
    ]
    for worker in workers:
        assert worker.stdout is not None
        if worker.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{setup.name}: a worker did not start (see its error above)")
    return workers


def one_round(workers: list[subprocess.Popen[str]]) -> float:
    started = time.time()
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    done: list[tuple[float, int]] = []
    for worker in workers:
        assert worker.stdout is not None
        ended, imported = json.loads(worker.stdout.readline())
        done.append((float(ended), int(imported)))
    return sum(imported for _, imported in done) / (max(end for end, _ in done) - started)


async def run(store_url: str, setups: list[Setup], rounds: int) -> dict[str, Any]:
    text = generate(10_000, bad_every=100).text
    client: AsyncMongoClient[Document] = AsyncMongoClient(store_url, tz_aware=True)
    pools: dict[str, list[subprocess.Popen[str]]] = {}
    rates: dict[str, list[float]] = {s.name: [] for s in setups}
    reference: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        try:
            await reference_run(client, text.encode())  # warm-up
            for setup in setups:
                files = split_file(text, setup.processes, Path(scratch))
                pools[setup.name] = start_workers(setup, files, store_url)
            for _ in range(rounds):
                for setup in setups:
                    rates[setup.name].append(one_round(pools[setup.name]))
                    elapsed, _, inserted = await reference_run(client, text.encode())
                    reference.append(inserted / elapsed)
        finally:
            for workers in pools.values():
                for worker in workers:
                    assert worker.stdin is not None
                    worker.stdin.write("stop\n")
                    worker.stdin.close()
                    worker.wait(timeout=60)
            await client.close()
    reference_median = statistics.median(reference)
    return {
        "benchmark": "needs_import_levers",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rounds": rounds,
        "reference_median_rows_per_s": round(reference_median),
        "setups": {
            name: {
                "median_rows_per_s": round(statistics.median(r)),
                "range": [round(min(r)), round(max(r))],
                "ratio": round(statistics.median(r) / reference_median, 3),
            }
            for name, r in rates.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--setup", type=Setup.parse, action="append", default=[])
    args = parser.parse_args()
    setups = args.setup or [
        Setup("this interpreter, 1 process", sys.executable, "", 1),
        Setup("this interpreter, 2 processes", sys.executable, "", 2),
    ]
    infra, stop = start_infra()
    try:
        result = asyncio.run(run(infra.store_url, setups, args.rounds))
    finally:
        stop()
    out = save("needs_import_levers", result)
    print(f"reference: {result['reference_median_rows_per_s']} rows/s (median); written to {out}")
    for name, figures in result["setups"].items():
        print(
            f"{name}: {figures['median_rows_per_s']} rows/s "
            f"({figures['range'][0]}-{figures['range'][1]}), ratio {figures['ratio']}"
        )


if __name__ == "__main__":
    main()
