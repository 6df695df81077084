"""The twelfth round of probe generators (bench/probe_scenarios.py, "probe round 12": a saving lost after two
(or four) weeks, a three-day sale x4 and a weekly Friday promo x2, a driver reset that leaves pods attributed with
no memory and a rolling restart, a load balancer rotating traffic over two of four replicas (and a replica it
stops sending to), a sensor feature stuck at its median, a 3 h crash loop and a nightly job that fails three
times before it succeeds): deterministic per seed, contract-valid, sorted, truths consistent with the events,
and each stream has the shape its docstring claims. The detectors' results are not checked here. ``SMALL12``
holds a cheap member of each new generator; the coverage test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

import time
from collections import defaultdict
from itertools import pairwise

import numpy as np
import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build
from tests.bench.probe_checks import assert_a_valid_scenario

SMALL12: dict[str, dict[str, object]] = {
    "bill_saving_lost": {"weeks": 3, "save_day": 5.0, "lost_day": 12.0},
    "bill_sale_weekly_promo": {"weeks": 2},
    "gpu_memory_released_pod_kept": {"days": 0.5, "at_day": 0, "at_h": 4.0, "reset_h": 1.0, "gpus": 2,
                                     "step_s": 60.0},
    "gpu_lb_alternating_replicas_dead": {"days": 0.5, "dead_day": 0.25, "step_s": 120.0},
    "drift_stuck_sensor": {"days": 0.3, "at_day": 0.2, "every_s": 300.0},
    "loop_retry_storm_long": {"hours": 0.5},
}
NEW = {"bill_saving_lost", "bill_sale_event", "gpu_memory_released_pod_kept", "gpu_lb_alternating_replicas",
       "drift_stuck_sensor", "loop_retry_storm_long"}


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL12} == NEW


@pytest.mark.parametrize("name", sorted(SMALL12))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL12[name])


def _by_period(name: str, **kw: object) -> dict[float, float]:
    return {e["period_start"]: e["cost_usd"] for e in build(name, 1, kw).events}


def _sum(c: dict[float, float], d0: float, d1: float) -> float:
    return sum(v for t, v in c.items() if T0 + d0 * DAY <= t < T0 + d1 * DAY)


@pytest.mark.parametrize(("name", "lost"), [("bill_saving_lost", 30.0), ("bill_saving_lost_day45", 45.0),
                                            ("bill_saving_kept", None)])
def test_saving_halves_from_day_16_and_is_lost_for_good(name: str, lost: float | None) -> None:
    c = _by_period(name)
    old = _sum(c, 0, 14) / 14
    assert 0.4 < _sum(c, 17, 29) / 12 / old < 0.6
    sc = build(name, 1)
    if lost is None:
        assert not sc.truth and 0.4 < _sum(c, 31, 42) / 11 / old < 0.6
        return
    (t,) = sc.truth
    assert t["start"] == T0 + lost * DAY + 10 * HOUR and "goal_s" not in t
    assert 0.85 < _sum(c, lost + 1, lost + 8) / 7 / old < 1.15
    assert 0.4 < _sum(c, lost - 12, lost) / 12 / old < 0.6  # more than two (four) weeks at the saving


def test_sale_is_three_days_x4_and_the_promo_is_every_friday_x2() -> None:
    c = _by_period("bill_sale_event")
    (t,) = build("bill_sale_event", 1).truth
    assert time.gmtime(t["start"]).tm_wday == 4 and t["end"] - t["start"] == 3 * DAY and t["goal_s"] == 2 * HOUR
    assert 3.2 < _sum(c, 32, 35) / _sum(c, 25, 28) < 4.8
    p = _by_period("bill_sale_weekly_promo")
    for k in range(6):
        assert 1.6 < _sum(p, 7 * k + 4, 7 * k + 5) / _sum(p, 7 * k + 3, 7 * k + 4) < 2.5
    tr = build("bill_sale_weekly_promo", 1).truth
    assert [x["start"] for x in tr] == [T0 + 4 * DAY, T0 + 11 * DAY] and all(x["ambiguous"] for x in tr)


def test_driver_reset_keeps_the_pod_with_no_memory_and_the_rolling_restart_is_one_gpu_at_a_time() -> None:
    sc = build("gpu_memory_released_pod_kept", 1, {"days": 2.0, "step_s": 60.0})
    assert len(sc.truth) == 8
    for t in sc.truth:
        inside = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + 60 < e["ts"] < t["end"]]
        assert inside and all(e["mem_used_bytes"] == 0 and e["util_gpu_pct"] == 0 and not e["processes"]
                              and e["workload"]["id"] == t["workload"] for e in inside)
        assert t["start"] == T0 + DAY + 14 * HOUR and t["end"] - t["start"] == 3 * HOUR and t["goal_s"] == 20 * MIN
    sc = build("gpu_memory_released_rolling_restart", 1, {"days": 2.0, "step_s": 30.0})
    assert not sc.truth
    empty: dict[str, list[float]] = defaultdict(list)
    for e in sc.events:
        if e["mem_used_bytes"] == 0:
            empty[e["gpu_uuid"]].append(e["ts"])
    spans = sorted((min(v), max(v)) for v in empty.values())
    assert len(spans) == 8 and all(60 <= b - a <= 4 * MIN for a, b in spans)
    assert all(b0 < a1 for (_, b0), (a1, _) in pairwise(spans))


def _active(sc_name: str, **kw: object) -> tuple[list[str], dict[int, set[str]]]:
    sc = build(sc_name, 1, kw)
    on: dict[int, set[str]] = defaultdict(set)
    uu = sorted({e["gpu_uuid"] for e in sc.events})
    for e in sc.events:
        mid = e["ts"] - e["interval_s"] / 2 - T0  # the sample's midpoint, 0.05-1.5 s late
        k = int(mid // (30 * MIN))
        if e["util_gpu_pct"] > 2 and 2 < mid % (30 * MIN) < 30 * MIN - 2:
            on[k].add(e["gpu_uuid"])
    return uu, on


def test_lb_sends_each_window_to_two_replicas_and_idle_spells_are_30_to_60_min() -> None:
    uu, on = _active("gpu_lb_alternating_replicas", days=2.0)
    ks = range(1, 95)
    assert all(len(on[k]) == 2 for k in ks)
    for u in uu:
        idle = [u not in on[k] for k in ks]
        assert not any(a and b and c for a, b, c in zip(idle, idle[1:], idle[2:], strict=False))
        assert any(a and b for a, b in pairwise(idle))  # some 60 min spells
    sc = build("gpu_lb_alternating_replicas_dead", 1)
    (t,) = sc.truth
    assert t["goal_s"] == 120 * MIN and t["start"] <= T0 + 2 * DAY
    late = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and e["ts"] > t["start"] + 60]
    assert late and all(e["util_gpu_pct"] == 0 and e["mem_used_bytes"] > 0 for e in late)


def test_stuck_sensor_is_its_median_for_every_value_after_day_2_12h() -> None:
    sc = build("drift_stuck_sensor", 1, {"days": 3.0, "every_s": 600.0})
    (t,) = sc.truth
    assert t["start"] == T0 + 2.5 * DAY and t["goal_s"] == 30 * MIN
    pre = np.concatenate([e["values"]["temp_c"] for e in sc.events if e["ts"] < t["start"]])
    post = np.concatenate([e["values"]["temp_c"] for e in sc.events if e["ts"] >= t["start"]])
    assert abs(np.median(pre) - 40.0) < 0.3 and 4 < pre.std() < 6 and (post == 40.0).all()
    ctl = build("drift_stuck_sensor_control", 1, {"days": 3.0, "every_s": 600.0})
    assert not ctl.truth
    errs = np.concatenate([e["values"]["errors"] for e in ctl.events])
    assert (errs == np.round(errs)).all() and 2.5 < errs.mean() < 3.5


def test_retry_storm_is_every_3_min_for_3_h_and_the_nightly_fails_three_times_then_succeeds() -> None:
    sc = build("loop_retry_storm_long", 1)
    starts = sorted(e["ts"] for e in sc.events if e["status"] == "started")
    assert all(e["status"] in ("started", "failed") for e in sc.events)
    assert 55 <= len(starts) <= 65 and all(150 <= b - a <= 210 for a, b in pairwise(starts))
    (t,) = sc.truth
    assert t["goal_s"] == 20 * MIN and 2.9 * HOUR < t["end"] - t["start"] < 3.1 * HOUR
    sc = build("loop_retry_storm_nightly", 1)
    assert not sc.truth
    nights: dict[int, list[dict[str, object]]] = defaultdict(list)
    for e in sc.events:
        if e["status"] != "started":
            nights[int((e["ts"] - T0) // DAY)].append(e)
    assert len(nights) == 14
    for ends in nights.values():
        assert [e["status"] for e in ends] == ["failed"] * 3 + ["succeeded"]
        assert float(ends[2]["ts"]) - float(ends[0]["started_at"]) < 10 * MIN  # type: ignore[arg-type]
