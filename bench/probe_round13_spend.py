"""Probe round 13, billing, drift and retraining scenarios (see bench/probe_scenarios.py for the framework and scoring).

Imported by ``bench.probe_scenarios`` only (it imports that module's helpers, so import
``bench.probe_scenarios`` first, never this module on its own).

Assumptions of this round's spend tester: volume-tiered token pricing whose unit price falls twice a month and
resets on the 1st, an LLM migration from one model series to the next (total flat) or to a pricier one,
batch-inference jobs that come 2-3 times a week at random (and one at x5), an agent stuck in a loop for 40 min
in 5-minute usage rows, an exporter that switches a series from hourly to daily rows, a feature whose share of
missing values and whose batch sizes follow the day beside an id-like feature, a drift whose retrain fails (or
fixes it), and a drift monitor re-triggering the same retrain every 30 min on an unchanged snapshot."""

from __future__ import annotations

import calendar
import math
import random
import time
from typing import Any

import numpy as np

from bench.probe_scenarios import (
    DAY,
    FOCUS,
    GRACE,
    HOUR,
    MIN,
    T0,
    Event,
    Scenario,
    _cyc,
    _gmt,
    _hourly_rows,
    _rows,
    _run_events,
    daily_shape,
    obs_events,
    truth,
    wl,
)

APR1 = float(calendar.timegm((2026, 4, 1, 0, 0, 0)))  # T0 + 30 days


def _lognorm(r: random.Random, sigma: float) -> float:
    return r.lognormvariate(-sigma * sigma / 2, sigma) if sigma > 0 else 1.0


# ================================================================ billing
def bill_tiered_pricing(seed: int, spike: bool = False, weeks: int = 6, sigma: float = 0.2,
                        mtok_per_h: float = 20.0, usd_per_mtok: float = 2.0,
                        tiers: str = "4000:0.6,9000:0.35", factor: float = 4.0, spike_day: float = 24.0,
                        spike_h: float = 3.0) -> Scenario:
    """An embeddings API billed by volume tiers (AWS-CUR-like rows, one a tier an hour, ``usage_quantity``
    tokens): ``mtok_per_h`` M tokens an hour (daily cycle amplitude 0.4, log-normal ``sigma``, rows 4-15 min
    after the hour), ``weeks`` weeks from Monday 2 March. The unit price is ``usd_per_mtok`` for the month's
    first 4,000 M tokens, x0.6 up to 9,000 M, x0.35 beyond (``tiers``): spend falls to 0.6 about day 7 and to
    0.35 about day 18 with the same tokens, and on 1 April the count resets and spend jumps x2.9 back to the
    first tier's price (until the tier falls again on about 8 April). The drops never page; the reset is the
    bill's own monthly rhythm, seen once: ambiguous (an open within two days of it is neither true nor
    false). ``spike``: x``factor`` tokens for ``spike_h`` from 14:00 on day ``spike_day`` (in the cheapest
    tier; truth, goal 2 h)."""
    r = random.Random(seed)
    w = wl("search/embed-indexer", "batch", "search")
    tier_list = [(float(a), float(b)) for a, b in (x.split(":") for x in tiers.split(","))]
    shape = daily_shape(0.4)
    a = T0 + spike_day * DAY + 14 * HOUR
    b = a + spike_h * HOUR
    end = T0 + 7 * weeks * DAY
    cum = 24 * mtok_per_h  # 1 March was billed before the stream starts

    def tier_at(c: float) -> tuple[int, float]:
        k, m = 1, 1.0
        for i, (lim, mult) in enumerate(tier_list):
            if c >= lim - 1e-9:
                k, m = i + 2, mult
        return k, usd_per_mtok * m
    ev: list[Event] = []
    fields: Event = {"source": "focus", "service": "Amazon Bedrock", "resource_id": "model/titan-embed-v2",
                     "usage_unit": "tokens", "model": "titan-embed-text-v2"}
    t = T0
    while t + HOUR <= end + 1e-6:
        if t == APR1:
            cum = 0.0
        mt = mtok_per_h * shape(t + HOUR / 2) * _lognorm(r, sigma) * (factor if spike and a <= t < b else 1.0)
        # split the hour's tokens at any tier boundary it crosses: one row a tier
        parts: list[tuple[float, int, float]] = []
        left = mt
        while left > 1e-9:
            nxt = min([lim for lim, _ in tier_list if lim > cum + 1e-9], default=math.inf)
            take = min(left, nxt - cum)
            parts.append((take, *tier_at(cum)))
            cum += take
            left -= take
        late = r.uniform(240, 900)
        for take, tier, p in parts:
            ev.append({"type": "billing_delta", "ts": round(t + HOUR + late, 3), "period_start": t,
                       "period_end": t + HOUR, "workload": w, **fields, "sku": f"embed-tokens-tier{tier}",
                       "usage_quantity": round(take * 1e6), "cost_usd": round(take * p, 6)})
        t += HOUR
    tr = [truth("cost", None, w["id"], APR1, APR1 + DAY, detect_by=APR1 + 2 * DAY, ambiguous=True,
                note="monthly tier reset on 1 April: x2.9 back to the first tier's price, same tokens")]
    if spike:
        tr.insert(0, truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR, goal_s=2 * HOUR,
                           note=f"x{factor:g} tokens for {spike_h:g} h in the cheapest tier"))
    return Scenario("", ev, tr)


def bill_model_migration(seed: int, pricier: bool = False, weeks: int = 5, sigma: float = 0.2,
                         mtok_per_h: float = 6.0, mig_day: float = 18.0, mig_days: float = 5.0,
                         ramp_h: float = 24.0, price_x: float = 5.0) -> Scenario:
    """Anthropic usage export, hourly, one row per model and token type (input 80 % of tokens at $3/M, output
    at $15/M), ``mtok_per_h`` M tokens an hour with a daily cycle (amplitude 0.5) and log-normal ``sigma``,
    rows 5-20 min after the hour, ``weeks`` weeks. ``pricier`` False: from 09:00 on day ``mig_day`` traffic
    moves linearly over ``mig_days`` from ``claude-3-5-sonnet`` to ``claude-sonnet-4`` at the same prices
    (the total is flat; the new model's rows are new contributors): must not alert. ``pricier``: instead it
    moves over ``ramp_h`` (24 h) to ``claude-opus-4`` at x``price_x`` the price per token, the same tokens:
    spend x5 by the end of the ramp and for good. Truth from the ramp's start, goal 4 h (spend is x1.5 about
    3 h into the ramp: a price change, caught once the dollars clear the bar)."""
    r = random.Random(seed)
    w = wl("support/agent-assist", "inference", "support")
    a = T0 + mig_day * DAY + 9 * HOUR
    span = ramp_h * HOUR if pricier else mig_days * DAY
    new = "claude-opus-4" if pricier else "claude-sonnet-4"
    shape = daily_shape(0.5, 14)
    end = T0 + 7 * weeks * DAY
    ev: list[Event] = []
    t = T0
    while t + HOUR <= end + 1e-6:
        mt = mtok_per_h * shape(t + HOUR / 2) * _lognorm(r, sigma)
        share = min(1.0, max(0.0, (t + HOUR / 2 - a) / span))
        late = r.uniform(300, 1200)
        for model, s, px in (("claude-3-5-sonnet", 1 - share, 1.0), (new, share, price_x if pricier else 1.0)):
            if s <= 1e-9:
                continue
            for kind, frac, usd in (("input_tokens", 0.8, 3.0), ("output_tokens", 0.2, 15.0)):
                tok = mt * s * frac * r.uniform(0.97, 1.03)
                ev.append({"type": "billing_delta", "ts": round(t + HOUR + late + r.uniform(0, 5), 3),
                           "period_start": t, "period_end": t + HOUR, "workload": w, "source": "llm_usage",
                           "service": "Anthropic API", "resource_id": "wrkspc_support_prod", "model": model,
                           "sku": f"{model}:{kind}", "usage_quantity": round(tok * 1e6), "usage_unit": "tokens",
                           "cost_usd": round(tok * usd * px, 6)})
        t += HOUR
    tr = [truth("cost", None, w["id"], a, end, goal_s=4 * HOUR,
                note=f"24 h migration to {new}, x{price_x:g} the price per token, same tokens")] if pricier else []
    return Scenario("", ev, tr)


def bill_batch_jobs(seed: int, factor: float = 1.0, weeks: int = 6, sigma: float = 0.2, base_usd_h: float = 3.0,
                    job_usd_h: float = 60.0, per_week: tuple[int, int] = (2, 3), bad_week: int = 4,
                    free_days: float = 14.0) -> Scenario:
    """A batch-inference workload (FOCUS rows, hourly, 4-15 min late): an always-on $``base_usd_h``/h
    endpoint (daily cycle 0.2, log-normal ``sigma``) plus ``per_week`` (2-3) offline scoring jobs a week on
    random days at a random hour (00:00-20:00), each 3-5 h at about $``job_usd_h``/h (x20 the endpoint; job
    cost +-15 %). Jobs of the first ``free_days`` (two weeks: 4-6 seen) are ambiguous truths (an open on one
    is neither true nor false: nothing yet says they recur), later jobs must not alert (the same job at the
    same cost, twice a week for weeks). ``factor`` != 1: the second job of week ``bad_week`` (the fifth) runs
    x``factor`` as many workers (x``factor`` the dollars an hour, same length): truth, goal 2 h."""
    r = random.Random(seed)
    w = wl("ml/offline-scoring", "batch", "ml")
    fields = dict(FOCUS, service="Amazon SageMaker", resource_id="batch-transform/lead-scoring",
                  sku="ml.g5.12xlarge-batch")
    jobs: list[tuple[float, float, float]] = []
    for wk in range(weeks):
        n = r.randint(*per_week)
        days = sorted(r.sample(range(7), n))
        for k, d in enumerate(days):
            st = T0 + (7 * wk + d) * DAY + r.randint(0, 20) * HOUR
            dur = r.randint(3, 5) * HOUR
            mult = factor if factor != 1.0 and wk == bad_week and k == 1 else 1.0
            jobs.append((st, st + dur, mult))
    shape = daily_shape(0.2)

    def cost(ps: float) -> float:
        c = base_usd_h * shape(ps + HOUR / 2)
        for a, b, m in jobs:
            if a <= ps < b:
                c += job_usd_h * m * r.uniform(0.85, 1.15)
        return c
    ev = _hourly_rows(r, w, fields, T0, 7 * weeks * 24, cost, sigma)
    tr = []
    for a, b, m in jobs:
        if m != 1.0:
            tr.append(truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR, goal_s=2 * HOUR,
                            note=f"a scoring job at x{m:g} workers"))
        elif a < T0 + free_days * DAY:
            tr.append(truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR, ambiguous=True,
                            note="one of the first weeks' batch jobs"))
    return Scenario("", ev, tr)


def bill_agent_loop(seed: int, stuck: bool = True, days: float = 21.0, sigma: float = 0.35,
                    usd_per_5min: float = 0.5, factor: float = 10.0, loop_min: float = 40.0,
                    at_day: float = 17.0, at_h: float = 11.33, eval_x: float = 3.0) -> Scenario:
    """An agent platform's LLM usage in 5-minute buckets (OpenAI usage export, an input and an output row a
    bucket, 1-4 min after it closes): $``usd_per_5min`` a bucket with a business-day cycle (amplitude 0.6,
    peak 14:00), log-normal ``sigma``, plus a nightly-built eval suite run every weekday 09:00-10:00 at
    x``eval_x`` (the within-day shape and the week's), ``days``. ``stuck``: an agent caught in a tool-call
    loop sends x``factor`` the tokens for ``loop_min`` (40) minutes from ``at_h`` (11:20) on day ``at_day``
    (a Wednesday): truth, goal 15 min (three 5-minute periods). ``stuck`` False: must not alert."""
    r = random.Random(seed)
    w = wl("agents/workflow-runner", "inference", "automation")
    a = T0 + at_day * DAY + at_h * HOUR
    a = T0 + round((a - T0) / (5 * MIN)) * 5 * MIN
    b = a + loop_min * MIN
    shape = daily_shape(0.6, 14)
    ev: list[Event] = []
    step = 5 * MIN
    t = T0
    while t + step <= T0 + days * DAY + 1e-6:
        g = _gmt(t)
        m = eval_x if g.tm_wday < 5 and g.tm_hour == 9 else 1.0
        if stuck and a <= t < b:
            m *= factor
        usd = usd_per_5min * shape(t + step / 2) * m * _lognorm(r, sigma)
        late = r.uniform(60, 240)
        for sku, frac, per_mtok in (("gpt-4.1:input", 0.45, 2.0), ("gpt-4.1:output", 0.55, 8.0)):
            c = usd * frac * r.uniform(0.9, 1.1)
            ev.append({"type": "billing_delta", "ts": round(t + step + late + r.uniform(0, 3), 3), "period_start": t,
                       "period_end": t + step, "workload": w, "source": "llm_usage", "service": "OpenAI API",
                       "resource_id": "proj_agents_prod", "model": "gpt-4.1", "sku": sku,
                       "usage_quantity": round(c / per_mtok * 1e6), "usage_unit": "tokens", "cost_usd": round(c, 6)})
        t += step
    tr = [truth("cost", None, w["id"], a, b, detect_by=b + 45 * MIN, goal_s=15 * MIN,
                note=f"agent tool-call loop x{factor:g} for {loop_min:g} min")] if stuck else []
    return Scenario("", ev, tr)


def bill_hourly_to_daily(seed: int, factor: float = 1.0, days: int = 35, switch_day: int = 21, sigma: float = 0.15,
                         level: float = 20.0, bad_day: int = 30, late_h: tuple[float, float] = (6.0, 10.0)) -> Scenario:
    """A FOCUS export of one GPU endpoint: hourly rows (daily cycle 0.3, log-normal ``sigma``, $``level`` an
    hour, 4-15 min late) for ``switch_day`` days, then the exporter is reconfigured to daily granularity: one
    row a day (``period_start`` 00:00, ``period_end`` the next 00:00, the day's sum) landing ``late_h`` (6-10 h)
    after the day ends, to day ``days``. The spend itself does not change: must not alert (neither the switch
    nor a daily row, the sum of 24 hours, is a spike). ``factor`` != 1: day ``bad_day`` costs x``factor``
    (truth: that day, goal 36 h: its row lands 6-10 h after the day and the series' lateness allows 1.5 days
    for a daily period)."""
    r = random.Random(seed)
    w = wl("serving/vision-ocr", "inference", "docs")
    fields = dict(FOCUS, service="Amazon SageMaker", resource_id="endpoint/ocr-prod", sku="ml.g5.4xlarge-hosting")
    shape = daily_shape(0.3)

    def hour_cost(ps: float) -> float:
        d = int((ps - T0) // DAY)
        return level * shape(ps + HOUR / 2) * (factor if factor != 1.0 and d == bad_day else 1.0)
    ev = _hourly_rows(r, w, fields, T0, switch_day * 24, hour_cost, sigma)
    daily = []
    for d in range(switch_day, days):
        ps = T0 + d * DAY
        daily.append((ps, ps + DAY, sum(hour_cost(ps + k * HOUR) * _lognorm(r, sigma) for k in range(24))))
    ev += _rows(r, daily, w, fields, (late_h[0] * HOUR, late_h[1] * HOUR))
    tr = []
    if factor != 1.0:
        a = T0 + bad_day * DAY
        tr.append(truth("cost", None, w["id"], a, a + DAY, detect_by=a + DAY + 36 * HOUR + GRACE, goal_s=36 * HOUR,
                        note=f"day {bad_day} x{factor:g}, in daily rows after the switch on day {switch_day}"))
    return Scenario("", ev, tr)


# ================================================================== drift
def drift_daily_nulls(seed: int, shift: bool = False, days: float = 4.0, at_day: float = 3.0, at_h: float = 10.0,
                      every_s: float = 120.0, max_batch: int = 300, null_lo: float = 0.05, null_hi: float = 0.35,
                      shift_x: float = 1.6) -> Scenario:
    """A credit-limit model's inputs, one batch every ``every_s`` (+-20 %) whose size follows the day (1 at
    02:00 to ``max_batch`` at 14:00: a cosine squared), ``days`` days: ``income`` log-normal (median 52k, sigma
    0.5) sent as -1 when missing, the missing share following the day (``null_lo`` 5 % at 14:00 to
    ``null_hi`` 35 % at 02:00: night traffic is thin-file applicants), ``merchant_id`` an id-like integer
    uniform over 1..5,000,000 (high cardinality: every value new), and ``utilisation`` Beta(2,5) with a mild
    daily cycle. ``shift`` False: must not alert. ``shift``: from ``at_h`` on day ``at_day`` (day 3 10:00,
    large batches) the present incomes are x``shift_x`` (a new premium card segment; +0.94 sd in logs, the
    missing share unchanged): truth, goal 30 min."""
    g = np.random.default_rng(seed)
    model = "m-credit-limit"
    w = wl(f"serving/{model}", "inference", "lending")
    a, t1 = T0 + at_day * DAY + at_h * HOUR, T0 + days * DAY
    ev: list[Event] = []
    t = T0
    while True:
        t += every_s * (1 + float(g.uniform(-0.2, 0.2)))
        if t > t1:
            break
        hod = ((t - T0) % DAY) / HOUR
        c = 0.5 * (1 + math.cos(2 * math.pi * (hod - 14) / 24))  # 1 at 14:00, 0 at 02:00
        n = max(1, int(round(max_batch * c * c * float(g.uniform(0.8, 1.2)))))
        inc = g.lognormal(math.log(52000), 0.5, n)
        if shift and t >= a:
            inc = inc * shift_x
        miss = null_lo + (null_hi - null_lo) * (1 - c)
        inc[g.random(n) < miss] = -1.0
        mid = g.integers(1, 5_000_001, n).astype(float)
        util = g.beta(2 + 0.4 * c, 5, n)
        ev.append({"type": "model_observation", "ts": round(t, 3), "model_id": model, "workload": w,
                   "values": {"income": [round(float(v), 2) for v in inc], "merchant_id": [float(v) for v in mid],
                              "utilisation": [round(float(v), 4) for v in util]}})
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN,
                note=f"present incomes x{shift_x:g} from day {at_day:g} {at_h:g}:00")] if shift else []
    return Scenario("", ev, tr)


def drift_retrain_outcome(seed: int, outcome: str = "failed", days: float = 3.5, at_day: float = 2.0,
                          at_h: float = 6.0, shift_sd: float = 1.5, batch: int = 20, every_s: float = 60.0,
                          retrain_after_h: float = 2.0, gpus: int = 4) -> Scenario:
    """A pricing model (``basket_usd`` N(80,20) with a 0.5 sd daily cycle, ``items`` N(6,2), ``discount``
    N(0.1,0.03); ``batch`` values each every ``every_s`` +-20 %, ``days``) whose ``basket_usd`` moves
    ``shift_sd`` sd up for good at ``at_h`` on day ``at_day``. ``retrain_after_h`` later an automation starts
    a retrain (trigger ``drift``, a new data_version with the new data). ``outcome`` ``failed``: it fails 25
    min in (OOM) and its one automatic retry 30 min later fails the same way; nobody retrains after that:
    truth, one ``retrain_needed`` from the shift to the end (goal 30 min; it must stay open: failed runs
    retrained nothing; a crash loop on its two failures is ambiguous: thin, but it tells the owner).
    ``outcome`` ``fresh``: the retrain succeeds in 40
    min with a clear metric gain (auc 0.861 -> 0.902): truth ``retrain_needed`` from the shift, ended by that
    retrain (its references rebuilt on the new data); nothing after it (no second drift, no
    ``retrain_without_drift``: the retrain was justified)."""
    g = np.random.default_rng(seed)
    r = random.Random(seed)
    model = "m-dynamic-pricing"
    w = wl(f"commerce/{model}", "inference", "pricing")
    a, t1 = T0 + at_day * DAY + at_h * HOUR, T0 + days * DAY
    feats = {"basket_usd": _cyc(80, 20, 0.5, 0.7, a, shift_sd), "items": _cyc(6, 2, 0.0, 0.0),
             "discount": _cyc(0.1, 0.03, 0.0, 0.0)}
    ev = obs_events(g, model, w, T0, t1, every_s, batch, feats)
    st = a + retrain_after_h * HOUR + r.uniform(0, 120)
    data = "orders-" + time.strftime("%Y%m%d%H%M", time.gmtime(st))
    if outcome == "failed":
        ev += _run_events(r, model, w, st, 25 * MIN + r.uniform(-30, 30), "failed", None, data, "drift", gpus)
        st2 = st + 55 * MIN + r.uniform(-30, 30)
        ev += _run_events(r, model, w, st2, 25 * MIN + r.uniform(-30, 30), "failed", None, data, "retry", gpus)
        tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN,
                    note="basket_usd +1.5 sd; both retrains failed: the drift stays"),
              # an automatic retry that fails again with material burn opens a crash loop by the README's early
              # rule; two failures are a thin loop, but telling the owner the retrain keeps failing is defensible
              truth("loop", model, w["id"], st, st2 + 30 * MIN, ambiguous=True,
                    note="the drift-triggered retrain and its retry both fail")]
    else:
        # a baseline run a day before, so the later one has a metric to compare with
        st0 = T0 + 1 * DAY + 3 * HOUR
        ev += _run_events(r, model, w, st0, 40 * MIN, "succeeded",
                          {"name": "auc", "value": 0.861, "higher_is_better": True},
                          "orders-" + time.strftime("%Y%m%d%H%M", time.gmtime(st0)), "schedule", gpus)
        ev += _run_events(r, model, w, st, 40 * MIN, "succeeded",
                          {"name": "auc", "value": 0.902, "higher_is_better": True}, data, "drift", gpus)
        tr = [truth("drift", model, w["id"], a, st + 40 * MIN, detect_by=st, goal_s=30 * MIN,
                    note="basket_usd +1.5 sd; resolved by a successful retrain on the new data")]
    return Scenario("", ev, tr)


# ================================================================= loops
def loop_drift_monitor(seed: int, loop: bool = True, nights: int = 3, storm_day: int = 1, storm_h: float = 9.0,
                       storm_hours: float = 6.0, every_min: float = 30.0, snapshot_every_h: float = 2.0,
                       gpus: int = 8) -> Scenario:
    """A churn model retrained every night at 01:00 (+0-2 min, trigger ``schedule``, that night's warehouse
    snapshot ``snap-YYYYMMDD``, 25-35 min on ``gpus`` GPUs, auc flat +-3e-4), ``nights`` nights. On day
    ``storm_day`` from ``storm_h`` (09:00) a drift monitor, alarmed by a feature that stays moved, fires every
    ``every_min`` (30, +0-60 s) for ``storm_hours`` (6 h) and each alarm starts the retrain (trigger
    ``drift``, 12-18 min). ``loop``: every retrain reads the same snapshot as that night's run (the warehouse
    did not refresh; same code, auc flat), about $6 a run, $280 a day: a no-gain loop, truth from the first
    drift-triggered run, goal 60 min (open by its second wasted round). ``loop`` False: the orchestrator only
    starts a retrain when a new snapshot has landed (every ``snapshot_every_h``), so 3 retrains in the 6 h,
    each on new data with a flat metric: must not alert."""
    r = random.Random(seed)
    model = "churn-xgb"
    w = wl("growth/churn-retrain", "training", "growth")
    ev: list[Event] = []

    def metric() -> Event:
        return {"name": "auc", "value": round(0.874 + r.uniform(-3e-4, 3e-4), 5), "higher_is_better": True}
    for d in range(nights):
        st = T0 + d * DAY + HOUR + r.uniform(0, 120)
        snap = "snap-" + time.strftime("%Y%m%d", time.gmtime(st))
        ev += _run_events(r, model, w, st, r.uniform(25, 35) * MIN, "succeeded", metric(), snap, "schedule", gpus)
    a = T0 + storm_day * DAY + storm_h * HOUR
    snap = "snap-" + time.strftime("%Y%m%d", time.gmtime(a))
    t = a
    last = a
    first: float | None = None
    seen: set[str] = set()
    while t < a + storm_hours * HOUR:
        st = t + r.uniform(0, 60)
        if loop:
            data = snap
        else:
            k = int((t - a) // (snapshot_every_h * HOUR))
            data = f"{snap}-r{k + 1}"
            if data in seen:
                t += every_min * MIN
                continue
            seen.add(data)
        dur = r.uniform(12, 18) * MIN
        ev += _run_events(r, model, w, st, dur, "succeeded", metric(), data, "drift", gpus)
        first = st if first is None else first
        last = st + dur
        t += every_min * MIN
    tr = [truth("loop", model, w["id"], first or a, last, goal_s=60 * MIN,
                note=f"drift monitor retrains every {every_min:g} min on {snap}")] if loop else []
    return Scenario("", ev, tr)


def register(r: dict[str, tuple[Any, dict[str, Any]]]) -> None:
    """Add this round's scenarios to the registry ``r``."""
    r["bill13_tiered_reset"] = (bill_tiered_pricing, {"spike": False})
    r["bill13_tiered_spike_x4"] = (bill_tiered_pricing, {"spike": True})
    r["bill13_model_migration"] = (bill_model_migration, {"pricier": False})
    r["bill13_model_migration_pricier"] = (bill_model_migration, {"pricier": True})
    r["bill13_batch_jobs"] = (bill_batch_jobs, {"factor": 1.0})
    r["bill13_batch_jobs_x5"] = (bill_batch_jobs, {"factor": 5.0})
    r["bill13_agent_loop"] = (bill_agent_loop, {"stuck": True})
    r["bill13_agent_loop_control"] = (bill_agent_loop, {"stuck": False})
    r["bill13_hourly_to_daily"] = (bill_hourly_to_daily, {"factor": 1.0})
    r["bill13_hourly_to_daily_x3"] = (bill_hourly_to_daily, {"factor": 3.0})
    r["drift13_daily_nulls"] = (drift_daily_nulls, {"shift": False})
    r["drift13_daily_nulls_shift"] = (drift_daily_nulls, {"shift": True})
    r["drift13_retrain_failed"] = (drift_retrain_outcome, {"outcome": "failed"})
    r["drift13_retrain_fresh"] = (drift_retrain_outcome, {"outcome": "fresh"})
    r["loop13_drift_monitor_30min"] = (loop_drift_monitor, {"loop": True})
    r["loop13_drift_monitor_control"] = (loop_drift_monitor, {"loop": False})
