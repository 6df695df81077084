"""The ninth round of probe generators (bench/probe_scenarios.py, "probe round 9": hourly batch scoring on GPUs
that hold their model in between, an endpoint with bursty nights, month-end reporting days, weekday office-hours
spend without rows otherwise, a nightly job that fails one night in four, observation batches delivered twice, a
one-off purchase row): deterministic per seed, contract-valid, sorted (but for ``obs_redelivered_batches`` as
delivered), truths consistent with the events, and each stream has the shape its docstring claims. The detectors'
results are not checked here. ``SMALL9`` holds a cheap member of each new generator; the coverage test of
test_probe_scenarios.py reads it too."""

from __future__ import annotations

import calendar
import json
import time
from collections import defaultdict
from itertools import pairwise

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build
from spendwatch.events import validate
from tests.bench.probe_checks import assert_a_valid_scenario, digest, quiet_spells

SMALL9: dict[str, dict[str, object]] = {
    "gpu_hourly_batch_inference_stop": {"days": 1.0, "gpus": 2, "stop_day": 0.0, "stop_at_h": 14.0, "step_s": 60.0},
    "gpu_bursty_endpoint_stop": {"days": 1.7, "replicas": 1, "stop_day": 1.0, "stop_h": 1.0, "step_s": 60.0},
    "bill_month_end_x5_mid": {},
    "bill_weekdays_only_x3": {"weeks": 2, "spike_week": 1},
    "loop_flaky_nightly": {"nights": 8},
    "obs_redelivered_batches_shift": {"days": 0.2, "at_day": 0.1, "every_s": 60.0, "share": 0.3},
    "bill_one_off_purchase_again": {"days": 32},
}
NEW = {"gpu_hourly_batch_inference", "gpu_bursty_endpoint", "bill_month_end", "bill_weekdays_only",
       "loop_flaky_nightly", "obs_redelivered_batches", "bill_one_off_purchase"}


def _sorted_small(name: str) -> dict[str, object]:
    return dict(SMALL9[name], as_delivered=False) if name.startswith("obs_redelivered") else SMALL9[name]


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL9} == NEW


@pytest.mark.parametrize("name", sorted(SMALL9))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, _sorted_small(name))


def test_hourly_batches_leave_48_52_min_gaps_holding_memory_and_the_stop_is_one_3h_spell() -> None:
    sc = build("gpu_hourly_batch_inference_stop", 1, SMALL9["gpu_hourly_batch_inference_stop"])
    assert len(sc.truth) == 2
    for t in sc.truth:
        spells = [(a, b) for a, b in quiet_spells(sc.events, t["resource"]) if a > T0 + 30 * MIN]
        long = [(a, b) for a, b in spells if b - a > HOUR]
        assert len(long) == 1 and abs(long[0][0] - t["start"]) < 2 * MIN and abs(long[0][1] - t["end"]) < 2 * MIN
        routine = [b - a for a, b in spells if b - a <= HOUR and b < t["start"]]
        assert routine and all(46 * MIN <= g <= 54 * MIN for g in routine)  # 47-53 min, +-1 sample
    assert all(e["mem_used_bytes"] > 0.5 * e["mem_total_bytes"] for e in sc.events)


def test_bursty_endpoint_quiet_only_at_night_under_45_min_and_busy_all_day() -> None:
    sc = build("gpu_bursty_endpoint_stop", 1, SMALL9["gpu_bursty_endpoint_stop"])
    (t,) = sc.truth
    spells = quiet_spells(sc.events, t["resource"])
    night = [(a, b) for a, b in spells if not t["start"] - 60 <= a <= t["start"] + 60]
    assert len(night) > 20 and max(b - a for a, b in night) <= 46 * MIN
    for a, _ in night:
        h = (a % DAY) / HOUR
        assert h >= 21.9 or h < 7.2


def test_month_end_days_are_x5_and_the_first_is_ambiguous() -> None:
    sc = build("bill_month_end_x5_mid", 1)
    by_day = {e["period_start"]: e["cost_usd"] for e in sc.events}
    def last_two(t: float) -> bool:
        g = time.gmtime(t)
        return g.tm_mday > calendar.monthrange(g.tm_year, g.tm_mon)[1] - 2
    ends = [k for k in by_day if last_two(k)]
    assert len(ends) == 8
    amb, mid = sc.truth
    assert amb["ambiguous"] and amb["start"] == min(ends) and mid["goal_s"] == DAY + 10 * HOUR
    assert by_day[mid["start"]] > 3 * by_day[mid["start"] - DAY]


def test_weekdays_only_rows_only_weekdays_8_to_20() -> None:
    sc = build("bill_weekdays_only_x3", 1, SMALL9["bill_weekdays_only_x3"])
    for e in sc.events:
        g = time.gmtime(e["period_start"])
        assert g.tm_wday < 5 and 8 <= g.tm_hour < 20 and e["cost_usd"] > 0
    (t,) = sc.truth
    assert time.gmtime(t["start"]).tm_wday == 2 and t["end"] - t["start"] == 4 * HOUR


def test_flaky_nightly_one_failure_a_bad_night_then_a_retry_on_the_same_data_within_30_min() -> None:
    sc = build("loop_flaky_nightly", 1, SMALL9["loop_flaky_nightly"])
    ends = [e for e in sc.events if e["status"] != "started"]
    fails = [e for e in ends if e["status"] == "failed"]
    assert len(fails) == 2 and not sc.truth
    for f in fails:
        nxt = min((e for e in ends if e["ts"] > f["ts"]), key=lambda e: e["ts"])
        assert nxt["status"] == "succeeded" and nxt["trigger"] == "retry" and nxt["data_version"] == f["data_version"]
        assert nxt["ts"] - f["ts"] <= 30 * MIN
    assert len({e["data_version"] for e in ends if e["status"] == "succeeded"}) == 8


def test_redelivered_batches_are_exact_copies_up_to_60_s_behind() -> None:
    small = SMALL9["obs_redelivered_batches_shift"]
    sc = build("obs_redelivered_batches_shift", 1, small)
    assert sc.ordered and digest(sc) == digest(build("obs_redelivered_batches_shift", 1, small))
    for e in sc.events:
        validate(json.loads(json.dumps(e)))
    seen: dict[str, int] = defaultdict(int)
    for e in sc.events:
        seen[json.dumps(e, sort_keys=True)] += 1
    assert max(seen.values()) == 2 and sum(v == 2 for v in seen.values()) > 0.15 * len(seen)
    lag = max(x["ts"] - y["ts"] for x, y in pairwise(sc.events))
    assert 0 < lag <= 60


def test_purchase_rows_x30_their_own_sku_and_charge_category() -> None:
    sc = build("bill_one_off_purchase_again", 1, SMALL9["bill_one_off_purchase_again"])
    buys = [e for e in sc.events if e.get("charge_category") == "purchase"]
    usage = [e["cost_usd"] for e in sc.events if e.get("charge_category") == "usage"]
    assert len(buys) == 2 == len(sc.truth) and buys[1]["period_start"] - buys[0]["period_start"] == 9 * DAY
    assert {e["sku"] for e in buys} == {"capacity-block-purchase"}
    assert all(25 * sorted(usage)[len(usage) // 2] < e["cost_usd"] for e in buys)
