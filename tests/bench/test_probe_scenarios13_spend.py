"""The thirteenth round's billing, drift and retraining probe generators (bench/probe_round13_spend.py: volume-tiered
token pricing with a monthly reset, an LLM migration (flat, or to a pricier model), batch jobs 2-3 times a week
(and one at x5), an agent loop in 5-minute rows, an exporter switching from hourly to daily rows, missing values
and batch sizes that follow the day beside an id-like feature, a drift whose retrain fails or fixes it, and a
drift monitor re-triggering one retrain every 30 min): deterministic per seed, contract-valid, sorted, truths
consistent with the events, and each stream has the shape its docstring claims. The detectors' results are not
checked here. ``SMALL13_SPEND`` holds a cheap member of each new generator."""

from __future__ import annotations

import sys
from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build
from tests.bench.probe_checks import assert_a_valid_scenario

probe_round13_spend = sys.modules[REGISTRY["bill13_tiered_reset"][0].__module__]  # loaded by bench.probe_scenarios

SMALL13_SPEND: dict[str, dict[str, object]] = {
    "bill13_tiered_spike_x4": {"weeks": 5},
    "bill13_model_migration_pricier": {"weeks": 3},
    "bill13_batch_jobs_x5": {"weeks": 5},
    "bill13_agent_loop": {"days": 18.0},
    "bill13_hourly_to_daily_x3": {"days": 32},
    "drift13_daily_nulls_shift": {"days": 3.5, "every_s": 600.0, "max_batch": 50},
    "drift13_retrain_failed": {"days": 2.6, "every_s": 300.0},
    "loop13_drift_monitor_30min": {"storm_hours": 2.0},
}
NEW = {"bill_tiered_pricing", "bill_model_migration", "bill_batch_jobs", "bill_agent_loop", "bill_hourly_to_daily",
       "drift_daily_nulls", "drift_retrain_outcome", "loop_drift_monitor"}


def test_every_generator_of_the_module_is_registered_and_has_a_small_case() -> None:
    mine = {n for n, v in vars(probe_round13_spend).items()
            if callable(v) and getattr(v, "__module__", "") == probe_round13_spend.__name__
            and not n.startswith("_") and n != "register"}
    assert mine == NEW
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL13_SPEND} == NEW
    assert all(n.startswith(("bill13_", "drift13_", "loop13_")) for n, (fn, _) in REGISTRY.items()
               if fn.__name__ in NEW)


@pytest.mark.parametrize("name", sorted(SMALL13_SPEND))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL13_SPEND[name])


def _daily(name: str, **kw: object) -> dict[int, float]:
    d: dict[int, float] = defaultdict(float)
    for e in build(name, 1, kw).events:
        d[int((e["period_start"] - T0) // DAY)] += e["cost_usd"]
    return d


def test_tier_prices_fall_twice_and_reset_on_april_1() -> None:
    d = _daily("bill13_tiered_reset")
    mean = lambda a, b: sum(d[k] for k in range(a, b)) / (b - a)  # noqa: E731
    assert 0.5 < mean(9, 16) / mean(0, 6) < 0.7 and 0.3 < mean(20, 29) / mean(0, 6) < 0.42
    assert 2.5 < mean(30, 37) / mean(23, 30) < 3.3
    sc = build("bill13_tiered_reset", 1)
    (t,) = sc.truth
    assert t["ambiguous"] and t["start"] == T0 + 30 * DAY
    toks = [e["usage_quantity"] for e in sc.events if e["period_start"] < T0 + 30 * DAY]
    assert 7000e6 < sum(toks) < 16000e6
    assert {e["sku"] for e in sc.events} == {f"embed-tokens-tier{k}" for k in (1, 2, 3)}
    sp = build("bill13_tiered_spike_x4", 1)
    t0 = sp.truth[0]
    assert t0["goal_s"] == 2 * HOUR and t0["start"] == T0 + 24 * DAY + 14 * HOUR and not t0.get("ambiguous")


def test_migration_keeps_the_total_and_the_pricier_one_is_x5() -> None:
    d = _daily("bill13_model_migration")
    assert 0.85 < sum(d[k] for k in range(25, 32)) / sum(d[k] for k in range(8, 15)) < 1.15
    models = {e["model"] for e in build("bill13_model_migration", 1).events if e["period_start"] > T0 + 24 * DAY}
    assert models == {"claude-sonnet-4"}
    p = _daily("bill13_model_migration_pricier")
    assert 4.0 < sum(p[k] for k in range(21, 28)) / sum(p[k] for k in range(8, 15)) < 6.0
    (t,) = build("bill13_model_migration_pricier", 1).truth
    assert t["goal_s"] == 4 * HOUR and t["start"] == T0 + 18 * DAY + 9 * HOUR


def test_batch_jobs_are_two_or_three_a_week_and_one_is_x5() -> None:
    sc = build("bill13_batch_jobs", 1)
    hot = sorted(e["period_start"] for e in sc.events if e["cost_usd"] > 20)
    runs = [a for a, b in zip(hot, [None, *hot[:-1]], strict=True) if b is None or a - b > HOUR]
    per_week = defaultdict(int)
    for a in runs:
        per_week[int((a - T0) // (7 * DAY))] += 1
    assert all(1 <= per_week[k] <= 3 for k in range(6)) and 12 <= len(runs) <= 18
    assert all(t["ambiguous"] and t["start"] < T0 + 14 * DAY for t in sc.truth)
    x5 = build("bill13_batch_jobs_x5", 1)
    (bad,) = [t for t in x5.truth if not t.get("ambiguous")]
    inside = [e["cost_usd"] for e in x5.events if bad["start"] <= e["period_start"] < bad["end"]]
    assert 3 <= len(inside) <= 5 and all(200 < c < 450 for c in inside) and bad["goal_s"] == 2 * HOUR


def test_agent_loop_is_x10_for_40_min_in_5_minute_rows() -> None:
    sc = build("bill13_agent_loop", 1)
    (t,) = sc.truth
    assert t["end"] - t["start"] == 40 * MIN and t["goal_s"] == 15 * MIN
    per: dict[float, float] = defaultdict(float)
    for e in sc.events:
        assert e["period_end"] - e["period_start"] == 5 * MIN and 60 <= e["ts"] - e["period_end"] <= 250
        per[e["period_start"]] += e["cost_usd"]
    loop = np.mean([v for k, v in per.items() if t["start"] <= k < t["end"]])
    day_before = np.mean([v for k, v in per.items() if t["start"] - DAY <= k < t["end"] - DAY])
    assert 5 < loop / day_before < 20
    assert not build("bill13_agent_loop_control", 1).truth


def test_rows_switch_from_hourly_to_daily_with_the_same_spend() -> None:
    sc = build("bill13_hourly_to_daily", 1)
    lens = [(e["period_start"], e["period_end"] - e["period_start"]) for e in sc.events]
    assert all(n == HOUR for s, n in lens if s < T0 + 21 * DAY) and all(n == DAY for s, n in lens
                                                                         if s >= T0 + 21 * DAY)
    assert all(6 * HOUR <= e["ts"] - e["period_end"] <= 10 * HOUR for e in sc.events if e["period_end"] -
               e["period_start"] == DAY)
    d = _daily("bill13_hourly_to_daily")
    assert 0.85 < np.mean([d[k] for k in range(22, 35)]) / np.mean([d[k] for k in range(7, 21)]) < 1.15
    x3 = _daily("bill13_hourly_to_daily_x3")
    assert 2.4 < x3[30] / np.mean([x3[k] for k in range(22, 30)]) < 3.6


def test_missing_share_and_batch_size_follow_the_day_and_the_ids_are_unique() -> None:
    sc = build("drift13_daily_nulls", 1, {"days": 2.0})
    by_h: dict[int, list[tuple[int, float]]] = defaultdict(list)
    ids: list[float] = []
    for e in sc.events:
        inc = np.array(e["values"]["income"])
        by_h[int(((e["ts"] - T0) % DAY) // HOUR)].append((len(inc), float((inc == -1).mean())))
        ids += e["values"]["merchant_id"]
    assert np.mean([n for n, _ in by_h[14]]) > 200 and np.mean([n for n, _ in by_h[2]]) < 5
    night = np.mean([m for _, m in by_h[1] + by_h[2] + by_h[3]])
    noon = np.mean([m for _, m in by_h[13] + by_h[14] + by_h[15]])
    assert 0.25 < night < 0.45 and 0.02 < noon < 0.09
    assert len(set(ids)) > 0.95 * len(ids)
    sh = build("drift13_daily_nulls_shift", 1)
    (t,) = sh.truth
    pre = np.concatenate([[v for v in e["values"]["income"] if v > 0] for e in sh.events if e["ts"] < t["start"]])
    post = np.concatenate([[v for v in e["values"]["income"] if v > 0] for e in sh.events if e["ts"] >= t["start"]])
    assert 1.4 < np.median(post) / np.median(pre) < 1.8 and t["goal_s"] == 30 * MIN


def test_the_drift_retrain_fails_twice_or_succeeds_with_a_gain() -> None:
    sc = build("drift13_retrain_failed", 1)
    runs = [e for e in sc.events if e["type"] == "training_run"]
    assert [e["status"] for e in runs] == ["started", "failed", "started", "failed"]
    assert [e["trigger"] for e in runs[::2]] == ["drift", "retry"]
    t, loop = sc.truth
    assert t["end"] == T0 + 3.5 * DAY and t["start"] == T0 + 2.25 * DAY
    assert loop["family"] == "loop" and loop["ambiguous"] and loop["start"] == runs[0]["ts"] < runs[-1]["ts"]
    fr = build("drift13_retrain_fresh", 1)
    done = [e for e in fr.events if e["type"] == "training_run" and e["status"] == "succeeded"]
    assert [e["metric"]["value"] for e in done] == [0.861, 0.902]
    (t,) = fr.truth
    assert t["end"] == done[-1]["ts"] and t["detect_by"] < t["end"]
    x = np.concatenate([e["values"]["basket_usd"] for e in fr.events if e["type"] == "model_observation"
                        and e["ts"] > t["start"]])
    assert 100 < x.mean() < 120


def test_the_monitor_retrains_every_30_min_on_one_snapshot_or_on_new_ones() -> None:
    sc = build("loop13_drift_monitor_30min", 1)
    storm = [e for e in sc.events if e["status"] == "started" and e["trigger"] == "drift"]
    assert len(storm) == 12 and len({e["data_version"] for e in storm}) == 1
    assert all(25 * MIN <= b["ts"] - a["ts"] <= 35 * MIN for a, b in pairwise(storm))
    nightly = [e for e in sc.events if e["status"] == "started" and e["trigger"] == "schedule"]
    assert storm[0]["data_version"] in {e["data_version"] for e in nightly}
    (t,) = sc.truth
    assert t["start"] == storm[0]["ts"] and t["goal_s"] == 60 * MIN
    ctl = build("loop13_drift_monitor_control", 1)
    runs = [e for e in ctl.events if e["status"] == "started" and e["trigger"] == "drift"]
    assert len(runs) == 3 and len({e["data_version"] for e in runs}) == 3 and not ctl.truth
