"""The seventh round of probe generators (bench/probe_scenarios.py, "probe round 7": a health-check sidecar's
100 % util samples, collector restarts, a daily dump of hourly rows, cent-rounded tiny series, Kubernetes Job
back-off retries, features left out of batches, pods with skewed clocks): deterministic per seed, contract-valid,
sorted, truths consistent with the events, and each stream has the shape its docstring claims. The detectors'
results are not checked here. ``SMALL7`` holds a cheap member of each new generator; the coverage test of
test_probe_scenarios.py reads it too."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, build
from tests.bench.probe_checks import assert_a_valid_scenario

SMALL7: dict[str, dict[str, object]] = {
    "gpu_health_spikes": {"gpus": 3, "hours": 4.0, "hang_at_h": 1.0, "hang_h": 1.0, "step_s": 30.0},
    "gpu_collector_restart": {"gpus": 4, "hours": 12.0, "idle_h": 3.0, "step_s": 60.0},
    "bill_daily_dump_hourly_x4": {"days": 8.0, "at_day": 5},
    "bill_cents": {"n": 8, "days": 6.0, "tiny_jump_day": 3.0, "mid_day": 4.0},
    "loop_k8s_backoff": {"nights": 4, "loop_day": 2.0},
    "drift_missing_features_shift": {"days": 0.5, "at_day": 0.3, "n_features": 5, "every_s": 600.0},
    "drift_skewed_batches_var": {"days": 0.5, "at_day": 0.3, "pods": 3, "every_s": 600.0},
}
NEW = {"gpu_health_spikes", "gpu_collector_restart", "bill_daily_dump_hourly", "bill_cents", "loop_k8s_backoff",
       "drift_missing_features", "drift_skewed_batches"}


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL7} == NEW


@pytest.mark.parametrize("name", sorted(SMALL7))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL7[name])


def test_health_spikes_util_only_one_100_sample_per_5_min_and_the_hang() -> None:
    sc = build("gpu_health_spikes", 1, SMALL7["gpu_health_spikes"])
    (t,) = sc.truth
    assert all("sm_active_pct" not in e for e in sc.events)
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in sc.events:
        by[e["gpu_uuid"]].append(e)
    for evs in by.values():
        spikes = [e["ts"] for e in evs if e["util_gpu_pct"] == 100.0]
        assert 44 <= len(spikes) <= 48  # 4 h, one every 5 min
        assert all(4.5 * MIN < b - a < 5.5 * MIN for a, b in pairwise(spikes))
    hung = [e for e in by[t["resource"]] if t["start"] + MIN < e["ts"] - e["interval_s"] and e["ts"] < t["end"]]
    assert hung and all(e["util_gpu_pct"] in (0.0, 100.0) for e in hung)
    assert all(abs(e["mem_used_bytes"] / e["mem_total_bytes"] - 0.7) < 0.01 for e in hung)
    assert t["goal_s"] == 15 * MIN


def test_collector_restart_gaps_hit_every_gpu_of_a_node_and_one_falls_in_the_idle_stretch() -> None:
    sc = build("gpu_collector_restart", 1, SMALL7["gpu_collector_restart"])
    (t,) = sc.truth
    mine = [e["ts"] for e in sc.events if e["gpu_uuid"] == t["resource"]]
    gaps = [(a, b) for a, b in pairwise(mine) if b - a > 5 * MIN]
    assert gaps and all(8 * MIN <= b - a <= 15 * MIN + 120 for a, b in gaps)
    assert any(t["start"] + HOUR < a < t["end"] - HOUR for a, _ in gaps)
    node = next(e["node"] for e in sc.events if e["gpu_uuid"] == t["resource"])
    peers = {e["gpu_uuid"] for e in sc.events if e["node"] == node}
    for a, b in gaps:
        assert not any(a + 60 < e["ts"] < b - 60 for e in sc.events if e["gpu_uuid"] in peers)


def test_daily_dump_delivers_each_day_at_once_2_to_4_am() -> None:
    sc = build("bill_daily_dump_hourly_x4", 1, SMALL7["bill_daily_dump_hourly_x4"])
    days: dict[int, list[float]] = defaultdict(list)
    for e in sc.events:
        days[int((e["period_start"] - sc.events[0]["period_start"]) // DAY)].append(e["ts"])
    assert len(days) == 8 and all(len(v) == 24 and max(v) - min(v) < 1 for v in days.values())
    for d, v in days.items():
        assert 2 * HOUR <= min(v) - (sc.events[0]["period_start"] + (d + 1) * DAY) <= 4 * HOUR
    (t,) = sc.truth
    assert t["detect_by"] > t["end"] and HOUR < t["goal_s"] < 16 * HOUR


def test_cents_rows_are_rounded_and_the_tiny_jump_is_under_the_floors() -> None:
    sc = build("bill_cents", 1, SMALL7["bill_cents"])
    assert all(round(e["cost_usd"], 2) == e["cost_usd"] for e in sc.events)
    tiny = [e for e in sc.events if e["workload"]["id"].startswith("tools/")]
    assert max(e["cost_usd"] for e in tiny if e["workload"]["id"] != "tools/tiny-07") <= 0.2
    after = [e["cost_usd"] for e in tiny if e["workload"]["id"] == "tools/tiny-07"
             and e["period_start"] >= sc.events[0]["period_start"] + 3 * DAY + 10 * HOUR]
    assert after and 0.4 < sum(after) / len(after) < 0.6  # excess < $1 a period, < $25 a day
    (t,) = sc.truth
    assert t["workload"] == "search/reranker" and t["end"] - t["start"] == 6 * HOUR


def test_k8s_backoff_new_run_ids_trigger_null_and_capped_waits() -> None:
    sc = build("loop_k8s_backoff", 1, SMALL7["loop_k8s_backoff"])
    assert all(e["trigger"] is None for e in sc.events)
    loop = [e for e in sc.events if e["model_id"] == "fraud-gbdt"]
    started = [e for e in loop if e["status"] == "started"]
    failed = [e for e in loop if e["status"] == "failed"]
    assert len(started) == len(failed) == len({e["run_id"] for e in loop}) >= 3
    waits = [s["ts"] - f["ts"] for f, s in zip(failed, started[1:], strict=False)]
    assert waits[0] == pytest.approx(10, abs=0.01) and max(waits) <= 6 * MIN + 0.01
    assert all(MIN - 0.01 <= f["ts"] - s["ts"] <= HOUR + 0.01 for s, f in zip(started, failed, strict=True))
    ctl = [e for e in sc.events if e["model_id"] == "nightly-ranker" and e["status"] == "succeeded"]
    assert len(ctl) == 4 and all(a["metric"]["value"] < b["metric"]["value"] for a, b in pairwise(ctl))


def test_missing_features_leave_keys_out_of_a_fifth_of_batches() -> None:
    sc = build("drift_missing_features_none", 1)
    short = [e for e in sc.events if len(e["values"]) < 12]
    assert 0.15 < len(short) / len(sc.events) < 0.25
    assert {len(e["values"]) for e in short} == {9, 10, 11}


def test_skewed_pods_are_out_of_true_order_by_minutes() -> None:
    sc = build("drift_skewed_batches_none", 1, {"days": 0.5})
    pods: dict[str, list[float]] = defaultdict(list)
    for e in sc.events:
        pods[e["pod"]].append(e["ts"])
    assert len(pods) == 6
    firsts = sorted(v[0] for v in pods.values())
    assert firsts[-1] - firsts[0] > 10 * MIN  # the same true start, stamped up to 16 min apart
