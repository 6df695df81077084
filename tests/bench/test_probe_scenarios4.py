"""The fourth round of probe generators (bench/probe_scenarios.py, "probe round 4": scale and shape
assumptions): deterministic per seed, contract-valid, sorted, truths consistent with the events, and each
stream has the shape its docstring claims. The detectors' results are not checked here. ``SMALL4`` holds a
cheap member of each new generator; the coverage test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

import time
from collections import Counter
from itertools import pairwise

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build
from tests.bench.probe_checks import assert_a_valid_scenario

SMALL4: dict[str, dict[str, object]] = {
    "nodrift_many_features": {"n_features": 12, "days": 0.1, "batch": 10},
    "drift_variable_batches": {"days": 1.5, "at_h": 30.0},
    "drift_feature_churn": {"days": 2.0, "every_s": 600.0},
    "bill_offset_periods_x5": {"days": 7.0},
    "bill_many_workloads": {"n": 6, "days": 7.0},
    "gpu_preempted": {"gpus": 2, "busy_h": 1.0, "idle_h": 0.5},
    "gpu_util_stuck_sm": {"stuck_h": 0.5, "busy_h": 0.5},
    "loop_no_data_version": {"days": 2.0},
}
NEW = {"nodrift_many_features", "drift_variable_batches", "drift_feature_churn", "bill_offset_periods",
       "bill_many_workloads", "gpu_preempted", "gpu_util_stuck", "loop_no_data_version"}



def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL4} == NEW


@pytest.mark.parametrize("name", sorted(SMALL4))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL4[name])


def test_many_features_mixes_kinds_cycles_and_rounding() -> None:
    sc = build("nodrift_many_features", 1, {"days": 0.05})
    assert not sc.truth
    names = set(sc.events[0]["values"])
    assert len(names) == 100 and all(len(v) == 50 for v in sc.events[0]["values"].values())
    pooled: dict[str, list[float]] = {n: [] for n in names}
    for e in sc.events:
        assert set(e["values"]) == names
        for n, v in e["values"].items():
            pooled[n] += v
    for n, v in pooled.items():
        if n.endswith("bernoulli"):
            assert set(v) <= {0.0, 1.0}
        if n.endswith("poisson"):
            assert all(x >= 0 and x == int(x) for x in v)
        if n.endswith("categorical"):
            assert 2 <= len(set(v)) <= 12 and all(x == int(x) for x in v)
    one_decimal = [n for n, v in pooled.items() if n.endswith(("normal", "lognormal"))
                   and all(round(x, 1) == x for x in v)]
    assert len(one_decimal) == 5
    full = build("nodrift_many_features", 1, {"n_features": 30, "days": 1.0, "batch": 20, "every_s": 600.0})
    by_hour: dict[str, dict[int, list[float]]] = {}
    for e in full.events:
        h = int((e["ts"] - T0) // (4 * HOUR))
        for n, v in e["values"].items():
            by_hour.setdefault(n, {}).setdefault(h, []).extend(v)
    moving = 0
    for hours in by_hour.values():
        means = [sum(v) / len(v) for v in hours.values()]
        allv = [x for v in hours.values() for x in v]
        mu = sum(allv) / len(allv)
        sd = (sum((x - mu) ** 2 for x in allv) / len(allv)) ** 0.5 or 1.0
        moving += (max(means) - min(means)) / sd > 0.6
    assert 3 <= moving <= 10  # 20 % of 30 features carry a cycle of 0.5-2 sd


def test_variable_batches_span_1_to_1000_values_every_30_to_300_s() -> None:
    sc = build("drift_variable_batches", 1, {"days": 1.5, "at_h": 30.0})
    sizes = [len(e["values"]["amount"]) for e in sc.events]
    assert min(sizes) == 1 and 500 < max(sizes) <= 1000
    for m in ("m-varbatch", "m-varbatch-ctl"):
        ts = [e["ts"] for e in sc.events if e["model_id"] == m]
        gaps = [b - a for a, b in pairwise(ts)]
        assert min(gaps) >= 29.9 and max(gaps) <= 300.1
    (t,) = sc.truth
    mine = [e for e in sc.events if e["model_id"] == "m-varbatch"]
    before = [x for e in mine if e["ts"] < t["start"] for x in e["values"]["amount"]]
    after = [x for e in mine if e["ts"] >= t["start"] for x in e["values"]["amount"]]
    assert 8 < sum(after) / len(after) - sum(before) / len(before) < 12


def test_feature_churn_feature_sets() -> None:
    sc = build("drift_feature_churn", 1, {"days": 3.0, "every_s": 300.0})
    assert not sc.truth
    a = T0 + DAY
    seen = Counter(n for e in sc.events for n in e["values"])
    n = len(sc.events)
    assert seen["amount"] == seen["latency_ms"] == n
    assert all(("new_signal" in e["values"]) == (e["ts"] >= a) for e in sc.events)
    assert all(("old_signal" in e["values"]) == (e["ts"] < a) for e in sc.events)
    assert 0.4 * n < seen["sometimes"] < 0.6 * n


def test_offset_periods_start_at_half_past() -> None:
    sc = build("bill_offset_periods_x5", 1, {"days": 7.0})
    assert all(e["period_start"] % HOUR == 30 * MIN and e["period_end"] - e["period_start"] == HOUR for e in sc.events)
    (t,) = sc.truth
    assert t["start"] % HOUR == 30 * MIN and t["end"] - t["start"] == 2 * HOUR
    inside = [e["cost_usd"] for e in sc.events if t["start"] <= e["period_start"] < t["end"]]
    assert len(inside) == 2


def test_many_workloads_one_spikes() -> None:
    sc = build("bill_many_workloads", 1, {"n": 20, "days": 7.0})
    ids = Counter(e["workload"]["id"] for e in sc.events)
    assert len(ids) == 20 and set(ids.values()) == {7 * 24}
    (t,) = sc.truth
    assert t["workload"] == "tenant/wl-000" and t["end"] - t["start"] == 3 * HOUR
    mine = [e for e in sc.events if e["workload"]["id"] == t["workload"]]
    inside = [e["cost_usd"] for e in mine if t["start"] <= e["period_start"] < t["end"]]
    other = [e["cost_usd"] for e in mine if not t["start"] <= e["period_start"] < t["end"]]
    assert sum(inside) / len(inside) > 6 * sum(other) / len(other)
    per_h = [sum(e["cost_usd"] for e in sc.events if e["workload"]["id"] == w) / (7 * 24) for w in ids]
    assert all(0.3 < x < 7 for x in per_h[1:])


def test_preempted_node_goes_silent_then_returns_unallocated() -> None:
    sc = build("gpu_preempted", 1)
    assert len(sc.truth) == 8
    back = sc.truth[0]["start"]
    gone = back - 40 * MIN
    assert not [e for e in sc.events if gone + 1.5 < e["ts"] - e["interval_s"] and e["ts"] < back]
    during = [e for e in sc.events if back + MIN < e["ts"] - e["interval_s"] and e["ts"] < sc.truth[0]["end"]]
    assert during and all(e["workload"] is None and e["mem_used_bytes"] == 0 and e["processes"] == [] and
                          e["sm_active_pct"] < 1 for e in during)
    before = [e for e in sc.events if e["ts"] < gone]
    assert all(e["workload"]["id"] == "research/spot-pretrain" for e in before)
    assert all(t["workload"] is None and t["goal_s"] == 90 * MIN for t in sc.truth)


def test_util_stuck_with_and_without_sm() -> None:
    for name, sm in (("gpu_util_stuck_no_sm", None), ("gpu_util_stuck_sm", 0.3)):
        sc = build(name, 1)
        a = T0 + 2 * HOUR
        stuck = [e for e in sc.events if a + MIN < e["ts"] - e["interval_s"] and e["ts"] < a + 6 * HOUR]
        assert stuck and all(e["util_gpu_pct"] == 100.0 and e["mem_used_bytes"] / e["mem_total_bytes"] < 0.021
                             for e in stuck)
        if sm is None:
            assert not sc.truth and all("sm_active_pct" not in e for e in sc.events)
        else:
            assert len(sc.truth) == 1 and all(e["sm_active_pct"] == sm for e in stuck)


def test_loops_without_data_version() -> None:
    sc = build("loop_no_data_version", 1)
    assert all(e["data_version"] is None for e in sc.events)
    loop = sorted({e["started_at"] for e in sc.events if e["model_id"] == "churn-nodv"})
    assert all(3.9 * HOUR < b - a < 4.1 * HOUR for a, b in pairwise(loop))
    daily = [e["metric"]["value"] for e in sc.events if e["model_id"] == "ctr-nodv" and e["status"] == "succeeded"]
    assert len(daily) == 7 and daily == sorted(daily)
    assert time.gmtime(sc.truth[0]["start"]).tm_hour == 1
