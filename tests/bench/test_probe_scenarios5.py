"""The fifth round of probe generators (bench/probe_scenarios.py, "probe round 5": more shape assumptions):
deterministic per seed, contract-valid, sorted, truths consistent with the events, and each stream has the
shape its docstring claims. The detectors' results are not checked here. ``SMALL5`` holds a cheap member of
each new generator; the coverage test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build
from tests.bench.probe_checks import assert_a_valid_scenario

SMALL5: dict[str, dict[str, object]] = {
    "gpu_independent_jobs": {"hours": 8.0, "gpus": 4, "hoard_at_h": 3.0, "hoard_h": 1.0, "step_s": 60.0},
    "endpoint_sporadic": {"busy_days": 0.25, "quiet_h": 2.0, "step_s": 60.0},
    "bill_weekly_periods_x4": {"weeks": 8},
    "bill_missing_days_x5": {"days": 40.0},
    "bill_step_price_x2": {"days": 10.0},
    "drift_slow_trend": {"days": 3.0, "collapse_days": 3.0, "every_s": 900.0},
    "loop_two_teams": {"days": 4.0},
    "gpu_jitter_30s": {"gpus": 6, "hours": 8.0, "idle_at_h": 3.0, "idle_h": 1.0},
}
NEW = {"gpu_independent_jobs", "endpoint_sporadic", "bill_weekly_periods", "bill_missing_days", "bill_step_price",
       "drift_slow_trend", "loop_two_teams", "gpu_jitter_30s"}



def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL5} == NEW


@pytest.mark.parametrize("name", sorted(SMALL5))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL5[name])


def test_independent_jobs_free_memory_between_runs_and_one_hoards() -> None:
    sc = build("gpu_independent_jobs", 1)
    (t,) = sc.truth
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in sc.events:
        by[e["gpu_uuid"]].append(e)
    assert len(by) == 8
    assert len({e["workload"]["id"] for e in sc.events if e["workload"]}) == 8
    for u, evs in by.items():
        held_idle = [e for e in evs if e["workload"] and e["util_gpu_pct"] == 0.0 and e["mem_used_bytes"]
                     and t["start"] + 10 * MIN < e["ts"] < t["end"] - 10 * MIN]
        if u == t["resource"]:
            assert len(held_idle) > 200 and all(abs(e["mem_used_bytes"] / e["mem_total_bytes"] - 0.6) < 0.01
                                                for e in held_idle)
        free = [e for e in evs if e["workload"] is None]
        assert free and all(e["mem_used_bytes"] == 0 and e["processes"] == [] for e in free)


def test_endpoint_sporadic_lone_requests_and_busy_control() -> None:
    sc = build("endpoint_sporadic", 1)
    (t,) = sc.truth
    quiet = [e for e in sc.events if t["start"] + MIN < e["ts"] < t["end"]]
    lone = [e for e in quiet if e["gpu_uuid"] == t["resource"]]
    ctl = [e for e in quiet if e["gpu_uuid"] != t["resource"]]
    lit = [e for e in lone if e["util_gpu_pct"] >= 2]
    assert 20 <= len(lit) <= 80 and all(e["util_gpu_pct"] <= 6 for e in lit)
    assert sum(3 <= e["util_gpu_pct"] <= 9 for e in ctl) > 0.6 * len(ctl)
    assert t["goal_s"] == 20 * MIN


def test_weekly_periods_and_missing_days_arrive_late() -> None:
    sc = build("bill_weekly_periods_x4", 1)
    assert all(e["period_end"] - e["period_start"] == 7 * DAY for e in sc.events)
    assert all(DAY <= e["ts"] - e["period_end"] <= 3 * DAY for e in sc.events)
    md = build("bill_missing_days_x5", 1)
    lat = [e["ts"] - e["period_end"] for e in md.events]
    assert max(lat) > 2 * DAY and min(lat) >= 4 * HOUR
    assert len({e["period_start"] for e in md.events}) == len(md.events) == 45
    (t,) = md.truth
    row = next(e for e in md.events if e["period_start"] == t["start"])
    assert row["ts"] - row["period_end"] > 2 * DAY


def test_step_price_keeps_usage_and_starts_on_a_tuesday_10am() -> None:
    sc = build("bill_step_price_x2", 1)
    (t,) = sc.truth
    assert t["start"] == T0 + 8 * DAY + 10 * HOUR
    before = [e["cost_usd"] / e["usage_quantity"] for e in sc.events if e["period_start"] < t["start"]]
    after = [e["cost_usd"] / e["usage_quantity"] for e in sc.events if e["period_start"] >= t["start"]]
    assert max(before) < 2.41 and min(after) > 4.79


def test_slow_trend_is_ambiguous_and_collapse_is_constant() -> None:
    sc = build("drift_slow_trend", 1, {"every_s": 900.0})
    amb, col = sc.truth
    assert amb["ambiguous"] and not col.get("ambiguous")
    vals = [v for e in sc.events if e["model_id"] == "m-collapse" and e["ts"] >= col["start"]
            for v in e["values"]["p_default"]]
    assert vals and set(vals) == {0.5}


def test_two_teams_alternate_on_one_model_with_fresh_data_and_gain() -> None:
    sc = build("loop_two_teams", 1)
    done = [e for e in sc.events if e["status"] == "succeeded"]
    assert {e["model_id"] for e in done} == {"fraud-xgb"}
    assert [e["workload"]["id"] for e in done][:2] == ["risk/fraud-retrain", "fraudops/fraud-nightly"]
    assert len({e["data_version"] for e in done}) == len(done)
    assert all(a["metric"]["value"] < b["metric"]["value"] for a, b in pairwise(done))


def test_jitter_30s_moves_ts_and_drops_samples() -> None:
    sc = build("gpu_jitter_30s", 1)
    by: dict[str, list[float]] = defaultdict(list)
    for e in sc.events:
        by[e["gpu_uuid"]].append(e["interval_s"])
    assert len(by) == 16
    iv = [x for v in by.values() for x in v]
    assert min(iv) < 15 and max(iv) > 45
    assert 0.96 * 16 * 12 * 120 < len(sc.events) < 0.995 * 16 * 12 * 120
