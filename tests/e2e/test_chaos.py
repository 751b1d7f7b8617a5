"""CI's short `make chaos` (tools/chaos.py): a cluster of its own under 1,000 operations through
the front while a service replica, a broker and the store are each killed at least once; every
acknowledged operation is then found exactly once, the views agree with stock, every plan's saga
is finished and the dead-letter topics are empty. Several minutes: run it on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos import run_chaos

pytestmark = [pytest.mark.infra, pytest.mark.timeout(1500)]


def test_a_short_chaos_run_ends_without_a_violation(tmp_path: Path) -> None:
    result = run_chaos(operations=1000, seed=1017, concurrency=8, service_kills=2, local=tmp_path)

    report = result.text()
    print(report)  # the table, with `-rP`, when it passes as well
    assert result.kills["service-kill"] >= 1, report
    assert result.kills["broker-kill"] == 1, report
    assert result.kills["broker-start"] == 1, report
    assert result.kills["store-restart"] == 1, report
    assert sum(result.stats.acknowledged.values()) >= 500, report
    assert result.violations == [], report
