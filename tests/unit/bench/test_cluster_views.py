"""The cluster catch-up's arithmetic over what its consumer processes count, and the report's
sections for the cluster catch-up and rebuild (no broker here: the benches themselves are
checked by running them at a small size)."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

from bench.catch_up_cluster import SharedClock, Tally, rates, summary
from bench.report import render


def _section(report: str, name: str) -> str:
    return report.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]


def test_the_pair_is_timed_from_the_first_record_and_from_when_both_consume() -> None:
    tally = Tally.new(multiprocessing.get_context("spawn"), 2)
    # Member 0 alone from t=100 handles 300 events; member 1 begins at t=102, after them.
    tally.first[0], tally.first[1] = 100.0, 102.0
    tally.done_before_first[1] = 300
    tally.mine[0], tally.mine[1] = 700, 500
    tally.done.value, tally.last.value = 1200, 106.0

    figures = rates(tally)

    assert figures["events_per_s"] == 200.0  # 1,200 events in 6 s
    assert figures["all_members_events_per_s"] == 225.0  # the other 900 in the last 4 s
    assert figures["events_before_all_members"] == 300
    assert figures["share_per_member"] == [0.583, 0.417]
    assert figures["members_handling"] == 2


def test_a_member_given_nothing_leaves_the_pair_timed_as_one() -> None:
    tally = Tally.new(multiprocessing.get_context("spawn"), 2)
    tally.first[0], tally.mine[0] = 100.0, 400
    tally.done.value, tally.last.value = 400, 102.0

    figures = rates(tally)

    assert figures["events_per_s"] == 200.0
    assert figures["all_members_events_per_s"] == 200.0
    assert figures["members_handling"] == 1
    assert figures["share_per_member"] == [1.0, 0.0]


def test_the_shared_clock_counts_each_member_and_starts_once() -> None:
    tally = Tally.new(multiprocessing.get_context("spawn"), 2)
    first, second = SharedClock(tally, 0), SharedClock(tally, 1)

    first.start()
    first.count(5)
    began = tally.first[0]
    first.start()
    second.start()
    second.count(3)

    assert tally.first[0] == began > 0.0
    assert tally.done_before_first[1] == 5
    assert tally.mine[:] == [5, 3]
    assert tally.done.value == 8
    assert tally.last.value >= tally.first[1]


def test_the_cluster_sections_carry_their_ratios_and_the_aim(tmp_path: Path) -> None:
    one = {"events_per_s": 400.0}
    two = {
        "events_per_s": 600.0,
        "all_members_events_per_s": 700.0,
        "events_before_all_members": 120,
        "members_handling": 2,
        "share_per_member": [0.5, 0.5],
    }
    catch_up = summary(2000, 3100, raw=5000.0, reference=1000.0, one=one, two=two)
    rebuild = {
        "benchmark": "rebuild_cluster",
        "mode": "cluster",
        "events": 5000,
        "rebuild_s": 20.0,
        "raw_consume_s": 0.5,
        "ratio_rebuild_to_raw_time": 40.0,
    }
    (tmp_path / "catch_up_cluster-20261206T2300.json").write_text(json.dumps(catch_up))
    (tmp_path / "rebuild_cluster-20261206T2300.json").write_text(json.dumps(rebuild))

    report = render(tmp_path)

    assert catch_up["ratio_two_consumers_to_reference"] == 0.6
    assert catch_up["ratio_one_consumer_to_reference"] == 0.4
    assert catch_up["ratio_two_consumers_to_one"] == 1.5
    section = _section(report, "catch_up_cluster")
    assert "ratio >= 2: **MISSED**" in section
    assert "| two consumers / one | 1.5 |" in section
    assert "- **Ratio** (rebuild time / raw consume time): 40.0" in _section(
        report, "rebuild_cluster"
    )
