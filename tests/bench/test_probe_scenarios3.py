"""The third round of probe generators (bench/probe_scenarios.py, "probe round 3": data-quality and delivery
assumptions): deterministic per seed, contract-valid (but for the samples ``gpu_null_fields`` breaks on
purpose), truths consistent with the events, and each bad delivery is the clean stream with exactly the
defect its docstring claims. The detectors' results are not checked here. ``SMALL3`` holds a cheap member of
each new generator; the coverage test of test_probe_scenarios.py reads it too."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from itertools import pairwise

import pytest

from bench.probe_scenarios import DAY, FAMILY, HOUR, MIN, REGISTRY, T0, Scenario, build
from spendwatch.events import BadEvent, validate

SMALL3: dict[str, dict[str, object]] = {
    "gpu_dup_samples": {}, "gpu_spool_flush": {}, "gpu_clock_skew": {}, "gpu_null_fields": {},
    "bill_redelivered": {"days": 8.0}, "bill_per_request_x8": {"days": 3.0, "per_hour": 30.0},
    "runs_cancelled_by_hand": {"days": 5.0}, "obs_constant_feature": {"days": 2.5, "every_s": 600.0},
}
NEW = {"gpu_dup_samples", "gpu_spool_flush", "gpu_clock_skew", "gpu_null_fields", "bill_redelivered",
       "bill_per_request", "runs_cancelled_by_hand", "obs_constant_feature"}


def _digest(sc: Scenario) -> str:
    return hashlib.sha256(json.dumps([sc.events, sc.truth], sort_keys=True).encode()).hexdigest()


def _key(e: dict[str, object]) -> str:
    return json.dumps(e, sort_keys=True)


def _pair(name: str, **kw: object) -> tuple[Scenario, Scenario]:
    small = {**SMALL3.get(name, {}), **kw}
    return build(name, 1, small), build(name + "_clean", 1, small)


def _invalid(e: dict[str, object]) -> bool:
    try:
        validate(json.loads(json.dumps(e)))
    except BadEvent:
        return True
    return False


def test_every_new_generator_is_registered_with_its_clean_twin() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL3} == NEW
    for n in REGISTRY:
        if n.endswith("_clean"):
            assert REGISTRY[n][0] is REGISTRY[n.removesuffix("_clean")][0]


@pytest.mark.parametrize("name", sorted(SMALL3))
def test_valid_deterministic_and_truth_consistent(name: str) -> None:
    sc = build(name, 1, SMALL3[name])
    assert sc.events
    assert _digest(sc) == _digest(build(name, 1, SMALL3[name]))
    assert _digest(sc) != _digest(build(name, 2, SMALL3[name]))
    invalid = [e for e in sc.events if _invalid(e)]
    if name == "gpu_null_fields":
        assert invalid and all(e.get("util_gpu_pct") is None or e.get("mem_used_bytes") is None for e in invalid)
    else:
        assert not invalid
    assert sc.ordered or all(x["ts"] <= y["ts"] for x, y in pairwise(sc.events))
    t0, t1 = min(e["ts"] for e in sc.events), max(e["ts"] for e in sc.events)
    resources = {e.get("mig_uuid") or e.get("gpu_uuid") for e in sc.events if e["type"] == "gpu_sample"}
    resources |= {e.get("model_id") for e in sc.events}
    workloads = {e["workload"]["id"] for e in sc.events if isinstance(e.get("workload"), dict)}
    for t in sc.truth:
        assert t["family"] in set(FAMILY.values())
        assert t0 - DAY <= t["start"] < t["end"] <= t1 + 3600, t
        assert t["resource"] is None or t["resource"] in resources, t
        assert t["workload"] in workloads, t


def test_dup_samples_are_the_clean_stream_plus_exact_copies_of_a_node_s_last_5_min() -> None:
    bad, clean = _pair("gpu_dup_samples")
    cb, cc = Counter(map(_key, bad.events)), Counter(map(_key, clean.events))
    assert cb.keys() == cc.keys() and all(cb[k] >= cc[k] for k in cc)
    extra = cb - cc
    assert set(extra.values()) == {2} and 0.03 * len(clean.events) < extra.total() < 0.2 * len(clean.events)
    (t,) = bad.truth
    hung = [e for e in clean.events if e["gpu_uuid"] == t["resource"]][0]["node"]
    assert any(t["start"] < json.loads(k)["ts"] < t["end"] and json.loads(k)["node"] == hung for k in extra)
    late, _ = _pair("gpu_dup_samples", as_delivered=True)
    assert Counter(map(_key, late.events)) == cb
    drops = [x["ts"] - y["ts"] for x, y in pairwise(late.events) if y["ts"] < x["ts"]]
    assert drops and max(drops) <= 5 * MIN + 5


def test_spool_flush_delivers_the_same_events_40_min_late() -> None:
    bad, clean = _pair("gpu_spool_flush")
    assert Counter(map(_key, bad.events)) == Counter(map(_key, clean.events))
    drops = [x["ts"] - y["ts"] for x, y in pairwise(bad.events) if y["ts"] < x["ts"]]
    assert len(drops) == 1 and 39 * MIN < drops[0] < 41 * MIN
    assert "NOT sorted" in bad.notes


def test_clock_skew_moves_one_node_by_90_s() -> None:
    bad, clean = _pair("gpu_clock_skew")
    (t,) = bad.truth
    node = [e for e in clean.events if e["gpu_uuid"] == t["resource"]][0]["node"]
    moved = sorted(e["ts"] for e in bad.events if e["node"] == node)
    orig = sorted(e["ts"] for e in clean.events if e["node"] == node)
    assert moved == pytest.approx([x - 90 for x in orig], abs=2e-3)
    assert sorted(e["ts"] for e in bad.events if e["node"] != node) == \
        sorted(e["ts"] for e in clean.events if e["node"] != node)


def test_null_fields_break_5_percent_and_sm_on_one_node_only() -> None:
    bad, clean = _pair("gpu_null_fields")
    assert len(bad.events) == len(clean.events)
    share = sum(map(_invalid, bad.events)) / len(bad.events)
    assert 0.04 < share < 0.06
    assert {e["node"] for e in bad.events if "sm_active_pct" in e} == {"gpu-a"}
    assert all("sm_active_pct" in e for e in clean.events)


def test_redelivered_rows_are_exact_copies_and_the_excess_is_counted_once() -> None:
    bad, clean = _pair("bill_redelivered")
    strip = Counter(_key({k: v for k, v in e.items() if k != "ts"}) for e in bad.events)
    once = Counter(_key({k: v for k, v in e.items() if k != "ts"}) for e in clean.events)
    assert strip.keys() == once.keys() and set(once.values()) == {1}
    assert Counter(strip.values()) == Counter({3: len(once) - 4, 2: 2, 1: 2})  # the last two hours: fewer exports
    (t,) = clean.truth
    spike = sum(e["cost_usd"] for e in clean.events if t["start"] <= e["period_start"] < t["end"])
    assert t["excess_usd"] == pytest.approx(spike * 0.8, abs=0.01)
    gaps = sorted({round(e["ts"] - e["period_end"]) // 3600 for e in bad.events})
    assert gaps == [0, 1, 2]


def test_per_request_rows_sum_to_the_clean_hourly_rows() -> None:
    bad, clean = _pair("bill_per_request_x8")
    assert all(e["period_end"] - e["period_start"] == MIN for e in bad.events)
    assert all(0.0005 <= e["cost_usd"] <= 0.05 for e in bad.events)
    hourly: Counter[float] = Counter()
    for e in bad.events:
        hourly[e["period_start"] - (e["period_start"] - T0) % HOUR] += e["cost_usd"]
    assert {e["period_start"]: e["cost_usd"] for e in clean.events} == pytest.approx(dict(hourly), rel=1e-4)
    (t,) = bad.truth
    assert hourly[t["start"]] > 5 * hourly[t["start"] - DAY]


def test_cancelled_runs_and_one_retry() -> None:
    bad, clean = _pair("runs_cancelled_by_hand")
    ft = [e for e in bad.events if e["model_id"] == "support-ft" and e["status"] != "started"]
    assert [e["status"] for e in ft] == ["cancelled"] * 3 + ["succeeded"]
    assert ft[-1]["started_at"] - ft[0]["started_at"] < 20 * MIN
    assert {e["trigger"] for e in ft} == {"manual"} and len({e["code_version"] for e in ft}) == 1
    nightly = [e["status"] for e in bad.events if e["model_id"] == "churn-xgb" and e["status"] != "started"]
    assert nightly.count("failed") == 1 and nightly.count("succeeded") == 5
    assert {e["status"] for e in clean.events} == {"started", "succeeded"}


def test_constant_feature_flips_and_hour_of_day_is_the_hour() -> None:
    sc = build("obs_constant_feature", 1, SMALL3["obs_constant_feature"])
    (t,) = sc.truth
    assert t["ambiguous"]
    flag = [(e["ts"], v) for e in sc.events if e["model_id"] == "m-flag" for v in e["values"]["promo_flag"]]
    assert all(v == 0.0 for ts, v in flag if ts < t["start"])
    after = [v for ts, v in flag if ts >= t["start"]]
    assert set(after) == {0.0, 1.0} and 0.01 < sum(after) / len(after) < 0.06
    for e in sc.events:
        if e["model_id"] == "m-clock":
            assert set(e["values"]["hour_of_day"]) == {float((e["ts"] % DAY) // HOUR)}
