"""The fleet simulator: reproducible, valid, sorted, and its injected problems are what it says."""

from __future__ import annotations

from collections import Counter
from functools import cache

import orjson
import pytest

from collectors.simulate import DAY, INJECTIONS, SimConfig, Simulation, parse_inject, simulate
from detectors.engine import Engine
from detectors.idle_gpu import IdleGpuDetector
from spendwatch.errors import BadEvent
from spendwatch.events import decode

CFG = SimConfig(hours=8, gpus=16, seed=3, billing_days=3)


@cache
def _sim(cfg: SimConfig = CFG) -> Simulation:
    return simulate(cfg)


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    a = b"".join(simulate(SimConfig(hours=2, gpus=8, seed=9, billing_days=1)).chunks())
    b = b"".join(simulate(SimConfig(hours=2, gpus=8, seed=9, billing_days=1)).chunks())
    c = b"".join(simulate(SimConfig(hours=2, gpus=8, seed=10, billing_days=1)).chunks())
    assert a == b and a != c


def test_every_line_is_a_valid_event_sorted_by_ts_and_counted() -> None:
    sim = _sim()
    events = [decode(line) for line in sim.lines]
    ts = [e["ts"] for e in events]
    assert ts == sorted(ts)
    assert Counter(e["type"] for e in events) == sim.counts
    assert len(events) == sim.total_lines


def test_gpu_fleet_shape_mig_and_interval() -> None:
    sim = simulate(SimConfig(hours=1, gpus=24, seed=1, billing_days=0, interval_s=30))
    samples = [orjson.loads(x) for x in sim.lines if x.startswith(b'{"type":"gpu_sample"')]
    assert {s["interval_s"] for s in samples} == {30}
    gpus = {s["gpu_uuid"] for s in samples}
    migs = {s["mig_uuid"] for s in samples if s["mig_uuid"]}
    assert len(gpus) == 24 and len(migs) == 6  # two GPUs split into three slices each
    assert {s["mig_profile"] for s in samples if s["mig_uuid"]} == {"3g.40gb", "2g.20gb"}
    mig_prices = {s["mig_profile"]: s["price_per_hour_usd"] for s in samples if s["mig_uuid"]}
    assert mig_prices["2g.20gb"] == pytest.approx(3.90 * 2 / 7, abs=1e-3)
    assert any(s["price_per_hour_usd"] is None for s in samples)  # some exporters do not know the price
    # the inference pool (third node) runs plain NVML: no SM activity there
    assert any(s["sm_active_pct"] is None for s in samples) and any(s["sm_active_pct"] for s in samples)
    assert len({s["node"] for s in samples}) == 3


def test_billing_starts_billing_days_before_and_llm_spend_has_two_rows_per_period() -> None:
    sim = _sim()
    rows = [orjson.loads(x) for x in sim.lines if x.startswith(b'{"type":"billing_delta"')]
    assert min(r["period_start"] for r in rows) == CFG.start - 3 * DAY
    llm = Counter(r["period_start"] for r in rows if r["workload"]["id"] == "support/agent-assist")
    assert set(llm.values()) == {2}
    assert {r["sku"] for r in rows if r["workload"]["id"] == "support/agent-assist"} == {"input-tokens",
                                                                                         "output-tokens"}


def test_truth_lists_each_injection_inside_the_window() -> None:
    sim = _sim()
    # the endpoint injections take replicas of an inference node: a 16-GPU fleet has none
    assert {t["kind"] for t in sim.truth} == set(INJECTIONS) - {"underused_endpoint", "batch_on_realtime"}
    bigger = {t["kind"] for t in _sim(SimConfig(hours=2, gpus=24, seed=3, billing_days=1)).truth}
    assert {"underused_endpoint", "batch_on_realtime"} <= bigger
    for t in sim.truth:
        assert CFG.start <= t["start"] < t["end"] <= CFG.end, t
        assert t["expected_kinds"]
        if t["kind"] in ("idle", "hoarding", "busywait", "unallocated"):
            assert t["resource"].startswith(("GPU-", "MIG-")) and t["expected_waste_usd"] > 0
    doc = sim.truth_document()
    assert doc["truth"] == sim.truth and doc["seed"] == 3


def test_injected_gpu_problems_are_caught_with_the_right_waste() -> None:
    sim = _sim()
    out = Engine(detector_classes=[IdleGpuDetector]).process_many(decode(x) for x in sim.lines)
    latest = {a["id"]: a for a in out}
    for t in (t for t in sim.truth if "price_per_hour_usd" in t):
        hits = [a for a in latest.values() if a["resource"] == t["resource"] and a["kind"] in t["expected_kinds"]]
        assert len(hits) == 1, t
        assert hits[0]["waste_usd"] == pytest.approx(t["expected_waste_usd"], rel=0.1)
        assert (hits[0]["workload"] or {}).get("id") == t["workload"]
    assert len(latest) == sum(1 for t in sim.truth if "price_per_hour_usd" in t)  # and nothing else


def test_a_clean_fleet_raises_nothing() -> None:
    sim = simulate(SimConfig(hours=10, gpus=24, seed=8, billing_days=10, inject=frozenset()))
    assert sim.truth == []
    assert Engine().process_many(decode(x) for x in sim.lines) == []


def test_bad_fraction_replaces_gpu_samples_with_malformed_lines() -> None:
    sim = simulate(SimConfig(hours=2, gpus=8, seed=2, billing_days=0, bad_fraction=0.02))
    bad = 0
    for line in sim.lines:
        try:
            decode(line)
        except BadEvent:
            bad += 1
    assert bad == sim.bad_lines > 20


def test_parse_inject() -> None:
    assert parse_inject("all") == frozenset(INJECTIONS)
    assert parse_inject("none") == frozenset()
    assert parse_inject(" idle, drift ") == {"idle", "drift"}
    with pytest.raises(ValueError, match="meteor"):
        parse_inject("idle,meteor")


def test_invalid_config_is_refused() -> None:
    for bad in ({"hours": 0}, {"gpus": 0}, {"interval_s": -1}, {"bad_fraction": 1.5}):
        with pytest.raises(ValueError):
            SimConfig(**bad)  # type: ignore[arg-type]
