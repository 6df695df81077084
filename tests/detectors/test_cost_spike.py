"""cost_spike on synthetic spend series: what must alert, what must not, and the bookkeeping.

Every series is hourly billing rows exported 4-15 minutes after the hour (like the collectors'
FOCUS / LLM-usage exports), fed through a real Engine that runs only the cost detector.
"""

from __future__ import annotations

import math
import pickle
import random
from collections.abc import Callable
from typing import Any

import pytest

from detectors.base import DetectorContext, EngineConfig
from detectors.cost_spike import CostConfig, CostSpikeDetector
from detectors.engine import Engine
from detectors.stats.spend_baseline import SpendBaseline, slots
from spendwatch.config import Settings
from spendwatch.prices import PriceConfig, PriceTable
from tests.factories import billing_delta

HOUR, DAY = 3600.0, 86400.0
T0 = 1_772_409_600.0  # Monday 2026-03-02 00:00 UTC

Mult = Callable[[float], float | None]


def _one(_: float) -> float:
    return 1.0


def spend_rows(wid: str, days: int, base: float, *, seed: int = 0, weekend: float = 1.0, amp: float = 0.0,
               peak: int = 14, sigma: float = 0.05, lognormal: bool = False, mult: Mult = _one,
               tokens: bool = False, model: str = "claude-sonnet-4", usd_per_token: float = 6e-6,
               start: float = T0) -> list[dict[str, Any]]:
    """Hourly billing rows of one workload: base $/h x weekly x daily cycle x noise x mult(t)."""
    r = random.Random(seed)
    workload = {"id": wid, "kind": "inference", "team": "t", "owner": "t@example.com"}
    out: list[dict[str, Any]] = []
    for h in range(days * 24):
        t = start + h * HOUR
        m = mult(t)
        if m is None:
            continue
        hod, dow = slots(t)
        noise = r.lognormvariate(-sigma * sigma / 2, sigma) if lognormal else max(0.3, r.gauss(1.0, sigma))
        cost = base * (weekend if dow >= 5 else 1.0) * (1 + amp * math.cos(2 * math.pi * (hod + 0.5 - peak) / 24))
        cost *= noise * m
        ts = t + HOUR + r.uniform(240, 900)
        common = {"period_start": t, "period_end": t + HOUR, "workload": workload}
        if tokens:
            split = r.uniform(0.35, 0.45)
            cur_model = model(t) if callable(model) else model
            price = usd_per_token(t) if callable(usd_per_token) else usd_per_token
            for sku, share in (("input-tokens", split), ("output-tokens", 1 - split)):
                out.append(billing_delta(round(ts, 3), **common, cost_usd=round(cost * share, 4), source="llm_usage",
                                         service="Anthropic API", sku=sku, resource_id="apikey-1", model=cur_model,
                                         usage_quantity=round(cost * share / price), usage_unit="tokens"))
                ts += r.uniform(0.5, 3)
        else:
            out.append(billing_delta(round(ts, 3), **common, cost_usd=round(cost, 4), source="focus",
                                     service="Amazon SageMaker", sku="ml.g5.2xlarge-hosting", resource_id="endpoint/x",
                                     usage_quantity=round(cost / 1.5, 3), usage_unit="Hrs"))
    return out


def run(events: list[dict[str, Any]], config: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    engine = Engine(Settings(sections={"cost": config or {}}), [CostSpikeDetector])
    events = sorted(events, key=lambda e: e["ts"])
    out = engine.process_many(events)
    out.extend(engine.advance(events[-1]["ts"] + 6 * HOUR) if events else [])
    return out


def opened(anomalies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """First open event of each anomaly id."""
    first: dict[str, dict[str, Any]] = {}
    for a in anomalies:
        if a["state"] == "open":
            first.setdefault(a["id"], a)
    return first


def resolved(anomalies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in anomalies if a["state"] == "resolved"]


def last_of(anomalies: list[dict[str, Any]], aid: str) -> dict[str, Any]:
    return [a for a in anomalies if a["id"] == aid][-1]


def between(a: float, b: float, m: float) -> Mult:
    return lambda t: m if a <= t < b else 1.0


# ------------------------------------------------------------------ not anomalies
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_weekly_and_daily_cycles_are_not_spikes(seed: int) -> None:
    rows = spend_rows("w/seasonal", 28, 40.0, seed=seed, weekend=0.4, amp=0.6, sigma=0.08)
    assert opened(run(rows)) == {}


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_heavy_tailed_noise_is_not_a_spike(seed: int) -> None:
    rows = spend_rows("w/spark", 28, 20.0, seed=seed, weekend=0.6, amp=0.25, sigma=0.5, lognormal=True)
    assert opened(run(rows)) == {}


def test_single_outlier_in_heavy_tails_does_not_move_the_baseline_much() -> None:
    def trained() -> SpendBaseline:
        b = SpendBaseline(HOUR)
        r = random.Random(5)
        for h in range(24 * 14):
            b.learn(T0 + h * HOUR, math.log(20.0 * r.lognormvariate(0, 0.5)))
        return b

    t = T0 + 24 * 14 * HOUR
    moved = []
    for outlier in (50.0, 1000.0):  # one 50x, one 1000x period: both are clipped to the same bounded step
        b = trained()
        before = b.expected_log(t + DAY)
        b.learn(t, math.log(20.0 * outlier))
        moved.append(b.expected_log(t + DAY) - before)
    assert 0 < moved[0] < 0.5 * b.scale  # half a noise sigma at most, however large the outlier
    assert moved[0] == pytest.approx(moved[1])


def test_slow_ramp_is_followed_not_flagged() -> None:
    ramp_from = T0 + 7 * DAY
    rows = spend_rows("w/ramp", 28, 14.0, seed=3, weekend=0.8, amp=0.3,
                      mult=lambda t: 1 + 0.5 * min(1.0, max(0.0, (t - ramp_from) / (7 * DAY))))
    assert opened(run(rows)) == {}


def test_newcomer_is_not_an_anomaly_for_being_new() -> None:
    born = T0 + 15 * DAY + 5 * HOUR
    rows = spend_rows("w/new", 21, 60.0, seed=4, weekend=0.8, amp=0.3, mult=lambda t: None if t < born else 1.0)
    # a big newcomer with a sharp daily cycle and a weekend from its second day
    rows += spend_rows("w/new-big", 6, 900.0, seed=5, weekend=0.3, amp=0.8, start=T0 + 4 * DAY)
    assert opened(run(rows)) == {}


def test_cold_start_still_catches_a_very_large_jump() -> None:
    day2 = T0 + 2 * DAY
    rows = spend_rows("w/young", 3, 50.0, seed=6, mult=between(day2 + 10 * HOUR, day2 + 13 * HOUR, 30.0))
    found = opened(run(rows))
    assert len(found) == 1
    a = next(iter(found.values()))
    assert a["started_at"] == day2 + 10 * HOUR
    assert a["evidence"]["baseline"]["trusted"] is False


def test_a_workload_that_stops_spending_is_not_a_spike() -> None:
    dies = T0 + 18 * DAY + 3 * HOUR
    zeroed = spend_rows("w/zero", 28, 11.0, seed=7, weekend=0.7, amp=0.6, peak=3,
                        mult=lambda t: 0.0 if t >= dies else 1.0)
    silent = spend_rows("w/silent", 28, 11.0, seed=8, mult=lambda t: None if t >= dies else 1.0)
    # stops for four days, then comes back at its old level
    back = spend_rows("w/back", 28, 30.0, seed=9, weekend=0.7, amp=0.3,
                      mult=lambda t: None if dies <= t < dies + 4 * DAY else 1.0)
    assert opened(run(zeroed + silent + back)) == {}


def test_tiny_series_never_alert() -> None:
    rows = spend_rows("w/tiny", 28, 0.05, seed=10, mult=between(T0 + 20 * DAY, T0 + 21 * DAY, 8.0))
    assert opened(run(rows)) == {}


# ---------------------------------------------------------------------- anomalies
def test_spike_opens_once_and_resolves_with_waste_and_contributors() -> None:
    burst = T0 + 16 * DAY + 3 * HOUR
    rows = spend_rows("support/agent", 21, 38.0, seed=11, weekend=0.45, amp=0.55, peak=16, sigma=0.06,
                      tokens=True, mult=between(burst, burst + 3 * HOUR, 6.0))
    out = run(rows)
    found = opened(out)
    assert len(found) == 1
    aid, a = next(iter(found.items()))
    assert a["kind"] == "cost_spike" and a["resource"] == "support/agent"
    assert a["started_at"] == burst
    assert burst <= a["detected_at"] <= burst + 3 * HOUR
    assert a["severity"] == "critical"
    ev = a["evidence"]
    assert ev["observed_usd"] > ev["band_usd"][1] > ev["expected_usd"] > 0
    assert ev["score"] >= 4 and ev["pattern"] == "spike"
    # the first export row of the hour already clears the bar: open before the hour is complete
    assert ev["detected_on"] == "partial_period"
    ends = resolved(out)
    assert ends[0]["evidence"]["contributors"][0]["sku"] == "output-tokens"  # the bigger share of the excess
    assert len(ends) == 1 and ends[0]["id"] == aid
    assert ends[0]["resolved_at"] == burst + 3 * HOUR
    # waste = excess over the baseline: 5x the usual spend of those three hours, within a third
    usual = sum(r["cost_usd"] for r in rows if burst <= r["period_start"] < burst + 3 * HOUR) / 6.0
    assert 5 * usual * 0.67 <= ends[0]["waste_usd"] <= 5 * usual * 1.33
    # the first open knows the hour's first row only; the hour judged whole gives the full rate
    assert max(e["projected_daily_usd"] for e in out if e["state"] == "open") > 1000


def test_level_shift_stays_open_while_it_persists() -> None:
    shift = T0 + 16 * DAY + 9 * HOUR
    rows = spend_rows("research/pretrain", 21, 98.0, seed=12, weekend=0.93, amp=0.08, peak=11, sigma=0.03,
                      mult=lambda t: 1.8 if t >= shift else 1.0)
    events = sorted(rows, key=lambda e: e["ts"])
    engine = Engine(Settings(), [CostSpikeDetector])
    out = engine.process_many(events)
    found = opened(out)
    assert len(found) == 1 and resolved(out) == []
    aid = next(iter(found))
    assert found[aid]["started_at"] == shift
    latest = last_of(out, aid)
    assert latest["evidence"]["pattern"] == "level_shift"
    assert engine.open_anomaly_ids == [aid]
    # waste grows with the excess: ~0.8 x 98 $/h over 4.6 days, reported in updates
    assert latest["waste_usd"] > 0.5 * 0.8 * 98 * 24 * 4


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_level_shift_in_noisy_spend_is_caught_by_the_cusum_and_stays_one_anomaly(seed: int) -> None:
    shift = T0 + 16 * DAY + 5 * HOUR  # 1.8x with 30 % noise: no single hour clears z_open
    rows = spend_rows("w/noisy", 21, 40.0, seed=seed, weekend=0.7, amp=0.3, sigma=0.3, lognormal=True,
                      mult=lambda t: 1.8 if t >= shift else 1.0)
    events = sorted(rows, key=lambda e: e["ts"])
    engine = Engine(Settings(), [CostSpikeDetector])
    out = engine.process_many(events)
    found = opened(out)
    assert len(found) == 1 and resolved(out) == []
    a = next(iter(found.values()))
    assert shift - 3 * HOUR <= a["started_at"] <= shift + 12 * HOUR
    assert a["detected_at"] <= shift + 24 * HOUR


def test_long_level_shift_is_accepted_as_the_new_normal_once() -> None:
    shift = T0 + 10 * DAY
    rows = spend_rows("w/shift", 30, 50.0, seed=13, weekend=0.8, amp=0.2, sigma=0.05,
                      mult=lambda t: 1.8 if t >= shift else 1.0)
    out = run(rows)
    found = opened(out)
    assert len(found) == 1
    ends = resolved(out)
    assert len(ends) == 1
    assert ends[0]["evidence"]["accepted_as_new_normal"] is True
    assert ends[0]["resolved_at"] >= shift + 7 * DAY


def test_flagged_periods_do_not_teach_the_baseline() -> None:
    burst = T0 + 14 * DAY + 12 * HOUR
    config, context = CostConfig(), DetectorContext(EngineConfig(), PriceTable(PriceConfig()))
    rows = sorted(spend_rows("w/learn", 16, 30.0, seed=14, sigma=0.05, mult=between(burst, burst + 6 * HOUR, 5.0)),
                  key=lambda e: e["ts"])
    det = CostSpikeDetector("w/learn", config, context)
    level_before = None
    for ev in rows:
        det.process(ev)
        if level_before is None and det.judged_period(burst - HOUR):
            assert det.baseline is not None
            level_before = det.baseline.expected_log(burst)
    det.tick(rows[-1]["ts"] + DAY)
    assert det.baseline is not None and level_before is not None
    assert abs(det.baseline.expected_log(burst) - level_before) < 0.05  # 5x for 6 h left no trace


def test_model_switch_names_the_pricier_model() -> None:
    switch = T0 + 15 * DAY + 10 * HOUR

    def model(t: float) -> str:
        return "claude-opus-4" if t >= switch else "claude-haiku-4"

    def price(t: float) -> float:
        return 30e-6 if t >= switch else 4e-6

    rows = spend_rows("w/llm", 17, 20.0, seed=15, weekend=0.6, amp=0.4, sigma=0.06, tokens=True,
                      model=model, usd_per_token=price,  # type: ignore[arg-type]
                      mult=lambda t: 5.0 if t >= switch else 1.0)
    found = opened(run(rows))
    assert len(found) == 1
    a = next(iter(found.values()))
    cpt = a["evidence"]["cost_per_token"]
    assert cpt["changed"] is True and cpt["ratio"] > 4
    assert cpt["models_grown"] == ["claude-opus-4"]
    assert "claude-opus-4" in a["summary"]
    assert a["evidence"]["contributors"][0]["model"] == "claude-opus-4"
    assert a["evidence"]["contributors"][0]["new"] is True


# --------------------------------------------------------------- rows and timing
def test_rows_of_a_period_are_summed_and_duplicates_ignored() -> None:
    burst = T0 + 15 * DAY + 8 * HOUR
    rows = spend_rows("w/dup", 17, 30.0, seed=16, tokens=True, mult=between(burst, burst + 2 * HOUR, 6.0))
    doubled = rows + [dict(r, ts=r["ts"] + 1.0) for r in rows]  # every row exported twice
    once, twice = run(rows), run(doubled)
    assert len(opened(once)) == len(opened(twice)) == 1
    w1, w2 = resolved(once)[0]["waste_usd"], resolved(twice)[0]["waste_usd"]
    assert w1 == pytest.approx(w2, rel=1e-9)
    assert resolved(twice)[0]["evidence"]["duplicate_rows"] > 0


def test_late_and_out_of_order_rows() -> None:
    r = random.Random(17)
    rows = spend_rows("w/late", 16, 30.0, seed=17, weekend=0.7, amp=0.3, tokens=True)
    shuffled = []
    for ev in rows:  # within the lateness (30 min after the period): rows of a period in any order
        if r.random() < 0.3:
            ev = dict(ev, ts=ev["period_end"] + r.uniform(60, 1700))
        shuffled.append(ev)
    assert opened(run(shuffled)) == {}
    # a stray copy of an old period's row a day later: late, counted, never re-scored
    config, context = CostConfig(), DetectorContext(EngineConfig(), PriceTable(PriceConfig()))
    det = CostSpikeDetector("w/late", config, context)
    ordered = sorted(rows, key=lambda e: e["ts"])
    for ev in ordered:
        det.process(ev)
    old = dict(ordered[10], ts=ordered[-1]["ts"] + DAY, cost_usd=5000.0)
    assert det.process(old) == [] and det.late_rows == 1
    assert det.tick(old["ts"] + DAY) == []


def test_bulk_export_a_day_late_is_summed_whole() -> None:
    rows = spend_rows("w/bulk", 21, 25.0, seed=18, weekend=0.7, amp=0.4, tokens=True)
    bulk = []
    for ev in rows:  # everything for a day lands together the next day at 06:00
        day_end = (ev["period_start"] // DAY + 1) * DAY
        bulk.append(dict(ev, ts=day_end + 6 * HOUR + (ev["period_start"] % DAY) / 100.0
                         + (0.5 if ev["sku"] == "output-tokens" else 0.0)))
    assert opened(run(bulk)) == {}


@pytest.mark.parametrize(("seconds", "expected"), [(900.0, 900.0), (HOUR, HOUR), (DAY, DAY), (0.0, HOUR)])
def test_period_is_inferred_from_rows(seconds: float, expected: float) -> None:
    det = CostSpikeDetector("w/p", CostConfig(), DetectorContext(EngineConfig(), PriceTable(PriceConfig())))
    det.process({"type": "billing_delta", "ts": T0 + 2 * DAY, "period_start": T0, "period_end": T0 + seconds,
                 "cost_usd": 1.0, "workload": {"id": "w/p"}})
    assert det.period == expected


def test_daily_series_spike() -> None:
    r = random.Random(19)
    rows = []
    for d in range(60):
        t = T0 + d * DAY
        cost = 500.0 * (0.5 if slots(t)[1] >= 5 else 1.0) * max(0.5, r.gauss(1, 0.05)) * (4.0 if d == 50 else 1.0)
        rows.append({"type": "billing_delta", "ts": t + DAY + 5 * HOUR, "period_start": t, "period_end": t + DAY,
                     "cost_usd": round(cost, 2), "workload": {"id": "w/daily"}, "sku": "compute"})
    found = opened(run(rows))
    assert [a["started_at"] for a in found.values()] == [T0 + 50 * DAY]


# ----------------------------------------------------------------- state handling
def test_snapshot_and_restore_give_the_same_future() -> None:
    burst = T0 + 16 * DAY + 3 * HOUR
    rows = sorted(spend_rows("w/snap", 18, 38.0, seed=20, weekend=0.5, amp=0.5, tokens=True,
                             mult=between(burst, burst + 4 * HOUR, 6.0)), key=lambda e: e["ts"])
    cut = next(i for i, e in enumerate(rows) if e["ts"] > burst + 2 * HOUR)
    straight = Engine(Settings(), [CostSpikeDetector])
    expected = straight.process_many(rows)
    first = Engine(Settings(), [CostSpikeDetector])
    got = first.process_many(rows[:cut])
    second = Engine(Settings(), [CostSpikeDetector])
    second.restore(first.snapshot())
    got += second.process_many(rows[cut:])
    assert got == expected and len(opened(got)) == 1


def test_state_per_series_is_small() -> None:
    rows = sorted(spend_rows("team/some-workload-name", 21, 38.0, seed=21, weekend=0.5, amp=0.5, tokens=True),
                  key=lambda e: e["ts"])
    det = CostSpikeDetector("team/some-workload-name", CostConfig(),
                            DetectorContext(EngineConfig(), PriceTable(PriceConfig())))
    for ev in rows:
        det.process(ev)
    assert len(pickle.dumps(det, protocol=pickle.HIGHEST_PROTOCOL)) <= 4096
