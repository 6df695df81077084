"""Structural waste: each insight kind's must-catch and must-not-alert cases, as small streams built here.

The kinds (issue 17, issue 11 item 6) are insights: reported, not paged. So every test also checks
the event type: ``insight`` by default, ``anomaly`` only when ``insights.page`` promotes the kind.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

import pytest

from detectors.budget_forecast import BudgetForecastDetector
from detectors.engine import Engine
from detectors.gpu_usage import GpuUsageDetector
from detectors.idle_gpu import IdleGpuDetector
from detectors.redundant_training import RedundantTrainingDetector
from detectors.unit_cost import UnitCostDetector
from spendwatch.config import Settings
from spendwatch.errors import ConfigError
from spendwatch.events import validate

H, M, DAY = 3600.0, 60.0, 86400.0
T0 = 1_774_310_400.0  # Tuesday 2026-03-24 00:00 UTC


def latest(out: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    got: dict[str, dict[str, Any]] = {}
    for a in out:
        got[a["id"]] = a
    return got


def kinds(out: list[dict[str, Any]]) -> list[str]:
    return sorted({a["kind"] for a in out})


# ------------------------------------------------------------------ GPU streams
def gpu(t: float, util: float, gpu_id: str = "GPU-1", wl: dict[str, Any] | None = None, step: float = 60.0,
        price: float = 3.0, node: str = "n1", sm: float | None = None) -> dict[str, Any]:
    return validate({"type": "gpu_sample", "ts": t, "node": node, "gpu_uuid": gpu_id, "interval_s": step,
                     "util_gpu_pct": util, "sm_active_pct": sm, "mem_used_bytes": 2**30, "mem_total_bytes": 80 * 2**30,
                     "price_per_hour_usd": price, "workload": wl})


BATCH = {"id": "data/backfill", "kind": "batch", "team": "data", "owner": "data@corp.example"}


def queue(hours: float, job: tuple[float, float], gap: tuple[float, float], seed: int = 1,
          start: float = T0) -> list[dict[str, Any]]:
    """One batch-queue GPU: jobs of ``job`` minutes at ~80 %, gaps of ``gap`` minutes with nothing allocated."""
    r = random.Random(seed)
    out, t, busy_until = [], start, start
    end = start + hours * H
    state_busy, next_switch = True, start + r.uniform(*job) * M
    while t < end:
        t += 60.0
        if t >= next_switch:
            state_busy = not state_busy
            next_switch = t + r.uniform(*(job if state_busy else gap)) * M
        out.append(gpu(t, 80.0 + r.uniform(-5, 5) if state_busy else 0.0, wl=BATCH if state_busy else None))
    del busy_until
    return out


def test_underused_gpu_a_queue_with_long_routine_gaps_is_one_insight_per_day_not_a_page() -> None:
    events = queue(56, job=(20, 60), gap=(15, 40))
    out = Engine(detector_classes=[IdleGpuDetector, GpuUsageDetector]).process_many(events)
    assert not [a for a in out if a["type"] == "anomaly"], "routine gaps must not page"
    found = latest([a for a in out if a["kind"] == "underused_gpu"])
    days = sorted(a["evidence"]["day"] for a in found.values())
    assert days == ["2026-03-24", "2026-03-25", "2026-03-26"]  # one per UTC day (the third still open)
    closed = [a for a in found.values() if a["state"] == "resolved"]
    assert len(closed) == 2 and all(a["type"] == "insight" for a in found.values())
    for a in closed:
        ev = a["evidence"]
        assert 30 <= ev["idle_share_pct"] <= 60 and ev["observed_hours"] == pytest.approx(24, abs=0.1)
        assert a["waste_usd"] == pytest.approx(ev["idle_hours"] * 3.0, rel=1e-3)  # idle hours x price
        assert a["workload"]["id"] == "data/backfill" and a["resolved_at"] == a["started_at"] + DAY
        assert ev["gaps"] >= 10 and ev["paged_idle_hours"] == 0


def test_underused_gpu_a_busy_queue_with_short_gaps_is_quiet() -> None:
    events = queue(50, job=(20, 150), gap=(1, 8), seed=3)
    assert Engine(detector_classes=[IdleGpuDetector, GpuUsageDetector]).process_many(events) == []


def test_underused_gpu_leaves_out_idle_time_that_paged() -> None:
    # busy except one 5-hour hang in the morning: idle_gpu pages it, and that time is not "routine" idle
    busy = {"id": "ml/train", "kind": "training", "team": "ml"}
    events = [gpu(T0 + k * 60, 0.0 if 6 * 60 <= k < 11 * 60 else 85.0, wl=busy, sm=None)
              for k in range(1, 30 * 60)]
    out = Engine(detector_classes=[IdleGpuDetector, GpuUsageDetector]).process_many(events)
    assert kinds(out) == ["idle_gpu"], [a["summary"] for a in out]
    # the difference is the page: without the idle detector the same hang reads as a routine gap
    # (5 h of the 11 observed by then, 45 %: the day opens, and resolves at midnight with its 21 %)
    alone = list(latest(Engine(detector_classes=[GpuUsageDetector]).process_many(events)).values())
    assert [a["kind"] for a in alone] == ["underused_gpu"]
    assert alone[0]["evidence"]["idle_share_pct"] == pytest.approx(100 * 5 / 24, abs=0.5)


# ------------------------------------------------------------------ endpoints
SERVE = {"id": "serving/x", "kind": "inference", "team": "ml", "owner": "ml@corp.example"}


def endpoint(hours: float, load: Callable[[int, float, random.Random], float | None], gpus: int,
             step: float = 60.0) -> list[dict[str, Any]]:
    """``gpus`` replicas of SERVE; ``load`` returns a replica's utilisation, or None when it is released."""
    r = random.Random(7)
    out = []
    for k in range(1, int(hours * H / step) + 1):
        t = T0 + k * step
        for g in range(gpus):
            u = load(g, t, r)
            if u is not None:
                out.append(gpu(t + g * 0.01, max(0.0, min(100.0, u)), gpu_id=f"GPU-{g}", wl=SERVE, price=2.95))
    return out


def diurnal(t: float) -> float:
    return 1 + 0.95 * math.cos(2 * math.pi * ((t % DAY) / H - 15) / 24)  # 0.05 .. 1.95


def test_underused_endpoint_always_on_at_low_load_is_flagged_once_with_the_right_size() -> None:
    events = endpoint(30, lambda g, t, r: 5 + r.uniform(-2, 2), gpus=3)
    out = Engine(detector_classes=[GpuUsageDetector]).process_many(events)
    found = latest(out)
    assert len(found) == 1, [a["summary"] for a in out]
    a = next(iter(found.values()))
    assert (a["type"], a["kind"], a["resource"], a["state"]) == ("insight", "underused_endpoint", "serving/x", "open")
    ev = a["evidence"]
    assert ev["pattern"] == "oversized" and ev["right_sized_gpus"] == 1 and ev["gpus_allocated"] == 3
    assert a["projected_daily_usd"] == pytest.approx(2 * 2.95 * 24, rel=0.02)  # two GPUs too many
    assert sorted(ev["gpus_seen"]) == ["GPU-0", "GPU-1", "GPU-2"]


def test_underused_endpoint_that_never_scales_down_is_flagged() -> None:
    events = endpoint(30, lambda g, t, r: 40 * diurnal(t) + r.gauss(0, 1), gpus=4)
    out = Engine(detector_classes=[GpuUsageDetector]).process_many(events)
    a = list(latest(out).values())
    assert [x["kind"] for x in a] == ["underused_endpoint"]
    assert a[0]["evidence"]["pattern"] == "never_scales_down" and a[0]["evidence"]["trough_busy_pct"] < 10


def test_an_endpoint_with_a_real_daily_cycle_that_does_scale_down_is_not_flagged() -> None:
    def scaled(g: int, t: float, r: random.Random) -> float | None:
        n = max(1, math.ceil(4 * diurnal(t) / 2))  # replicas follow the traffic (1 at night, 4 at the peak)
        return 40 * 4 * diurnal(t) / n + r.gauss(0, 1) if g < n else None  # released replicas: no samples
    assert Engine(detector_classes=[GpuUsageDetector]).process_many(endpoint(30, scaled, gpus=4)) == []


def test_a_busy_diurnal_endpoint_that_keeps_its_troughs_above_a_tenth_is_not_flagged() -> None:
    def busy(g: int, t: float, r: random.Random) -> float:
        return max(6.0, 45 * (1 + 0.6 * math.cos(2 * math.pi * ((t % DAY) / H - 15) / 24)) + r.gauss(0, 3))
    assert Engine(detector_classes=[GpuUsageDetector]).process_many(endpoint(30, busy, gpus=2)) == []


def test_batch_on_realtime_periodic_bursts_with_long_quiet_spells() -> None:
    events = endpoint(30, lambda g, t, r: 80 + r.gauss(0, 3) if (t % (4 * H)) < 40 * M else 3 + r.uniform(0, 2),
                      gpus=2)
    out = Engine(detector_classes=[GpuUsageDetector]).process_many(events)
    a = list(latest(out).values())
    assert [(x["type"], x["kind"]) for x in a] == [("insight", "batch_on_realtime")]
    ev = a[0]["evidence"]
    assert ev["burst_every_hours"] == pytest.approx(4.0, abs=0.3) and ev["quiet_share_pct"] > 70
    assert a[0]["projected_daily_usd"] == pytest.approx(2 * 2.95 * 24 * ev["quiet_share_pct"] / 100, rel=0.1)


def test_irregular_bursts_are_not_called_batch_scoring() -> None:
    r0 = random.Random(5)
    starts = sorted(T0 + r0.uniform(0, 30 * H) for _ in range(7))

    def irregular(g: int, t: float, r: random.Random) -> float:
        return 85.0 if any(s <= t < s + 40 * M for s in starts) else 4.0
    out = Engine(detector_classes=[GpuUsageDetector]).process_many(endpoint(30, irregular, gpus=1))
    assert "batch_on_realtime" not in kinds(out)


# ------------------------------------------------------------------ training runs
def run(ts: float, rid: str, model: str, wid: str, team: str | None, data: str | None = "clicks-w12",
        code: str = "embed@1f3c", status: str = "succeeded", trigger: str | None = "manual",
        cost: float = 70.8) -> dict[str, Any]:
    return validate({"type": "training_run", "ts": ts, "run_id": rid, "model_id": model, "status": status,
                     "workload": {"id": wid, "kind": "training", **({"team": team} if team else {})},
                     "started_at": ts - 3 * H, "ended_at": ts, "gpu_hours": 24.0, "cost_usd": cost,
                     "data_version": data, "code_version": code, "trigger": trigger})


def test_redundant_training_two_teams_on_the_same_data_and_code() -> None:
    out = Engine(detector_classes=[RedundantTrainingDetector]).process_many([
        run(T0 + 5 * H, "r1", "query-embed", "search/embed-train", "search"),
        run(T0 + 11 * H, "r2", "ads-query-embed", "ads/embed-train", "ads", cost=55.0)])
    assert [(a["type"], a["state"]) for a in out] == [("insight", "open"), ("insight", "resolved")]
    a = out[-1]
    assert a["waste_usd"] == 55.0 and a["workload"]["team"] == "ads"  # the duplicate's cost, its owner
    assert a["evidence"]["original"]["team"] == "search" and a["evidence"]["original"]["model_id"] == "query-embed"


def test_redundant_training_the_same_model_retrained_by_two_schedules() -> None:
    out = Engine(detector_classes=[RedundantTrainingDetector]).process_many([
        run(T0 + 2 * H, "a1", "churn", "growth/churn-cron", "growth", data="snap-0318", trigger="schedule"),
        run(T0 + 3 * H, "b1", "churn", "growth/churn-airflow", "growth", data="snap-0318", trigger="schedule")])
    assert len(latest(out)) == 1 and out[0]["resource"] == "snap-0318@embed@1f3c"


@pytest.mark.parametrize("case", ["sweep", "sweep_as_workloads", "new_data", "failed", "no_data_version",
                                  "long_ago"])
def test_redundant_training_is_quiet_for(case: str) -> None:
    if case == "sweep":  # a hyper-parameter sweep on one data_version by one team
        events = [run(T0 + k * H, f"s{k}", "ranker", "search/ltr-sweep", "search") for k in range(1, 9)]
    elif case == "sweep_as_workloads":  # ... launched as one job (workload) per trial
        events = [run(T0 + k * H, f"s{k}", "ranker", f"search/ltr-trial-{k}", "search") for k in range(1, 9)]
    elif case == "new_data":  # two teams, each on its own data
        events = [run(T0 + H, "r1", "m1", "a/x", "a", data="d1"), run(T0 + 2 * H, "r2", "m2", "b/x", "b", data="d2")]
    elif case == "failed":  # the second team's run failed: nothing trained twice
        events = [run(T0 + H, "r1", "m1", "a/x", "a"), run(T0 + 2 * H, "r2", "m2", "b/x", "b", status="failed")]
    elif case == "no_data_version":  # no evidence, no verdict
        events = [run(T0 + H, "r1", "m1", "a/x", "a", data=None), run(T0 + 2 * H, "r2", "m2", "b/x", "b", data=None)]
    else:  # the same data trained again a month later is not the same week's duplicate
        events = [run(T0 + H, "r1", "m1", "a/x", "a"), run(T0 + 30 * DAY, "r2", "m2", "b/x", "b")]
    assert Engine(detector_classes=[RedundantTrainingDetector]).process_many(events) == []


# ------------------------------------------------------------------ unit costs
AD = {"id": "ads/ctr-serving", "kind": "inference", "team": "ads"}


def serving(hours: int, cost: Callable[[int], tuple[float, str]], batches_per_min: Callable[[int], int],
            batch: Callable[[int], int] = lambda h: 50) -> list[dict[str, Any]]:
    out = []
    for m in range(hours * 60):
        t = T0 + m * 60
        h = m // 60
        for b in range(batches_per_min(h)):
            out.append(validate({"type": "model_observation", "ts": t + 20 + b, "model_id": "ctr", "workload": AD,
                                 "values": {"p": [0.5] * batch(h)}}))
        if m % 60 == 59:
            usd, sku = cost(h)
            out.append(validate({"type": "billing_delta", "ts": T0 + (h + 1) * H + 300, "period_start": T0 + h * H,
                                 "period_end": T0 + (h + 1) * H, "cost_usd": usd, "sku": sku, "workload": AD}))
    return sorted(out, key=lambda e: e["ts"])


def test_unit_cost_rise_a_pricier_instance_for_the_same_traffic() -> None:
    events = serving(30, lambda h: (18.0, "ml.g5.12xlarge") if h >= 16 else (9.0, "ml.g5.2xlarge"), lambda h: 1)
    out = Engine(detector_classes=[UnitCostDetector]).process_many(events)
    found = list(latest(out).values())
    assert [(a["type"], a["kind"], a["resource"]) for a in found] == [("insight", "unit_cost_rise", "ctr")]
    ev = found[0]["evidence"]
    assert ev["ratio"] == pytest.approx(2.0, abs=0.05) and ev["baseline_usd_per_1k"] == pytest.approx(3.0)
    assert ev["contributors"][0]["name"] == "ml.g5.12xlarge"
    assert found[0]["projected_daily_usd"] == pytest.approx(9.0 * 24, rel=0.05)  # $9/h more, every hour


def test_unit_cost_rise_lost_batching_is_caught_with_its_batch_size() -> None:
    # the same predictions in batches of 10 instead of 50: the fleet had to double
    events = serving(30, lambda h: (18.0 if h >= 16 else 9.0, "gpu-hour"), lambda h: 5 if h >= 16 else 1,
                     batch=lambda h: 10 if h >= 16 else 50)
    found = list(latest(Engine(detector_classes=[UnitCostDetector]).process_many(events)).values())
    assert [a["kind"] for a in found] == ["unit_cost_rise"] and found[0]["evidence"]["batch_size_now"] == 10


def test_unit_cost_keeps_spend_by_sku_per_hour_only_once_a_second_sku_bills() -> None:
    # one SKU: its spend by SKU is the hour's spend, so no per-hour split is kept (memory per workload);
    # a second SKU makes it, with the first one's hours so far, and the contributors are the same as
    # from per-hour dicts kept all along (a snapshot from before the one-SKU form still reads)
    from detectors.unit_cost import _WorkloadLedger

    def ledger(engine: Engine) -> _WorkloadLedger:
        wlg = engine.context.states[("unit_cost.workload", AD["id"])]
        assert isinstance(wlg, _WorkloadLedger)
        return wlg

    one = Engine(detector_classes=[UnitCostDetector])
    one.process_many(serving(12, lambda h: (9.0, "ml.g5.2xlarge"), lambda h: 1))
    assert ledger(one).parts is None and ledger(one).part == "ml.g5.2xlarge"
    assert ledger(one).parts_at(int(T0 // H) + 3) == {"ml.g5.2xlarge": 9.0}

    events = serving(30, lambda h: (18.0, "ml.g5.12xlarge") if h >= 16 else (9.0, "ml.g5.2xlarge"), lambda h: 1)
    two = Engine(detector_classes=[UnitCostDetector])
    out = two.process_many(events)
    wlg = ledger(two)
    assert wlg.parts is not None and wlg.parts[int(T0 // H) + 3] == {"ml.g5.2xlarge": 9.0}
    assert wlg.parts[int(T0 // H) + 20] == {"ml.g5.12xlarge": 18.0}
    contributors = latest(out)[next(iter(latest(out)))]["evidence"]["contributors"]
    assert [(c["name"], c["usd_per_hour_before"], c["usd_per_hour_now"]) for c in contributors] == \
        [("ml.g5.12xlarge", 0.0, 18.0), ("ml.g5.2xlarge", 9.0, 0.0)]

    # a snapshot of the older form (per-hour dicts from the first row, no ``part``) restores and goes on
    # to the same output as the ledger that was never snapshotted
    cut = len(events) // 4
    old = Engine(detector_classes=[UnitCostDetector])
    old.process_many(events[:cut])
    legacy = ledger(old)
    legacy.parts = {h: {"ml.g5.2xlarge": usd} for h, usd in legacy.cost.items()}
    del legacy.__dict__["part"]
    resumed = Engine(detector_classes=[UnitCostDetector])
    resumed.restore(old.snapshot())
    assert ledger(resumed).part is None and ledger(resumed).parts == legacy.parts
    reference = Engine(detector_classes=[UnitCostDetector])
    reference.process_many(events[:cut])
    rest = reference.process_many(events[cut:])
    assert rest and resumed.process_many(events[cut:]) == rest


@pytest.mark.parametrize("case", ["traffic_doubles_with_cost", "traffic_halves", "flat", "unbilled"])
def test_unit_cost_rise_is_quiet_for(case: str) -> None:
    if case == "traffic_doubles_with_cost":  # twice the spend for twice the predictions: the same unit cost
        events = serving(30, lambda h: (18.0 if h >= 16 else 9.0, "x"), lambda h: 2 if h >= 16 else 1)
    elif case == "traffic_halves":  # a dearer prediction because traffic fell: an idle fleet, not a price
        events = serving(30, lambda h: (9.0, "x"), lambda h: 1 if h < 16 else 0 if h % 2 else 1)
    elif case == "flat":
        r = random.Random(2)
        events = serving(30, lambda h: (9.0 * r.uniform(0.95, 1.05), "x"), lambda h: 1)
    else:  # traffic without any billing: no unit cost at all
        events = [e for e in serving(30, lambda h: (9.0, "x"), lambda h: 1) if e["type"] != "billing_delta"]
    assert Engine(detector_classes=[UnitCostDetector]).process_many(events) == []


# ------------------------------------------------------------------ budgets and growth
def bill(wid: str, team: str, days: int, daily: Callable[[int, float], float], seed: int = 0,
         start: float = 1_772_323_200.0, service: str = "Amazon S3") -> list[dict[str, Any]]:
    """Hourly rows from ``start`` (2026-03-01) for ``days``; ``daily(day, t)`` is the day's $ (spread by hour)."""
    r = random.Random(seed)
    out = []
    for h in range(days * 24):
        t = start + h * H
        out.append(validate({"type": "billing_delta", "ts": t + H + r.uniform(240, 900), "period_start": t,
                             "period_end": t + H, "cost_usd": max(0.0, daily(h // 24, t) / 24 * r.gauss(1, 0.02)),
                             "service": service, "workload": {"id": wid, "team": team}}))
    return out


def engine_with(budgets: dict[str, Any]) -> Engine:
    return Engine(Settings({"budgets": budgets}), detector_classes=[BudgetForecastDetector])


def weekday_factor(t: float) -> float:
    return 0.5 if (int(t // DAY) + 3) % 7 >= 5 else 1.0


def test_budget_forecast_a_team_heading_over_names_the_crossing_day_and_the_drivers() -> None:
    # team product: search-answers ramps from $300 to $480 a day over ten days; intent-serving is flat
    ramp = bill("product/search-answers", "product", 20, lambda d, t: 300 * (1 + 0.6 * min(1, max(0, d - 8) / 10)))
    flat = bill("product/intent-serving", "product", 20, lambda d, t: 72.0, seed=1, service="SageMaker")
    events = sorted(ramp + flat, key=lambda e: e["ts"])
    out = engine_with({"teams": {"product": 12_500.0}}).process_many(events)
    budget = [a for a in out if a["kind"] == "budget_forecast"]
    assert budget and {a["type"] for a in budget} == {"insight"}
    a = budget[-1]
    ev = a["evidence"]
    assert a["resource"] == "team:product" and a["state"] == "open" and ev["month"] == "2026-03"
    assert ev["forecast_usd"] > 12_500 and ev["p_over"] >= 0.8 and ev["crossing_day"] is not None
    assert ev["forecast_low_usd"] <= ev["forecast_usd"] <= ev["forecast_high_usd"]
    assert ev["drivers"][0]["name"] == "product/search-answers" and ev["drivers"][0]["change_usd_per_day"] > 50
    assert "2026-03" in a["summary"] and ev["crossing_day"] in a["summary"]


def test_a_budget_that_will_be_met_is_quiet() -> None:
    # $1,000 on weekdays, $500 at weekends, noisy, with a one-off spike day: about $26.5k in March
    spiky = bill("support/agent-assist", "support", 24,
                 lambda d, t: 1000 * weekday_factor(t) * (3 if d == 12 else 1), seed=4, service="Anthropic API")
    out = engine_with({"teams": {"support": 31_000.0}}).process_many(spiky)
    assert [a for a in out if a["kind"] == "budget_forecast"] == []


def test_spend_growth_a_storage_bill_creeping_up_three_percent_a_week() -> None:
    events = bill("data/lake", "data", 21, lambda d, t: 720 * 1.03 ** ((t - 1_772_323_200.0) / (7 * DAY)))
    out = engine_with({}).process_many(events)
    growth = list(latest([a for a in out if a["kind"] == "spend_growth"]).values())
    assert len(growth) == 1 and growth[0]["type"] == "insight" and growth[0]["resource"] == "data/lake"
    assert growth[0]["state"] == "open" and growth[0]["evidence"]["growth_pct_week"] == pytest.approx(3.0, abs=1.5)
    assert growth[0]["waste_usd"] == 0.0 and growth[0]["projected_daily_usd"] > 0  # a forecast, not a loss


@pytest.mark.parametrize("case", ["flat_noisy", "weekly_cycle", "level_shift", "ramp_that_stopped"])
def test_spend_growth_is_quiet_for(case: str) -> None:
    daily: Callable[[int, float], float] = {
        "flat_noisy": lambda d, t: 500.0,
        "weekly_cycle": lambda d, t: 800 * weekday_factor(t),
        "level_shift": lambda d, t: 500.0 if d < 15 else 900.0,
        "ramp_that_stopped": lambda d, t: 500 * (1 + 0.4 * min(1.0, max(0.0, (d - 3) / 7))),
    }[case]
    out = engine_with({}).process_many(bill("w/x", "t", 24, daily, seed=9))
    assert [a for a in out if a["kind"] == "spend_growth"] == []


# ------------------------------------------------------------------ insight or page
def test_insights_page_promotes_a_kind_to_an_anomaly() -> None:
    events = queue(26, job=(20, 60), gap=(15, 40))
    default = Engine(detector_classes=[GpuUsageDetector]).process_many(events)
    paged = Engine(Settings({"insights": {"page": ["underused_gpu"]}}),
                   detector_classes=[GpuUsageDetector]).process_many(events)
    assert default and {a["type"] for a in default} == {"insight"}
    assert [a["id"] for a in paged] == [a["id"] for a in default] and {a["type"] for a in paged} == {"anomaly"}


def test_insights_page_rejects_an_unknown_kind() -> None:
    with pytest.raises(ConfigError, match="insights.page: unknown insight kind"):
        Engine(Settings({"insights": {"page": ["idle_gpu"]}}))
