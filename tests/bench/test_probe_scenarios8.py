"""The eighth round of probe generators (bench/probe_scenarios.py, "probe round 8": a data-parallel job on four
nodes with one node hung and the others busy-waiting, an export re-sending its last three days, billing days from
08:00 UTC, hourly series without $0 rows, one workload as 15 SKUs, drift-triggered retrains every 2 h, observation
batches with NaN/inf/null/strings): deterministic per seed, contract-valid (but for the batches ``obs_bad_values``
breaks on purpose), sorted, truths consistent with the events, and each stream has the shape its docstring claims.
The detectors' results are not checked here. ``SMALL8`` holds a cheap member of each new generator; the coverage
test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from typing import Any

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, build
from spendwatch.events import BadEvent, validate
from tests.bench.probe_checks import assert_a_valid_scenario, digest

SMALL8: dict[str, dict[str, object]] = {
    "gpu_multi_node_job": {"nodes": 2, "per_node": 2, "hours": 2.0, "hang_at_h": 1.0, "hang_h": 0.5, "step_s": 60.0},
    "bill_resent_rows_x4": {"days": 10, "at_day": 6},
    "bill_offset_days_x3": {"days": 12, "at_day": 8},
    "bill_sparse_hours_x5": {"days": 5, "at_day": 3},
    "bill_many_skus_x20": {"days": 4.0, "new_day": 1.0, "spike_day": 2.0, "n_skus": 5},
    "loop_drift_retrains": {"days": 1.5, "at_day": 1.0, "every_s": 600.0},
    "obs_bad_values": {"days": 0.5, "every_s": 300.0, "share": 0.2},
}
NEW = {"gpu_multi_node_job", "bill_resent_rows", "bill_offset_days", "bill_sparse_hours", "bill_many_skus",
       "loop_drift_retrains", "obs_bad_values"}


def _invalid(e: dict[str, Any]) -> bool:
    try:
        validate(json.loads(json.dumps(e)))
    except BadEvent:
        return True
    return False


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL8} == NEW


def test_valid_sorted_deterministic_and_truth_consistent() -> None:
    for name in sorted(set(SMALL8) - {"obs_bad_values"}):
        assert_a_valid_scenario(name, SMALL8[name])


def test_bad_values_break_exactly_the_counted_batches() -> None:
    small = SMALL8["obs_bad_values"]
    sc = build("obs_bad_values", 1, small)
    assert digest(sc) == digest(build("obs_bad_values", 1, small)) != digest(build("obs_bad_values", 2, small))
    assert not sc.truth and all(x["ts"] <= y["ts"] for x, y in zip(sc.events, sc.events[1:], strict=False))
    bad = [e for e in sc.events if _invalid(e)]
    assert sc.bad_lines == len(bad) > 0
    for e in bad:
        odd = [v for vs in e["values"].values() for v in vs
               if not isinstance(v, float) or math.isnan(v) or math.isinf(v)]
        assert len(odd) == 1


def test_multi_node_hung_node_at_zero_the_others_spin_at_100_with_idle_sms() -> None:
    sc = build("gpu_multi_node_job", 1, SMALL8["gpu_multi_node_job"])
    assert len(sc.truth) == 4 and len({e["workload"]["id"] for e in sc.events}) == 1
    t = sc.truth[0]
    inside = [e for e in sc.events if t["start"] + 2 * MIN < e["ts"] - e["interval_s"] and e["ts"] < t["end"]]
    by_node: dict[str, set[float]] = defaultdict(set)
    for e in inside:
        by_node[e["node"]].add(e["util_gpu_pct"])
        assert e["sm_active_pct"] <= 1.0 and e["mem_used_bytes"] > 0.7 * e["mem_total_bytes"]
    assert sorted(map(sorted, by_node.values())) == [[0.0], [100.0]]


def test_resent_rows_are_one_usage_row_and_up_to_three_restatements_within_2_percent() -> None:
    # the contract's form of a re-sent export (what the FOCUS collector's ledger publishes): the first send is
    # the money, each re-send only its change, so each day's published total stays within 2 % of the first send
    sc = build("bill_resent_rows_x4", 1, SMALL8["bill_resent_rows_x4"])
    rows: dict[tuple[float, str], list[dict[str, Any]]] = defaultdict(list)
    for e in sc.events:
        rows[(e["period_start"], e["sku"])].append(e)
    assert max(len(v) for v in rows.values()) == 4
    for v in rows.values():
        first, later = v[0], v[1:]
        assert first["cost_usd"] > 0 and "adjustment_usd" not in first
        assert all(e["cost_usd"] == 0 and e["adjustment_reason"] == "restatement" for e in later)
        running = first["cost_usd"]
        for e in later:
            running += e["adjustment_usd"]
            assert abs(running / first["cost_usd"] - 1) <= 0.0201
    (t,) = sc.truth
    assert t["excess_usd"] > 0 and t["end"] - t["start"] == DAY


def test_offset_days_start_at_08_utc_and_land_4_to_12_h_late() -> None:
    sc = build("bill_offset_days_x3", 1, SMALL8["bill_offset_days_x3"])
    assert all(e["period_start"] % DAY == 8 * HOUR for e in sc.events)
    assert all(4 * HOUR <= e["ts"] - e["period_end"] <= 12 * HOUR for e in sc.events)


def test_sparse_hours_leave_night_hours_out_and_no_zero_rows() -> None:
    sc = build("bill_sparse_hours_x5", 1, SMALL8["bill_sparse_hours_x5"])
    per_day: dict[int, int] = defaultdict(int)
    for e in sc.events:
        per_day[int(e["period_start"] // DAY)] += 1
        assert e["cost_usd"] > 0
    assert all(16 <= n <= 24 for n in per_day.values()) and min(per_day.values()) < 24


def test_many_skus_new_sku_and_the_spiking_sku() -> None:
    sc = build("bill_many_skus_x20", 1, SMALL8["bill_many_skus_x20"])
    skus = {e["sku"] for e in sc.events}
    assert len(skus) == 6 and "sku-rerank-new" in skus
    (t,) = sc.truth
    tot: dict[float, float] = defaultdict(float)
    for e in sc.events:
        tot[e["period_start"]] += e["cost_usd"]
    inside = [v for k, v in tot.items() if t["start"] <= k < t["end"]]
    before = [v for k, v in tot.items() if t["start"] - DAY <= k < t["end"] - DAY]
    assert 1.6 < sum(inside) / sum(before) < 2.4


def test_drift_retrains_every_2h_after_the_shift_with_fresh_data_and_a_flat_metric() -> None:
    sc = build("loop_drift_retrains", 1, SMALL8["loop_drift_retrains"])
    runs = [e for e in sc.events if e["type"] == "training_run" and e["status"] == "succeeded"]
    assert len(runs) >= 3 and all(e["trigger"] == "drift" for e in runs)
    assert len({e["data_version"] for e in runs}) == len(runs)
    vals = [e["metric"]["value"] for e in runs]
    assert max(vals) - min(vals) <= 0.001
    drift, nodrift = sc.truth
    assert drift["family"] == "drift" and nodrift["family"] == "nodrift"
    assert drift["detect_by"] <= runs[0]["started_at"] + 1
