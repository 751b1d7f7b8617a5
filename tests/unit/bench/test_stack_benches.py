"""The stack benches' arithmetic and their sections of the report (no stack started here: the
benches themselves are checked by running them at a small size)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.propagation import percentile
from bench.report import render
from bench.soak import Minute, cpu_by_part, cpu_used, drift, markdown, summarise


def _section(report: str, name: str) -> str:
    return report.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]

    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([7.0], 99) == 7.0


def test_soak_minutes_add_up_and_drift_is_relative_to_the_first() -> None:
    first = Minute(latencies_ms=[10.0, 20.0, 30.0], errors=Counter({"503": 1}), services_mib=100.0)
    last = Minute(latencies_ms=[40.0], services_mib=110.0)

    both = summarise([first, last])

    assert both["operations"] == 4
    assert both["errors"] == 1
    assert both["errors_by_kind"] == {"503": 1}
    assert both["services_mib"] == 105.0
    assert both["load_average"] is None  # neither minute ended with a reading
    loaded = [Minute(latencies_ms=[1.0], load_average=2.0), Minute(load_average=5.0)]
    assert summarise(loaded)["load_average"] == 3.5
    assert drift(100.0, 110.0) == 0.1
    assert drift(None, 110.0) is None


def test_the_soak_names_each_operations_p50_and_p99_over_its_minutes() -> None:
    first = Minute(by_operation={"needs": [10.0, 30.0, 20.0], "receipt": [5.0]})
    last = Minute(by_operation={"needs": [40.0], "stock": [7.0]})

    assert summarise([first, last])["p50_by_operation_ms"] == {
        "needs": 20.0,
        "receipt": 5.0,
        "stock": 7.0,
    }
    assert summarise([first, last])["p99_by_operation_ms"] == {
        "needs": 40.0,
        "receipt": 5.0,
        "stock": 7.0,
    }
    assert summarise([Minute()])["p50_by_operation_ms"] == {}


def test_the_soak_keeps_the_operations_by_key_and_the_stores_own_answer_apart() -> None:
    first = Minute(
        by_operation={"need": [900.0], "receipt": [10.0, 30.0], "stock": [20.0]},
        store_list_ms=4.0,
        store_needs=1000,
    )
    last = Minute(by_operation={"needs": [800.0]}, store_list_ms=8.0, store_needs=2000)

    both = summarise([first, last])

    assert both["p99_by_key_ms"] == 30.0  # the need's 900 ms is not an operation by key
    assert both["store_list_ms"] == 6.0
    assert both["store_needs"] == 2000
    assert summarise([last])["p99_by_key_ms"] is None
    assert summarise([Minute()])["store_list_ms"] is None


def test_the_soak_counts_each_parts_cpu_in_the_minute() -> None:
    readings = {"kafka-1": 10.0, "kafka-2": 5.0, "needs": 3.0, "needs-2": 4.0, "front": 1.0}
    earlier = cpu_by_part(readings)
    assert earlier == {"brokers": 15.0, "needs": 7.0, "front": 1.0}

    later = {"brokers": 45.0, "needs": 2.5, "front": 1.5, "store": 30.0}
    # needs restarted meanwhile (its counter began again); the store was not read before.
    assert cpu_used(earlier, later) == {"brokers": 30.0, "front": 0.5, "needs": 2.5, "store": 30.0}

    minutes = [Minute(cpu_s={"store": 10.0, "needs": 4.0}), Minute(cpu_s={"store": 20.0}), Minute()]
    assert summarise(minutes)["cpu_s"] == {"needs": 2.0, "store": 15.0}


def _soak_result() -> dict[str, object]:
    minute = {
        "minute": 1,
        **summarise(
            [
                Minute(
                    latencies_ms=[5.0],
                    services_mib=700.0,
                    load_average=3.5,
                    store_list_ms=5.0,
                    store_needs=1200,
                    cpu_s={"brokers": 30.0, "store": 10.0},
                )
            ]
        ),
        "infrastructure_mib": {"kafka-1": 380.0, "store": 400.0},
    }
    return {
        "date": "2026-12-06T19:00:00+00:00",
        "machine": {"cpus": 2, "load_average_start": [1, 1, 1], "load_average_end": [2, 2, 2]},
        "minutes": 4,
        "window_minutes": 1,
        "ramp_ops_per_s": {"4": 20.0, "16": 30.0},
        "max_ops_per_s": 30.0,
        "rate_ops_per_s": 15.0,
        "operations": 1000,
        "errors": 2,
        "errors_by_kind": {"409": 2},
        "p99_first_ms": 300.0,
        "p99_last_ms": 360.0,
        "services_first_mib": 700.0,
        "services_last_mib": 707.0,
        "drift_p99": 0.2,
        "drift_memory": 0.01,
        "load_first": 3.5,
        "load_last": 9.25,
        "p50_by_operation_first_ms": {"needs": 20.0, "receipt": 30.0},
        "p50_by_operation_last_ms": {"needs": 80.0, "receipt": 31.0},
        "p99_by_operation_first_ms": {"needs": 50.0, "receipt": 60.0},
        "p99_by_operation_last_ms": {"needs": 200.0, "receipt": 63.0},
        "p99_by_key_first_ms": 60.0,
        "p99_by_key_last_ms": 63.0,
        "drift_p99_by_key": 0.05,
        "store_list_first_ms": 5.0,
        "store_list_last_ms": 15.0,
        "drift_store_list": 2.0,
        "store_needs_first": 1200,
        "store_needs_last": 40000,
        "cpu_first_s": {"brokers": 30.0, "store": 10.0},
        "cpu_last_s": {"brokers": 31.0, "store": 40.0},
        "per_minute": [minute],
    }


def test_the_soak_page_says_what_was_missed(tmp_path: Path) -> None:
    page = markdown(_soak_result())

    assert "**Errors:** 2 of 1000 operations by kind {'409': 2} (aim: none: **MISSED**)" in page
    assert "0.2 (aim: under 10%: **MISSED**)" in page
    assert "0.01 (aim: under 10%: met)" in page
    assert (
        "| 1 | 1 | 0 | 5.0 | 5.0 | 700.0 | 3.5 | 5.0 | 1200 | kafka-1 380.0, store 400.0 | "
        "brokers 30.0, store 10.0 |" in page
    )
    assert "first 1 min 3.5, last 1 min 9.25" in page
    assert "needs 20.0 → 80.0 ms (3.0); receipt 30.0 → 31.0 ms (0.033)" in page
    assert "**p99 per operation**, first 1 min → last 1 min: needs 50.0 → 200.0 ms (3.0); " in page
    assert "receipt 60.0 → 63.0 ms (0.05)" in page
    assert "first 1 min 60.0 ms, last 1 min 63.0 ms): 0.05 (under 10%: met)" in page
    assert "first 1 min 5.0 ms with 1200 needs stored, last 1 min 15.0 ms with 40000: 2.0" in page
    assert "(mean; 2 cores give 120), first 1 min → last 1 min: brokers 30.0 → 31.0; " in page
    assert "store 10.0 → 40.0." in page
    recorded_later = ("by_operation", "by_key", "store_", "cpu_")
    older = {k: v for k, v in _soak_result().items() if not any(r in k for r in recorded_later)}
    assert "per operation" not in markdown(older)  # a soak from before they were recorded
    assert "operations by key" not in markdown(older)
    assert "store's own answer" not in markdown(older)
    assert "CPU seconds" not in markdown(older)


def test_the_report_has_a_section_for_each_stack_bench(tmp_path: Path) -> None:
    results = {
        "propagation": {
            "propagation_p50_ms": 30.0,
            "propagation_p99_ms": 90.0,
            "raw_p50_ms": 10.0,
            "raw_p99_ms": 30.0,
            "ratio_p50": 3.0,
            "ratio_p99": 3.0,
        },
        "stack_memory": {
            "imported": 990,
            "after_import_and_plan": {
                "services_total_mib": 400.0,
                "services_mib": {"needs": 100.0},
                "infrastructure_mib": {"kafka": 360.0},
            },
            "services_after_mib": 400.0,
            "ratio_services_after_to_aim": 0.39,
        },
        "cluster_intake": {
            "cluster_median_per_s": 15.0,
            "one_process_median_per_s": 16.0,
            "ratio_median": 0.94,
            "aim": 1.6,
        },
        "soak": _soak_result(),
    }
    for name, result in results.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(result))

    report = render(tmp_path)

    propagation = _section(report, "propagation")
    assert "p50 ratio <= 2.5: **MISSED**" in propagation
    assert "p99 ratio <= 5: met" in propagation
    memory = _section(report, "stack_memory")
    assert "services after, MiB <= 1024: met" in memory
    assert "| after import and plan: needs MiB | 100.0 |" in memory
    assert "| after import and plan: kafka MiB | 360.0 |" in memory
    assert "ratio >= 1.6: **MISSED**" in _section(report, "cluster_intake")
    soak = _section(report, "soak")
    assert "[soak.md](soak.md)" in soak
    assert "errors <= 0: **MISSED**" in soak
    assert "p99 drift, either way <= 0.1: **MISSED**" in soak
    assert "memory drift, either way <= 0.1: met" in soak
