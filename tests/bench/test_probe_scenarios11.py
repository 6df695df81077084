"""The eleventh round of probe generators (bench/probe_scenarios.py, "probe round 11": a holiday week at 30 % and
the return from it, office hours in US/Eastern across the DST change, forty series of fractions of a cent, 3 % a
day compounding growth, a two-segment feature whose mix follows the hour of day, an upstream unit change and an
all-sentinel feature, a canary rollout 5 % -> 100 %, observation batches up to 5 min out of order):
deterministic per seed, contract-valid, sorted (but for ``obs_out_of_order`` as delivered), truths consistent with
the events, and each stream has the shape its docstring claims. The detectors' results are not checked here.
``SMALL11`` holds a cheap member of each new generator; the coverage test of test_probe_scenarios.py reads it
too."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest

from bench.probe_scenarios import DAY, DST_2026, HOUR, MIN, REGISTRY, T0, build
from spendwatch.events import validate
from tests.bench.probe_checks import assert_a_valid_scenario, digest

SMALL11: dict[str, dict[str, object]] = {
    "bill_holiday_dip_x3": {},
    "bill_dst_shift_x3": {},
    "bill_tiny_series": {"n": 5, "days": 8.0, "jumpers": 2, "big_day": 6.0},
    "bill_compound_growth_step_x2": {"weeks": 2, "step_day": 10.0},
    "drift_segment_mix_third": {"days": 1.0, "at_day": 0.5, "at_h": 0.0, "every_s": 300.0},
    "drift_unit_change_ms": {"days": 0.5, "at_day": 0.25, "every_s": 300.0},
    "drift_canary_rollout": {"days": 0.6, "at_day": 0.0, "at_h": 3.0, "every_s": 120.0},
    "obs_out_of_order_shift": {"days": 0.2, "at_day": 0.1, "as_delivered": False},
}
NEW = {"bill_holiday_dip", "bill_dst_shift", "bill_tiny_series", "bill_compound_growth", "drift_segment_mix",
       "drift_unit_change", "drift_canary_rollout", "obs_out_of_order"}


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL11} == NEW


@pytest.mark.parametrize("name", sorted(SMALL11))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL11[name])


def _by_period(name: str, **kw: object) -> dict[float, float]:
    sc = build(name, 1, kw)
    return {e["period_start"]: e["cost_usd"] for e in sc.events}


def test_holiday_week_is_30_pct_then_back_and_the_spike_is_the_tuesday_after() -> None:
    c = _by_period("bill_holiday_dip_x3")
    assert len(c) == 6 * 7 * 24

    def week(k: int) -> float:
        return sum(v for t, v in c.items() if T0 + 7 * k * DAY <= t < T0 + 7 * (k + 1) * DAY)
    assert 0.25 < week(3) / week(2) < 0.35 and 0.8 < week(5) / week(2) < 1.25
    (t,) = build("bill_holiday_dip_x3", 1).truth
    assert t["start"] == T0 + 29 * DAY + 14 * HOUR and time.gmtime(t["start"]).tm_wday == 1
    assert c[t["start"]] > 2 * c[t["start"] - DAY]


def test_dst_moves_the_busy_utc_hours_by_one() -> None:
    c = _by_period("bill_dst_shift")
    busy: dict[bool, set[int]] = defaultdict(set)
    for ps, v in c.items():
        if v > 15 and time.gmtime(ps).tm_wday < 5:
            busy[ps >= DST_2026].add(time.gmtime(ps).tm_hour)
    assert busy[False] == set(range(14, 22)) and busy[True] == set(range(13, 21))
    assert time.gmtime(DST_2026)[:5] == (2026, 3, 8, 7, 0) and min(c) == T0 - 14 * DAY
    (t,) = build("bill_dst_shift_x3", 1).truth
    assert time.gmtime(t["start"])[:4] == (2026, 3, 19, 15) and t["end"] - t["start"] == 4 * HOUR


def test_tiny_series_x10_hours_add_under_a_dollar_and_the_big_one_is_x10() -> None:
    sc = build("bill_tiny_series", 1)
    per: dict[str, list[float]] = defaultdict(list)
    for e in sc.events:
        per[e["workload"]["id"]].append(e["cost_usd"])
    assert len(per) == 41
    tiny = [v for k, v in per.items() if k.startswith("dev-tools/")]
    assert all(np.median(v) < 0.06 for v in tiny) and all(max(v) < 1.5 for v in tiny)
    (t,) = sc.truth
    big = {e["period_start"]: e["cost_usd"] for e in sc.events if e["workload"]["id"] == t["workload"]}
    assert big[t["start"]] > 5 * big[t["start"] - DAY] and t["end"] - t["start"] == 2 * HOUR


def test_compound_growth_is_about_3_pct_a_day_and_the_step_stays() -> None:
    c = _by_period("bill_compound_growth")
    days = [sum(v for t, v in c.items() if T0 + d * DAY <= t < T0 + (d + 1) * DAY) for d in range(42)]
    rate = np.exp(np.polyfit(np.arange(42), np.log(days), 1)[0]) - 1
    assert 0.025 < rate < 0.035
    s = _by_period("bill_compound_growth_step_x2")
    after = [s[t] / c[t] for t in s if t >= T0 + 30 * DAY + 10 * HOUR]
    assert 1.5 < float(np.median(after)) < 2.6  # own noise draws, so a ratio of two noisy series


def test_segment_mix_shares_follow_the_hour_and_the_weekend_and_the_third_segment_appears() -> None:
    sc = build("drift_segment_mix", 1, {"days": 7.0, "every_s": 600.0})
    share: dict[tuple[bool, int], list[float]] = defaultdict(list)
    for e in sc.events:
        x = np.array(e["values"]["session_s"])
        share[(time.gmtime(e["ts"]).tm_wday >= 5, time.gmtime(e["ts"]).tm_hour)].append(float((x < 45).mean()))
    assert np.mean(share[(False, 9)]) < 0.3 and np.mean(share[(False, 21)]) > 0.6
    assert np.mean(share[(True, 15)]) > 0.7 and np.mean(share[(True, 3)]) > 0.35
    amb = sc.truth[0]
    assert amb["ambiguous"] and amb["start"] == T0 + 5 * DAY
    sc = build("drift_segment_mix_third", 1, SMALL11["drift_segment_mix_third"])
    (t,) = sc.truth
    hi = [float((np.array(e["values"]["session_s"]) > 95).mean()) for e in sc.events]
    before = [h for h, e in zip(hi, sc.events, strict=True) if e["ts"] < t["start"]]
    after = [h for h, e in zip(hi, sc.events, strict=True) if e["ts"] >= t["start"]]
    assert max(before) == 0.0 and 0.05 < np.mean(after) < 0.15


def test_unit_change_is_x1000_and_the_sentinel_is_every_value() -> None:
    small = SMALL11["drift_unit_change_ms"]
    for name, feat in (("drift_unit_change_ms", "latency_s"), ("drift_unit_change_sentinel", "payload_kb")):
        sc = build(name, 1, small)
        (t,) = sc.truth
        assert t["goal_s"] == 10 * MIN
        pre = np.concatenate([e["values"][feat] for e in sc.events if e["ts"] < t["start"]])
        post = np.concatenate([e["values"][feat] for e in sc.events if e["ts"] >= t["start"]])
        if feat == "latency_s":
            assert pre.max() < 5 and 500 < np.median(post) / np.median(pre) < 2000
        else:
            assert (pre > 0).all() and (post == -1).all()
    assert not build("drift_unit_change_control", 1, small).truth


def test_canary_shares_step_5_25_50_100_pct_every_2_h() -> None:
    sc = build("drift_canary_rollout", 1, {"days": 1.6, "at_day": 1.0, "at_h": 3.0, "every_s": 30.0, "batch": 50})
    (t,) = sc.truth
    for k, p in enumerate((0.05, 0.25, 0.5, 1.0)):  # each step's window against the same hours a day before
        a = t["start"] + k * 2 * HOUR
        now = np.concatenate([e["values"]["basket_usd"] for e in sc.events if a <= e["ts"] < a + 2 * HOUR])
        ref = np.concatenate([e["values"]["basket_usd"] for e in sc.events if a - DAY <= e["ts"] < a - DAY + 2 * HOUR])
        assert abs(now.mean() - ref.mean() - 30 * p) < 1.5, (k, now.mean(), ref.mean())


def test_out_of_order_batches_arrive_up_to_5_min_late_and_sorted_when_asked() -> None:
    small = {"days": 0.2, "at_day": 0.1}
    sc = build("obs_out_of_order_shift", 1, small)
    assert sc.ordered and digest(sc) == digest(build("obs_out_of_order_shift", 1, small))
    for e in sc.events:
        validate(json.loads(json.dumps(e)))
    back = [x["ts"] - y["ts"] for x, y in pairwise(sc.events)]
    assert 0 < max(back) <= 300 and sum(b > 0 for b in back) > 0.2 * len(back)
    srt = build("obs_out_of_order_shift", 1, dict(small, as_delivered=False))
    assert sorted(e["ts"] for e in sc.events) == [e["ts"] for e in srt.events]
