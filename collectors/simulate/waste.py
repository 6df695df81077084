"""Structural waste: the slow, always-there problems that are reported (insights), not paged.

Each injection has its own random streams (seeded from the run's seed), so adding them leaves
the rest of the stream as it was: it draws nothing from the builder's shared generator.

``underused_gpu``
    A batch-queue GPU of a ``mixed`` node (one no other injection touches) whose jobs run
    20-60 minutes with 15-40 minute gaps, nothing allocated in between: a third or more of its
    day idle, in gaps that are each routine (none should page).
``underused_endpoint``
    Two replicas of the first ``infer`` node serve ``serving/reco-shadow`` around the clock at
    3-8 % load: one GPU would do.
``batch_on_realtime``
    Two more replicas serve ``serving/batch-scorer``: a 40-minute burst at 70-90 % every 4 hours
    (batch scoring), 3-6 % in between (health checks), on an always-on endpoint.
    (Both endpoint injections need an ``infer`` node: 17 GPUs or more. Each takes one replica of
    a different service, so every service keeps one and the fleet's billing rows stay the same.)
``redundant_training``
    Team search trains ``query-embed-v3``; team ads trains ``ads-query-embed`` a few hours later
    on the same ``data_version`` and ``code_version`` (8 GPUs, up to 3 h each).
``unit_cost``
    The four served models' workloads are billed (managed endpoints); ``ads/ctr-serving`` moves
    from ``ml.g5.2xlarge`` to ``ml.g5.12xlarge`` hosting at 30-45 % of the window: its spend and
    its cost per prediction double for the same traffic.
``over_budget``
    ``product/search-answers`` (team product) ramps +60 % over the 10 days before the window (a
    launch), against a monthly team budget set at 95 % of what the month will cost; team support
    gets a budget it will meet (30 % headroom).
``storage_growth``
    ``data/lakehouse-storage`` (Amazon S3, team data) grows 3 % a week from the first day of
    billing, against a workload budget the growth carries the month over (by 8 %: set on the
    month's level without the growth).

Budgets
    :func:`budgets` gives the ``budgets`` settings section the demo uses (the truth names the
    months the simulator expects over budget: those whose expected total is at least 3 % over;
    within 3 % either way an insight is neither required nor wrong).
"""

from __future__ import annotations

import calendar
import math
import random
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from collectors.simulate.config import DAY, HOUR, MIN
from collectors.simulate.fleet import BATCH_JOBS, PRICE, workload
from spendwatch.prices import PriceConfig

if TYPE_CHECKING:
    from collectors.simulate.builder import Builder
    from collectors.simulate.fleet import GpuStream

RECO = workload("serving/reco-shadow", "inference", "recsys", model="two-tower-shadow")
SCORER = workload("serving/batch-scorer", "inference", "risk", model="xgb-risk-scorer")
SEARCH_EMBED = workload("search/embed-train", "training", "search")
ADS_EMBED = workload("ads/embed-train", "training", "ads")
STORAGE = workload("data/lakehouse-storage", "batch", "data")
PRODUCT = "product/search-answers"
# the served models' workloads (collectors.simulate.observations) and their endpoints' $/h
ENDPOINTS = {"fintech/credit-limit-api": ("fintech", 4.0), "logistics/eta": ("ops", 2.5),
             "ads/ctr-serving": ("ads", 9.0), "product/intent-serving": ("product", 3.0)}
RAMP_DAYS, RAMP = 10.0, 0.6  # over_budget: +60 % over the 10 days before the window
STORAGE_USD_H, STORAGE_WEEKLY = 30.0, 0.03
PRICE_TRAINING = PriceConfig().training_gpu_usd


def _rng(sb: Builder, name: str) -> random.Random:
    return random.Random(f"{sb.cfg.seed}:{name}")


def _np(sb: Builder, k: int) -> np.random.Generator:
    return np.random.default_rng([sb.cfg.seed, 4242, k])


# ------------------------------------------------------------------ GPUs (before samples)
def inject_waste_gpus(sb: Builder) -> None:
    inj = sb.cfg.inject
    taken = {t["resource"] for t in sb.truth}
    if "underused_gpu" in inj:
        cands = [s for s in sb.streams if s.role == "batch" and s.node.startswith("hgx") and s.resource not in taken]
        if cands:
            _long_gaps(sb, cands[-1])
    infer = [s for s in sb.streams if s.role == "infer" and s.node.startswith("dgx") and s.resource not in taken]
    first_node = [s for s in infer if s.node == infer[0].node] if infer else []
    odd = first_node[1::2]  # one replica of each service on the node
    if len(odd) >= 4:
        if "underused_endpoint" in inj:
            for k, s in enumerate(odd[:2]):
                _low_load(sb, s, k)
            sb.add_truth("underused_endpoint", RECO["id"], RECO, sb.S, sb.E, gpus=2,
                         gpu_price_per_hour_usd=PRICE[odd[0].model])
        if "batch_on_realtime" in inj:
            phase = _rng(sb, "scorer").uniform(0, 4 * HOUR)
            for k, s in enumerate(odd[2:4]):
                _bursts(sb, s, k, phase)
            sb.add_truth("batch_on_realtime", SCORER["id"], SCORER, sb.S, sb.E, gpus=2, every_h=4.0,
                         gpu_price_per_hour_usd=PRICE[odd[2].model])


def _long_gaps(sb: Builder, s: GpuStream) -> None:
    """Jobs of 20-60 min separated by 15-40 min with nothing allocated; the first slot keeps its
    workload (the fleet's billing rows are drawn per workload holding a GPU at the start)."""
    g = _np(sb, 1)
    n, step = sb.n, sb.cfg.interval_s
    w0 = int(s.wl[0])
    s.util[:], s.sm[:], s.mem[:], s.wl[:] = 0.0, np.nan, 0.0, -1
    busy = g.uniform(60, 95, n)
    pos, j = 0, int(g.integers(0, len(BATCH_JOBS)))
    first = True
    while pos < n:
        if first and w0 < 0:
            pos += int(g.uniform(15, 40) * MIN / step)  # it started in a gap
        a, b = pos, min(n, pos + int(g.uniform(20, 60) * MIN / step))
        if b > a:
            w = w0 if first and w0 >= 0 else sb.wl_id(BATCH_JOBS[j % len(BATCH_JOBS)])
            s.util[a:b] = busy[a:b]
            s.mem[a:b] = g.uniform(0.4, 0.85)
            s.wl[a:b] = w
        first = False
        pos = b + int(g.uniform(15, 40) * MIN / step)
        j += 1
    s.role = "waste-queue"
    sb.add_truth("underused_gpu", s.resource, None, sb.S, sb.E, gpu_price_per_hour_usd=s.price,
                 node=s.node, idle_share=round(float((s.wl < 0).mean()), 3))


def _low_load(sb: Builder, s: GpuStream, k: int) -> None:
    g = _np(sb, 10 + k)
    hour = ((sb.S + sb.t_rel) % DAY) / HOUR
    s.util[:] = 5.0 + 1.5 * np.cos(2 * np.pi * (hour - 15) / 24) + g.uniform(-1.5, 1.5, sb.n)
    s.mem[:] = 0.45
    s.wl[:] = sb.wl_id(RECO)
    s.role = "waste-endpoint"


def _bursts(sb: Builder, s: GpuStream, k: int, phase: float) -> None:
    g = _np(sb, 20 + k)
    t = sb.S + sb.t_rel
    in_burst = ((t - sb.S + phase) % (4 * HOUR)) < 40 * MIN
    s.util[:] = np.where(in_burst, g.uniform(70, 90, sb.n), g.uniform(3, 6, sb.n))
    s.mem[:] = 0.6
    s.wl[:] = sb.wl_id(SCORER)
    s.role = "waste-endpoint"


# ------------------------------------------------------------------ billing
def add_waste_billing(sb: Builder) -> None:
    """The endpoints' GPU-meter rows, the served models' endpoints, storage growth."""
    cfg, inj = sb.cfg, sb.cfg.inject
    r = _rng(sb, "billing")
    t0 = sb.S - round(cfg.billing_days * 24) * HOUR
    hours = int((sb.E - t0) // HOUR)
    events: list[dict[str, Any]] = []

    def row(wl: dict[str, Any], t: float, cost: float, **fields: Any) -> None:
        events.append({"type": "billing_delta", "ts": round(t + HOUR + r.uniform(240, 900), 3), "period_start": t,
                       "period_end": t + HOUR, "cost_usd": round(cost, 4), "workload": wl, **fields})

    # the repurposed replicas, billed by allocation like the rest of the fleet
    for wl in (RECO, SCORER):
        streams = [s for s in sb.streams if s.role == "waste-endpoint" and s.wl[0] >= 0
                   and sb.workloads[int(s.wl[0])] is wl]
        per_hour = sum(s.price for s in streams)
        for h in range(hours):
            if per_hour:
                row(wl, t0 + h * HOUR, per_hour * max(0.8, r.gauss(1, 0.02)), source="gpu_meter",
                    service="Kubernetes GPU pool", resource_id=f"gpu-pool/{wl['id'].split('/')[0]}", sku="gpu-hour",
                    usage_quantity=len(streams), usage_unit="GPU-hours")
    if "unit_cost" in inj:
        a, _ = sb.window(0.3, 0.45, 1, 1)
        rise = math.ceil(a / HOUR) * HOUR
        for wid, (team, usd) in ENDPOINTS.items():
            wl = {"id": wid, "kind": "inference", "team": team, "owner": f"{team}-oncall@corp.example"}
            for h in range(hours):
                t = t0 + h * HOUR
                dear = wid == "ads/ctr-serving" and t >= rise
                sku = "ml.g5.12xlarge-hosting" if dear else "ml.g5.2xlarge-hosting"
                cost = usd * (2.0 if dear else 1.0) * max(0.8, r.gauss(1, 0.02))
                row(wl, t, cost, source="focus", service="Amazon SageMaker",
                    resource_id=f"endpoint/{wid.split('/')[1]}", sku=sku, usage_quantity=1.0, usage_unit="Hrs")
        wl = {"id": "ads/ctr-serving", "kind": "inference", "team": "ads", "owner": "ads-oncall@corp.example"}
        sb.add_truth("unit_cost", "ads-ctr-dnn", wl, rise, sb.E, factor=2.0)
    if "storage_growth" in inj:
        for h in range(hours):
            t = t0 + h * HOUR
            cost = _storage_mean(t, t0) * max(0.95, r.gauss(1, 0.005))
            row(STORAGE, t, cost, source="focus", service="Amazon S3", resource_id="s3://lakehouse-prod",
                sku="TimedStorage-ByteHrs", usage_quantity=round(cost / 0.023 * 720 / 1000, 1), usage_unit="GB-Mo")
        sb.add_truth("storage_growth", STORAGE["id"], STORAGE, sb.S, sb.E, weekly_pct=100 * STORAGE_WEEKLY)
    sb.emit(events)


def ramp(t: float, start: float) -> float:
    """The over_budget launch: spend x1 -> x1.6 over the RAMP_DAYS before the window."""
    return 1.0 + RAMP * min(1.0, max(0.0, (t - (start - RAMP_DAYS * DAY)) / (RAMP_DAYS * DAY)))


def _storage_mean(t: float, t0: float) -> float:
    return STORAGE_USD_H * (1.0 + STORAGE_WEEKLY) ** ((t - t0) / (7 * DAY))


# ------------------------------------------------------------------ training
def add_waste_training(sb: Builder) -> None:
    if "redundant_training" not in sb.cfg.inject:
        return
    r = _rng(sb, "training")
    hours = sb.cfg.hours
    dur = min(3.0, 0.2 * hours) * HOUR
    a = sb.S + r.uniform(0.05, 0.15) * hours * HOUR
    b = a + dur + r.uniform(0.1, 0.25) * hours * HOUR
    data, code = "clickstream-2026w12", "embed@1f3c9a0"
    out: list[dict[str, Any]] = []
    for model, wl, start in (("query-embed-v3", SEARCH_EMBED, a), ("ads-query-embed", ADS_EMBED, b)):
        rid = f"{model}-{r.getrandbits(40):010x}"
        end = min(start + dur, sb.E - 60)
        for ts, status in ((start, "started"), (end, "succeeded")):
            gh = 8 * (ts - start) / HOUR
            done = status == "succeeded"
            out.append({"type": "training_run", "ts": round(ts, 3), "run_id": rid, "model_id": model, "workload": wl,
                        "status": status, "started_at": round(start, 3), "ended_at": round(ts, 3) if done else None,
                        "gpu_hours": round(gh, 3), "cost_usd": round(gh * PRICE_TRAINING, 2),
                        "metric": {"name": "recall@10", "value": round(0.612 + r.uniform(-0.002, 0.002), 4),
                                   "higher_is_better": True} if done else None,
                        "data_version": data, "code_version": code, "trigger": "manual"})
        if wl is ADS_EMBED:
            sb.add_truth("redundant_training", f"{data}@{code}", wl, start, end, original="query-embed-v3",
                         original_team="search")
    sb.emit(sorted(out, key=lambda e: e["ts"]))



# ------------------------------------------------------------------ budgets
def _months(t0: float, end: float) -> list[tuple[float, float, str]]:
    """(first second, end second, 'YYYY-MM') of every month from ``t0`` through ``end``'s month."""
    out = []
    g = time.gmtime(t0)
    y, m = g.tm_year, g.tm_mon
    while True:
        a = calendar.timegm((y, m, 1, 0, 0, 0))
        b = a + calendar.monthrange(y, m)[1] * DAY
        out.append((float(a), float(b), f"{y:04d}-{m:02d}"))
        if b > end:
            return out
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)


def _product_daily(t: float, start: float, endpoint: bool) -> float:
    """Expected spend of team product on the UTC day starting at ``t``: product/search-answers
    (billing.py's model: $12/h weekdays, x0.6 at weekends, a daily cycle that sums to zero, noise
    of mean ~1) and, with the ``unit_cost`` injection, its intent-serving endpoint."""
    wk = 0.6 if time.gmtime(t).tm_wday >= 5 else 1.0
    answers = sum(12.0 * wk * ramp(t + h * HOUR, start) for h in range(24))
    return answers + (24 * ENDPOINTS["product/intent-serving"][1] if endpoint else 0.0)


def _support_daily(t: float) -> float:
    wk = 0.45 if time.gmtime(t).tm_wday >= 5 else 1.0
    return 38.0 * 24 * wk


def budgets(sb: Builder) -> dict[str, Any]:
    """The ``budgets`` settings section for this run, and truth entries for the months expected over."""
    cfg, inj = sb.cfg, sb.cfg.inject
    t0 = sb.S - round(cfg.billing_days * 24) * HOUR
    months = _months(t0, sb.E)
    _a, _b, label = months[-1]
    teams: dict[str, float] = {}
    workloads: dict[str, float] = {}
    cur_a, cur_b, _ = months[-1]
    if "over_budget" in inj:
        ep = "unit_cost" in inj
        total = sum(_product_daily(d, sb.S, ep) for d in np.arange(cur_a, cur_b, DAY))
        teams["product"] = float(round(0.95 * total, -1))
        teams["support"] = float(round(1.3 * sum(_support_daily(d) for d in np.arange(cur_a, cur_b, DAY)), -1))
        for a, b, lab in months:
            expected = sum(_product_daily(d, sb.S, ep) for d in np.arange(a, b, DAY))
            _truth_month(sb, "team:product", {"id": "team/product", "team": "product"}, lab, a, b, expected,
                         teams["product"])
        # the launch ramp itself may read as a creep: neither required nor wrong
        sb.truth.append({"kind": "over_budget", "expected_kinds": ["spend_growth"], "resource": PRODUCT,
                         "workload": PRODUCT, "team": "product", "start": sb.S, "end": sb.E, "optional": True})
    if "storage_growth" in inj:
        total = sum(_storage_mean(float(h), t0) for h in np.arange(cur_a, cur_b, HOUR))
        workloads[STORAGE["id"]] = float(round(total / 1.08, -1))
        for a, b, lab in months:
            expected = sum(_storage_mean(float(h), t0) for h in np.arange(a, b, HOUR))
            _truth_month(sb, f"workload:{STORAGE['id']}", STORAGE, lab, a, b, expected, workloads[STORAGE["id"]])
    return {"teams": teams, "workloads": workloads}


def _truth_month(sb: Builder, resource: str, wl: dict[str, Any], label: str, a: float, b: float, expected: float,
                 budget: float) -> None:
    """A truth entry for a month overlapping the window whose expected total is 3 % or more over
    budget (optional within 3 %). Months before the window are its history: what was said about
    them is over before the window starts."""
    ratio = expected / budget
    # a month is first forecast once its first hour is billed (an hour and a bit after it begins)
    start, end = max(a + 1.5 * HOUR, sb.S), min(b, sb.E)
    if ratio < 0.97 or end <= start:
        return
    sb.truth.append({"kind": "over_budget", "expected_kinds": ["budget_forecast"], "resource": resource,
                     "workload": wl["id"], "team": wl.get("team"), "start": round(start, 3), "end": round(end, 3),
                     "month": label, "budget_usd": budget, "expected_month_usd": round(expected, 2),
                     "optional": ratio < 1.03})
