"""Run one benchmark and record the machine around it, for the report.

    uv run python -m bench.run stock_reservations [the bench's own arguments]

The benches write their own result files; this wrapper adds `bench/results/<name>.machine.json`
(cores, load average at the start and the end, times), so `python -m bench.report` can say
under what load each figure was measured without every bench repeating that code.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

from bench.machine import finish, snapshot

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m bench.run NAME [ARGS...]")
    name, *rest = argv
    machine = snapshot()
    sys.argv = [f"bench.{name}", *rest]
    try:
        runpy.run_module(f"bench.{name}", run_name="__main__", alter_sys=True)
    finally:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{name}.machine.json"
        out.write_text(json.dumps(finish(machine), indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
