"""bench.gateway_intake at a tiny size: both paths answer and the result file is written.

No figure is asserted (no timed assertion): the bench's numbers are for the report.
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.gateway_intake import main
from tests.support.infra import Infra


async def test_the_bench_writes_its_result_file(infra: Infra, tmp_path: Path) -> None:
    report = await main(needs=6, concurrency=2, rounds=1, infra=infra, results=tmp_path)

    written = json.loads((tmp_path / "gateway_intake.json").read_text())
    assert written == report
    assert len(written["gateway_per_s"]) == len(written["bare_per_s"]) == 1
    assert written["ratio_median"] > 0
    assert written["aim"] == 0.5
    assert written["machine"]["load_average_end"]
