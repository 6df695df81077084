"""The probe-scenario generator (bench/probe_scenarios.py): deterministic per seed, every event valid under
the contract's validation, sorted by ts, and truths consistent with the events. The detectors' results are
not checked here: the probe's findings are its output, not a pass/fail condition."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from bench.probe_scenarios import REGISTRY, Scenario, build, score
from tests.bench.probe_checks import assert_a_valid_scenario

# a cheap member of every generator (small overrides keep the test fast; the full set is run by the script)
SMALL: dict[str, dict[str, object]] = {
    "cadence_jitter": {}, "cadence_missing": {}, "cadence_no_price": {}, "cadence_util_only": {},
    "training_idle_20m": {"busy_days": 0.5, "gpus": 2}, "batch_idle_60m": {"days": 1.0, "gpus": 2},
    "straggler_20m": {"ranks": 4}, "endpoint_quiet_6h": {"days": 0.5, "quiet_h": 1.0},
    "notebook_blip_6h": {"idle_h": 2.0}, "mig_idle_2h": {"idle_h": 0.5}, "time_sliced_3pods": {},
    "spike_x3_1h": {"days": 8.0}, "step_x2": {"days": 14.0}, "late_0_3h_x5": {"days": 8.0}, "daily_x4": {},
    "periodic_square_5min": {"days": 2.0}, "business_hours": {"days": 8.0}, "weekly_rollup_hour": {"days": 14.0},
    "lognormal_1": {"days": 4.0}, "month_start_once": {}, "newcomer_first_days": {},
    "llm_stream_x6_2h": {"days": 4.0, "rows_per_hour": 6}, "skus_egress_x10": {"days": 6.0},
    "zero_rows_and_credits": {"days": 11.0}, "price_change_x2_rename": {"days": 8.0}, "crash_loop_30m": {},
    "rerun_loop_120m": {}, "healthy_hourly": {"days": 1.0}, "healthy_nightly": {"days": 4.0},
    "drift_b10_60s": {"hours": 8.0, "at_h": 4.0}, "drift_b200_15m": {"hours": 12.0, "at_h": 6.0},
    "nodrift_daily_cycle": {"days": 0.5, "amps": "1"}, "nodrift_tails_const": {"days": 0.25},
}


def _digest(sc: Scenario) -> str:
    return hashlib.sha256(json.dumps([sc.events, sc.truth], sort_keys=True).encode()).hexdigest()


def test_every_generator_has_a_small_case() -> None:
    generators = {fn.__name__ for fn, _ in REGISTRY.values()}
    from tests.bench.test_probe_scenarios2 import SMALL2  # the second round's cheap cases
    from tests.bench.test_probe_scenarios3 import SMALL3  # the third round's
    from tests.bench.test_probe_scenarios4 import SMALL4  # the fourth round's
    from tests.bench.test_probe_scenarios5 import SMALL5  # the fifth round's
    from tests.bench.test_probe_scenarios6 import SMALL6  # the sixth round's
    from tests.bench.test_probe_scenarios7 import SMALL7  # the seventh round's
    from tests.bench.test_probe_scenarios8 import SMALL8  # the eighth round's
    from tests.bench.test_probe_scenarios9 import SMALL9  # the ninth round's
    from tests.bench.test_probe_scenarios10 import SMALL10  # the tenth round's
    from tests.bench.test_probe_scenarios11 import SMALL11  # the eleventh round's
    from tests.bench.test_probe_scenarios12 import SMALL12  # the twelfth round's
    from tests.bench.test_probe_scenarios13_gpu import SMALL13_GPU  # the thirteenth round's, in two modules
    from tests.bench.test_probe_scenarios13_spend import SMALL13_SPEND

    rounds = {**SMALL, **SMALL2, **SMALL3, **SMALL4, **SMALL5, **SMALL6, **SMALL7, **SMALL8, **SMALL9, **SMALL10,
              **SMALL11, **SMALL12, **SMALL13_GPU, **SMALL13_SPEND}
    covered = {REGISTRY[n][0].__name__ for n in rounds}
    assert generators == covered
    assert set(SMALL) <= set(REGISTRY)


@pytest.mark.parametrize("name", ["cadence_missing", "batch_idle_60m", "late_0_3h_x5", "drift_b10_60s",
                                  "crash_loop_30m"])
def test_deterministic_per_seed(name: str) -> None:
    small = SMALL[name]
    a, b, c = build(name, 3, small), build(name, 3, small), build(name, 4, small)
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_events_are_contract_valid_sorted_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL[name])


def test_idle_truth_covers_the_quiet_samples_only() -> None:
    sc = build("straggler_20m", 1, SMALL["straggler_20m"])
    (t,) = sc.truth
    mine = [e for e in sc.events if e["gpu_uuid"] == t["resource"]]
    inside = [e for e in mine if t["start"] + 60 <= e["ts"] - e["interval_s"] and e["ts"] <= t["end"]]
    outside = [e for e in mine if e["ts"] < t["start"] - 60 or e["ts"] - e["interval_s"] > t["end"] + 60]
    assert inside and all(e["sm_active_pct"] < 1 for e in inside)
    assert sum(e["sm_active_pct"] > 2 for e in outside) > 0.8 * len(outside)  # busy but for checkpoint pauses


def test_spike_truth_matches_the_excess_in_the_rows() -> None:
    sc = build("spike_x10_1h", 1, {"days": 8.0, "sigma": 0.0, "amp": 0.0})
    (t,) = sc.truth
    inside = [e["cost_usd"] for e in sc.events if t["start"] <= e["period_start"] < t["end"]]
    before = [e["cost_usd"] for e in sc.events if e["period_start"] < t["start"]]
    assert inside and min(inside) == pytest.approx(10 * max(before))


def test_scorer_counts_true_false_duplicate_and_reopen() -> None:
    sc = build("crash_loop_30m", 1)
    (t,) = sc.truth
    wid = t["workload"]

    def a(aid: str, state: str, det: float, resource: str = "asr-xl") -> dict[str, object]:
        return {"id": aid, "kind": "retrain_loop", "state": state, "resource": resource, "workload": {"id": wid},
                "started_at": det, "detected_at": det, "waste_usd": 1.0, "evidence": {"runs": 3}}
    anomalies = [a("x", "open", t["start"] + 1800), a("x", "resolved", t["start"] + 3600),
                 a("x", "open", t["start"] + 4000), a("y", "open", t["start"] + 5000),
                 a("z", "open", t["start"] - 7200, resource="other")]
    row, findings = score(copy.deepcopy(sc), anomalies)  # type: ignore[arg-type]
    assert (row["tp"], row["fn"], row["fp"], row["dup"], row["reopen"]) == (1, 0, 1, 1, 1)
    assert row["delays_min"] == [30.0]
    assert {f["finding"] for f in findings} == {"false_open", "duplicate", "reopen"}
    row, findings = score(sc, [])
    assert (row["tp"], row["fn"]) == (0, 1) and findings[0]["finding"] == "miss"
