"""The sixth round of probe generators (bench/probe_scenarios.py, "probe round 6": MIG churn, model loading,
evaluation pauses, monthly fees, credits, many new series, low traffic, a stale cron): deterministic per seed,
contract-valid, sorted, truths consistent with the events, and each stream has the shape its docstring claims.
The detectors' results are not checked here. ``SMALL6`` holds a cheap member of each new generator; the
coverage test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise
from typing import Any

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, build
from tests.bench.probe_checks import assert_a_valid_scenario

SMALL6: dict[str, dict[str, object]] = {
    "gpu_mig_slices": {"hours": 6.0, "hoard_at_h": 2.0, "hoard_h": 1.0, "step_s": 60.0},
    "gpu_model_loading": {"pods": 5, "hours": 8.0, "stuck_at_h": 3.0, "stuck_h": 1.0, "step_s": 60.0},
    "gpu_eval_pauses_straggler": {"ranks": 6, "hours": 8.0, "step_s": 60.0, "lag_h": 1.0},
    "bill_monthly_fee_x5": {},
    "bill_credits_x4": {},
    "bill_new_series_x5": {"n": 12, "days": 16.0, "spread_days": 3.0, "spiker": 2},
    "drift_low_traffic_shift": {"days": 3.0, "at_day": 2.0},
    "loop_stale_data_cron": {"days": 3.0},
}
NEW = {"gpu_mig_slices", "gpu_model_loading", "gpu_eval_pauses", "bill_monthly_fee", "bill_credits",
       "bill_new_series", "drift_low_traffic", "loop_stale_data_cron"}


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL6} == NEW


@pytest.mark.parametrize("name", sorted(SMALL6))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL6[name])


def test_mig_slices_churn_unallocated_and_one_hoards() -> None:
    sc = build("gpu_mig_slices", 1)
    (t,) = sc.truth
    assert len({e["gpu_uuid"] for e in sc.events}) == 1
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in sc.events:
        by[e["mig_uuid"]].append(e)
    assert len(by) == 7
    for m, evs in by.items():
        free = [e for e in evs if e["workload"] is None]
        assert free and all(e["mem_used_bytes"] == 0 and e["processes"] == [] for e in free)
        held = [e for e in evs if e["workload"] and e["util_gpu_pct"] == 0.0
                and t["start"] + 5 * MIN < e["ts"] < t["end"] - 5 * MIN]
        if m == t["resource"]:
            assert len(held) > 200 and all(abs(e["mem_used_bytes"] / e["mem_total_bytes"] - 0.7) < 0.01 for e in held)
        else:
            assert not held


def test_model_loading_ramps_memory_at_zero_util_and_one_pod_is_stuck_full() -> None:
    sc = build("gpu_model_loading", 1)
    (t,) = sc.truth
    assert len({e["gpu_uuid"] for e in sc.events}) == 6
    loading = [e for e in sc.events if e["workload"] and e["util_gpu_pct"] == 0.0 and e["gpu_uuid"] != t["resource"]]
    assert loading and max(e["mem_used_bytes"] / e["mem_total_bytes"] for e in loading) <= 0.7 + 1e-9
    assert min(e["mem_used_bytes"] / e["mem_total_bytes"] for e in loading) < 0.2
    stuck = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + 15 * MIN < e["ts"] < t["end"]]
    assert stuck and all(e["util_gpu_pct"] == 0.0 and e["mem_used_bytes"] / e["mem_total_bytes"] > 0.94
                         for e in stuck)
    assert t["goal_s"] == 20 * MIN


def test_eval_pauses_rank0_low_others_zero_and_no_truth() -> None:
    sc = build("gpu_eval_pauses", 1)
    assert sc.truth == []
    low: Counter[str] = Counter(e["gpu_uuid"] for e in sc.events if 5 <= e["util_gpu_pct"] <= 15)
    (rank0, n), = low.most_common(1)
    assert n > 100  # rank 0 evaluating, 15-25 min every 2 h
    t_low = {round(e["ts"] / 60) for e in sc.events if e["gpu_uuid"] == rank0 and 5 <= e["util_gpu_pct"] <= 15}
    waiting = [e for e in sc.events if e["gpu_uuid"] != rank0 and round(e["ts"] / 60) in t_low]
    assert sum(e["util_gpu_pct"] == 0.0 and e["mem_used_bytes"] > 0 for e in waiting) > 0.9 * len(waiting)
    st = build("gpu_eval_pauses_straggler", 1)
    (t,) = st.truth
    assert t["goal_s"] == 5 * MIN and t["end"] - t["start"] == 2 * HOUR


def test_monthly_fee_rows_on_the_first_and_first_is_ambiguous() -> None:
    sc = build("bill_monthly_fee_x5", 1)
    fees = [e for e in sc.events if e["sku"] == "platform-fee-monthly"]
    assert len(fees) == 3 and all(e["charge_category"] == "purchase" for e in fees)
    usage = sorted(e["cost_usd"] for e in sc.events if e["sku"] != "platform-fee-monthly")
    assert 8 < fees[0]["cost_usd"] / usage[len(usage) // 2] < 12.5
    amb, bad = sc.truth
    assert amb["ambiguous"] and amb["start"] == fees[0]["period_start"] and not bad.get("ambiguous")
    assert build("bill_monthly_fee", 1).truth[0]["ambiguous"]


def test_credits_are_adjustments_and_one_day_nets_negative() -> None:
    sc = build("bill_credits_none", 1)
    assert sc.truth == [] and all(e["cost_usd"] >= 0 for e in sc.events)
    net: dict[float, float] = defaultdict(float)
    for e in sc.events:
        net[e["period_start"]] += e["cost_usd"] + e.get("adjustment_usd", 0.0)
    credits = [e for e in sc.events if "adjustment_usd" in e]
    assert len(credits) >= 5 and sum(v < 0 for v in net.values()) == 1


def test_new_series_appear_one_by_one_over_three_weeks() -> None:
    sc = build("bill_new_series_x5", 1)
    first: dict[str, float] = {}
    for e in sc.events:
        first.setdefault(e["workload"]["id"], e["period_start"])
    assert len(first) == 40
    born = sorted(first.values())
    assert born[-1] - born[0] > 19 * DAY and len(set(born)) == 40
    (t,) = sc.truth
    assert 11 * DAY <= t["start"] - first[t["workload"]] < 13 * DAY and t["end"] - t["start"] == 6 * HOUR


def test_low_traffic_is_about_six_single_values_an_hour() -> None:
    sc = build("drift_low_traffic_none", 1)
    assert all(len(v) == 1 for e in sc.events for v in e["values"].values())
    assert 5 * 24 * 6 < len(sc.events) < 7 * 24 * 6


def test_stale_cron_repeats_one_data_version_four_times_and_control_never() -> None:
    sc = build("loop_stale_data_cron", 1)
    done = [e for e in sc.events if e["status"] == "succeeded"]
    c = Counter(e["data_version"] for e in done)
    assert max(c.values()) == 4 and sum(v > 1 for v in c.values()) == 1
    ctl = [e for e in build("loop_stale_data_cron_control", 1).events if e["status"] == "succeeded"]
    assert len({e["data_version"] for e in ctl}) == len(ctl)
    assert all(a["metric"]["value"] < b["metric"]["value"] for a, b in pairwise(ctl))
