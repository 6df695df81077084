"""The second round of probe generators (bench/probe_scenarios.py, "probe round 2"): deterministic per seed,
contract-valid, sorted, truths consistent with the events, and each stream has the shape its docstring claims.
The detectors' results are not checked here. ``SMALL2`` holds a cheap member of each new generator; the
coverage test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

import pytest

from bench.probe_scenarios import DAY, HOUR, REGISTRY, T0, build
from tests.bench.probe_checks import assert_a_valid_scenario

SMALL2: dict[str, dict[str, object]] = {
    "bill_daily_periods_x3": {"days": 20.0}, "bill_daily_periods_none": {"days": 20.0},
    "bill_sparse_batch_x10": {"days": 8.0}, "bill_spot_prices": {"days": 3.0},
    "drift_discrete_shift": {"days": 1.6, "every_s": 300.0}, "drift_sentinel": {"days": 1.6, "every_s": 300.0},
    "drift_weekend": {"every_s": 1800.0}, "loop_backoff": {}, "hpo_sweep": {},
    "idle_fractional": {"hours": 1.0},
}
NEW = {"bill_daily_periods", "bill_sparse_batch", "bill_spot_prices", "drift_discrete", "drift_sentinel",
       "drift_weekend", "loop_backoff", "hpo_sweep", "idle_fractional"}



def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL2} == NEW


@pytest.mark.parametrize("name", sorted(SMALL2))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL2[name], start_slack=2 * DAY, workload_required=True)


def test_daily_periods_are_days_landing_6_to_30h_late_and_the_x3_day_is_in_the_rows() -> None:
    sc = build("bill_daily_periods_x3", 1, {"sigma": 0.0})
    assert all(e["period_end"] - e["period_start"] == DAY for e in sc.events)
    assert all(6 * HOUR <= e["ts"] - e["period_end"] <= 30 * HOUR for e in sc.events)
    (t,) = sc.truth
    day: Counter[float] = Counter()
    for e in sc.events:
        day[e["period_start"]] += e["cost_usd"]
    assert day[t["start"]] == pytest.approx(3 * day[t["start"] - 7 * DAY])  # same weekday, noiseless


def test_sparse_batch_bills_only_while_it_runs() -> None:
    sc = build("bill_sparse_batch_x10", 1, {"days": 8.0})
    (t,) = sc.truth
    per_day = Counter(int((e["period_start"] - T0) // DAY) for e in sc.events)
    bad = int((t["start"] - T0) // DAY)
    assert all(n <= 4 for d, n in per_day.items() if d != bad)
    assert per_day[bad] >= 10
    assert len(per_day) == 8


def test_backoff_doubles_and_sweep_varies_code_only() -> None:
    ev = build("loop_backoff", 1).events
    starts = [e["ts"] for e in ev if e["status"] == "started"]
    fails = [e["ts"] for e in ev if e["status"] == "failed"]
    waits = [s - f for f, s in zip(fails, starts[1:], strict=False)]  # failure -> next retry
    assert len(starts) >= 6 and len(fails) == len(starts)
    assert waits[0] == pytest.approx(300, rel=0.11) and all(1.6 < y / x < 2.5 for x, y in pairwise(waits))
    sw = [e for e in build("hpo_sweep", 1).events if e["status"] == "succeeded"]
    assert len(sw) == 24 and len({e["code_version"] for e in sw}) == 24
    assert len({e["data_version"] for e in sw}) == 1 and {e["trigger"] for e in sw} == {"manual"}
    ts = sorted([(e["started_at"], 1) for e in sw] + [(e["ended_at"], -1) for e in sw])
    live = peak = 0
    for _, d in ts:
        live += d
        peak = max(peak, live)
    assert peak == 4


def test_idle_fractional_reports_integer_util() -> None:
    sc = build("idle_fractional", 1, {"hours": 1.0})
    idle = {t["resource"] for t in sc.truth}
    assert all(isinstance(e["util_gpu_pct"], int) and "sm_active_pct" not in e for e in sc.events)
    quiet = [e["util_gpu_pct"] for e in sc.events if e["gpu_uuid"] in idle]
    assert sum(u <= 2 for u in quiet) > 0.95 * len(quiet) and max(quiet) >= 25
    ctl = [e["util_gpu_pct"] for e in sc.events if e["gpu_uuid"] not in idle]
    assert min(ctl) >= 5 and max(ctl) <= 15
