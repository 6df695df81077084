"""Probe scenarios: small streams built from assumptions other than our own generators', scored like
the public scorecard (``../shared/eval/scorecard.py``).

    python -m bench.probe_scenarios list
    python -m bench.probe_scenarios run --out DIR [--only NAME[,NAME]] [--param K=V ...] [--seed N] [--json]
        [--cmd 'spendwatch replay']

Each scenario varies one assumption (GPU sampling cadence, billing granularity and lateness, retrain
cadence, observation batch size and rate) and carries its truth: ``family``, ``resource`` (GPU or MIG
uuid, model id; None for cost), ``workload``, ``start``, ``end``, as in the scorecard, plus three
optional fields of this script: ``detect_by`` (latest ``detected_at`` that still matches; default
``max(end, start + 45 min)`` as in the scorecard), ``goal_s`` (time-to-open goal of issue 11 for that
truth) and ``ambiguous`` (a phenomenon where both an open and silence are defensible: an open matched
to it is neither a true nor a false open, silence is not a miss; see ``month_start`` and
``weekly_rollup``). A scenario without truths is a must-not-alert stream: every open is a false open.

Scoring (per scenario): the first ``open`` of each anomaly id matches the first truth of its family
with the same resource (outside idle: or the same workload id) whose window
``[start - 60 s, detect_by]`` holds ``detected_at``; more ids on one truth are duplicates; unmatched
ids are false opens; ``reopen`` counts ``open`` events of an id after its ``resolved`` (flapping under
one id). Delay = first ``detected_at`` - ``start``; an open slower than ``goal_s`` is listed as slow.

Generators use the standard library and numpy only, and are deterministic per ``--seed`` and name.
Every scenario is written to ``DIR/NAME/events.jsonl`` (sorted by ``ts``) and ``DIR/NAME/truth.json``,
replayed with ``CMD EVENTS --out DIR/NAME/anomalies.jsonl`` and scored; ``DIR/findings.json`` lists
every false open, miss, duplicate, reopen and slow open with the anomaly's key evidence and the
generator call that reproduces it.
"""

from __future__ import annotations

import argparse
import bisect
import calendar
import json
import math
import random
import re
import shlex
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MIN, HOUR, DAY = 60.0, 3600.0, 86400.0
T0 = float(calendar.timegm((2026, 3, 2, 0, 0, 0)))  # a Monday, 00:00 UTC
GIB = 2**30
A100, H100, L4 = "NVIDIA A100-SXM4-80GB", "NVIDIA H100 80GB HBM3", "NVIDIA L4"
A100_PRICE = 2.95
GRACE = 45 * MIN
FAMILY = {"idle_gpu": "idle", "gpu_memory_hoarding": "idle", "cost_spike": "cost",
          "retrain_loop": "loop", "retrain_needed": "drift", "retrain_without_drift": "nodrift"}
BY_WORKLOAD = ("cost", "loop", "drift", "nodrift")
ABSENT = "absent"  # a price_per_hour_usd field left out of the sample altogether

Event = dict[str, Any]
GpuState = tuple[float, float | None, float, "Event | None"]  # util %, sm % (None: derived), mem fraction, workload


@dataclass
class Scenario:
    name: str
    events: list[Event]
    truth: list[dict[str, Any]]
    notes: str = ""
    generator: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    ordered: bool = False  # events are in delivery order (not sorted by ts): build keeps that order
    bad_lines: int | None = None  # how many events are bad input by the contract (round 8): run compares replay's


def wl(wid: str, kind: str, team: str, **labels: str) -> Event:
    w: Event = {"id": wid, "kind": kind, "team": team, "owner": f"{team}-oncall@corp.example"}
    if labels:
        w["labels"] = dict(labels)
    return w


def truth(family: str, resource: str | None, workload: str | None, start: float, end: float, *,
          detect_by: float | None = None, goal_s: float | None = None, ambiguous: bool = False,
          price: float | None = None, note: str = "") -> dict[str, Any]:
    t: dict[str, Any] = {"family": family, "resource": resource, "workload": workload,
                         "start": round(start, 3), "end": round(end, 3)}
    if detect_by is not None:
        t["detect_by"] = round(detect_by, 3)
    if goal_s is not None:
        t["goal_s"] = goal_s
    if ambiguous:
        t["ambiguous"] = True
    if price is not None:
        t["price"] = price
    if note:
        t["note"] = note
    return t


def _uuid(r: random.Random, prefix: str) -> str:
    h = f"{r.getrandbits(128):032x}"
    return f"{prefix}-{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


# ====================================================================== GPUs
@dataclass
class Device:
    node: str
    gpu_uuid: str
    behaviour: Callable[[float], GpuState]
    mig_uuid: str | None = None
    model: str | None = A100
    mem_gib: float = 80.0
    price: float | str | None = A100_PRICE  # a number, None (null on the wire) or ABSENT (no field)
    sm: bool = True  # emits sm_active_pct
    pid: int = 1000


def timeline(segments: list[tuple[float, Callable[[float], GpuState]]]) -> Callable[[float], GpuState]:
    """Piecewise behaviour: ``segments`` are ``(from_t, state)`` sorted by time; the last one that began rules."""
    starts = [s for s, _ in segments]

    def f(t: float) -> GpuState:
        i = 0
        for k, s in enumerate(starts):
            if s <= t:
                i = k
        return segments[i][1](t)
    return f


class States:
    """GPU activity states drawn from one random stream."""

    def __init__(self, r: random.Random) -> None:
        self.r = r

    def busy(self, w: Event | None, lo: float = 72, hi: float = 98, mem: float = 0.78) -> Callable[[float], GpuState]:
        return lambda t: (self.r.uniform(lo, hi), None, mem, w)

    def idle(self, w: Event | None, mem: float) -> Callable[[float], GpuState]:
        return lambda t: (0.0, self.r.uniform(0.0, 0.2), mem, w)

    def training(self, w: Event, phase: float, every: float = 50 * MIN, pause: float = 4 * MIN,
                 mem: float = 0.78) -> Callable[[float], GpuState]:
        """Busy with a checkpoint write (SMs idle, memory held) of ``pause`` every ``every``."""
        def f(t: float) -> GpuState:
            if (t + phase) % every < pause:
                return self.r.uniform(0.0, 0.8), self.r.uniform(0.0, 0.3), mem, w
            return self.r.uniform(74, 97), None, mem, w
        return f


def gpu_events(r: random.Random, devs: list[Device], t0: float, t1: float, step: float, jitter: float = 0.0,
               missing: dict[str, list[tuple[float, float]]] | None = None) -> list[Event]:
    """Samples of every device every ``step`` s (+- ``jitter`` as a fraction), none inside ``missing`` windows."""
    out: list[Event] = []
    for d in devs:
        key = d.mig_uuid or d.gpu_uuid
        gaps = (missing or {}).get(key, [])
        t = t0 + r.uniform(0, min(step, 30.0))
        total = int(d.mem_gib * GIB)
        while True:
            dt = step * (1 + r.uniform(-jitter, jitter)) if jitter else step
            if t + dt > t1:
                break
            a, t = t, t + dt
            if any(ga < t and a < gb for ga, gb in gaps):
                continue
            util, sm, mem, w = d.behaviour(a + dt / 2)
            used = int(total * mem)
            ev: Event = {"type": "gpu_sample", "ts": round(t + r.uniform(0.05, 1.5), 3), "node": d.node,
                         "gpu_uuid": d.gpu_uuid, "interval_s": round(dt, 3),
                         "util_gpu_pct": round(min(100.0, max(0.0, util)), 2),
                         "mem_used_bytes": used, "mem_total_bytes": total, "workload": w,
                         "processes": [{"pid": d.pid, "used_mem_bytes": used}] if w and used else []}
            if d.mig_uuid:
                ev["mig_uuid"] = d.mig_uuid
            if d.model:
                ev["gpu_model"] = d.model
            if d.sm:
                s = util * r.uniform(0.6, 0.85) if sm is None else sm
                ev["sm_active_pct"] = round(min(100.0, max(0.0, s)), 2)
            if d.price != ABSENT:
                ev["price_per_hour_usd"] = d.price
            if not d.mig_uuid:
                ev["power_w"] = round(60 + 3.0 * util + (20 if used else 0) + r.gauss(0, 3), 1)
            out.append(ev)
    return out


def cadence(seed: int, step_s: float = 15.0, jitter: float = 0.0, missing: bool = False, sm: bool = True,
            price: float | str | None = A100_PRICE, model: str | None = A100, idle_h: float = 1.0,
            busy_h: float = 3.0) -> Scenario:
    """A training GPU busy ``busy_h`` (checkpoint pauses) goes idle ``idle_h`` holding its memory (a hung job),
    then works again for an hour; an inference GPU on the same node stays busy. ``missing``: three bursts of
    5-15 min without samples while busy, one of 10 min in the middle of the idle stretch (must not split it)."""
    r = random.Random(seed)
    st = States(r)
    g0, g1 = _uuid(r, "GPU"), _uuid(r, "GPU")
    w0, w1 = wl("vision/vit-pretrain", "training", "vision"), wl("serving/ranker", "inference", "search")
    a, b = T0 + busy_h * HOUR, T0 + (busy_h + idle_h) * HOUR
    end = b + HOUR
    f0 = timeline([(T0, st.training(w0, r.uniform(0, 3000))), (a, st.idle(w0, 0.74)),
                   (b, st.training(w0, r.uniform(0, 3000)))])
    devs = [Device("node-a", g0, f0, model=model, price=price, sm=sm, pid=11),
            Device("node-a", g1, st.busy(w1, 25, 60, 0.4), model=model, price=price, sm=sm, pid=12)]
    gaps: dict[str, list[tuple[float, float]]] = {}
    if missing:
        for g in (g0, g1):
            starts = sorted(T0 + r.uniform(0.3, busy_h - 0.4) * HOUR for _ in range(3))
            gaps[g] = [(s, s + r.uniform(5, 15) * MIN) for s in starts]
        mid = (a + b) / 2
        gaps[g0].append((mid - 5 * MIN, mid + 5 * MIN))
    ev = gpu_events(r, devs, T0, end, step_s, jitter, gaps)
    p = price if isinstance(price, float) else None
    return Scenario("", ev, [truth("idle", g0, w0["id"], a, b, goal_s=10 * MIN, price=p)])


def training_idle(seed: int, idle_min: float = 60.0, busy_days: float = 2.0, gpus: int = 4,
                  step_s: float = 60.0) -> Scenario:
    """A ``gpus``-GPU training job on one node busy ``busy_days`` (checkpoint pauses of 3-6 min every 40-60 min;
    an evaluation every 6 h: rank 0 busy, the other ranks wait 10-15 min at the barrier), then every rank
    idle ``idle_min`` holding memory (hung collective), then one more busy hour. One truth per GPU."""
    r = random.Random(seed)
    st = States(r)
    w = wl("llm/pretrain-7b", "training", "foundation")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    a = T0 + busy_days * DAY
    b = a + idle_min * MIN
    every, pause = r.uniform(40, 60) * MIN, r.uniform(3, 6) * MIN
    phase = r.uniform(0, every)
    evals = [T0 + k * 6 * HOUR + 2 * HOUR for k in range(int(busy_days * 4))]
    eval_len = r.uniform(10, 15) * MIN

    def rank(i: int) -> Callable[[float], GpuState]:
        train = st.training(w, phase, every, pause)

        def f(t: float) -> GpuState:
            if any(e <= t < e + eval_len for e in evals):
                return (r.uniform(60, 90), None, 0.78, w) if i == 0 else (0.0, r.uniform(0, 0.2), 0.78, w)
            return train(t)
        return timeline([(T0, f), (a, st.idle(w, 0.78)), (b, train)])
    devs = [Device("dgx-07", u, rank(i), pid=100 + i) for i, u in enumerate(uuids)]
    ev = gpu_events(r, devs, T0, b + HOUR, step_s)
    return Scenario("", ev, [truth("idle", u, w["id"], a, b, goal_s=10 * MIN, price=A100_PRICE) for u in uuids])


def batch_queue(seed: int, long_gap_min: float = 60.0, days: float = 3.0, gaps: str = "lognormal",
                gpus: int = 4, step_s: float = 30.0) -> Scenario:
    """Batch-queue GPUs (a worker pool pod that stays allocated): jobs of 10-90 min (log-normal) separated by
    routine gaps of 5-40 min (``gaps``: ``lognormal`` median 12 min, or ``geometric`` in 1-min steps, mean
    12 min), on ``gpus`` GPUs of one node; GPU 0 has one long gap of ``long_gap_min`` late on the last day
    (0 = none: a must-not-alert stream)."""
    r = random.Random(seed)
    st = States(r)
    w = wl("batch/embed-backfill", "batch", "search")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    long_at = end - 10 * HOUR
    truths = []

    def gap() -> float:
        if gaps == "geometric":
            g = 5.0
            while r.random() > 1 / 7:
                g += 1.0
            return min(40.0, g) * MIN
        return min(40.0, max(5.0, r.lognormvariate(math.log(12), 0.5))) * MIN
    devs = []
    for i, u in enumerate(uuids):
        segs: list[tuple[float, Callable[[float], GpuState]]] = []
        t = T0
        placed = long_gap_min <= 0 or i != 0
        while t < end:
            segs.append((t, st.busy(w, 55, 98, 0.6)))
            t += min(90.0, max(10.0, r.lognormvariate(math.log(30), 0.6))) * MIN
            segs.append((t, st.idle(w, 0.0)))
            if not placed and t >= long_at:
                truths.append(truth("idle", u, w["id"], t, t + long_gap_min * MIN, goal_s=None, price=A100_PRICE,
                                    note="a gap clearly longer than the queue's routine 5-40 min"))
                t += long_gap_min * MIN
                placed = True
            else:
                t += gap()
        devs.append(Device("batch-03", u, timeline(segs), pid=200 + i))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), truths)


def straggler(seed: int, idle_min: float = 20.0, ranks: int = 8, step_s: float = 15.0) -> Scenario:
    """An 8-rank job on one node: rank 5 (the last with fewer ranks) stops (util 0, memory held) for
    ``idle_min`` while the others work."""
    r = random.Random(seed)
    st = States(r)
    w = wl("recsys/dlrm-train", "training", "recsys")
    uuids = [_uuid(r, "GPU") for _ in range(ranks)]
    a = T0 + 3 * HOUR
    b = a + idle_min * MIN
    phase = r.uniform(0, 3000)
    k = min(5, ranks - 1)
    devs = []
    for i, u in enumerate(uuids):
        train = st.training(w, phase)
        f = timeline([(T0, train), (a, st.idle(w, 0.8)), (b, train)]) if i == k else train
        devs.append(Device("dgx-11", u, f, pid=300 + i))
    ev = gpu_events(r, devs, T0, b + HOUR, step_s)
    return Scenario("", ev, [truth("idle", uuids[k], w["id"], a, b, goal_s=5 * MIN, price=A100_PRICE)])


def endpoint_quiet(seed: int, quiet_h: float = 6.0, blip_every_min: float = 6.0, days: float = 2.0,
                   step_s: float = 30.0) -> Scenario:
    """An inference endpoint with its model loaded (60 % memory), daily traffic cycle 8-55 % for ``days``, then
    ``quiet_h`` of near-zero traffic: a lone request every ``blip_every_min`` (one sample at 3-9 %; 0 = none)."""
    r = random.Random(seed)
    w = wl("serving/support-llm", "inference", "assistant")
    g = _uuid(r, "GPU")
    a = T0 + days * DAY
    b = a + quiet_h * HOUR

    def traffic(t: float) -> GpuState:
        load = 31 + 23 * math.sin(2 * math.pi * (t - T0) / DAY - 1.2)
        return max(2.5, load + r.gauss(0, 3)), None, 0.6, w
    nxt = [a + r.uniform(0.5, 1.5) * blip_every_min * MIN]

    def quiet(t: float) -> GpuState:
        if blip_every_min > 0 and t >= nxt[0]:
            nxt[0] = t + r.uniform(0.5, 1.5) * blip_every_min * MIN
            return r.uniform(3, 9), None, 0.6, w
        return r.uniform(0, 0.4), r.uniform(0, 0.2), 0.6, w
    f = timeline([(T0, traffic), (a, quiet), (b, traffic)])
    ev = gpu_events(r, [Device("inf-02", g, f, model=H100, mem_gib=80, price=3.9)], T0, b + 2 * HOUR, step_s)
    return Scenario("", ev, [truth("idle", g, w["id"], a, b, goal_s=10 * MIN, price=3.9)])


def notebook_blip(seed: int, idle_h: float = 6.0, blips: int = 2, blip_min: float = 4.0,
                  step_s: float = 15.0) -> Scenario:
    """A notebook GPU: two hours of bursty interactive use, then ``idle_h`` idle holding 30 % memory with
    ``blips`` busy cells of ``blip_min`` inside the stretch; one truth over the whole stretch (a second
    anomaly id for it is a split)."""
    r = random.Random(seed)
    st = States(r)
    w = wl("notebooks/jhub-akim", "notebook", "analytics")
    g = _uuid(r, "GPU")
    a = T0 + 2 * HOUR
    b = a + idle_h * HOUR

    def interactive(t: float) -> GpuState:
        on = int((t - T0) / (3 * MIN)) % 3 != 2
        return (r.uniform(20, 70) if on else r.uniform(0, 1)), None, 0.3, w
    segs: list[tuple[float, Callable[[float], GpuState]]] = [(T0, interactive), (a, st.idle(w, 0.3))]
    for k in range(1, blips + 1):
        at = a + k * idle_h * HOUR / (blips + 1)
        segs += [(at, st.busy(w, 30, 60, 0.3)), (at + blip_min * MIN, st.idle(w, 0.3))]
    segs.append((b, interactive))
    ev = gpu_events(r, [Device("nb-01", g, timeline(segs), pid=400)], T0, b + HOUR, step_s)
    return Scenario("", ev, [truth("idle", g, w["id"], a, b, price=A100_PRICE,
                                   note="notebook: rhythm unknown, README dwell 90 min; no goal")])


def mig_slices(seed: int, idle_h: float = 2.0, step_s: float = 30.0, profile_field: bool = False,
               price: float | str | None = None) -> Scenario:
    """An H100 split in seven 1g.10gb slices: six serve busy small models, slice 3's endpoint goes quiet for
    ``idle_h`` with its model loaded. No ``mig_profile`` field (only the contract's fields) unless asked."""
    r = random.Random(seed)
    st = States(r)
    g = _uuid(r, "GPU")
    migs = [_uuid(r, "MIG") for _ in range(7)]
    ws = [wl(f"serving/small-{i}", "inference", "assistant") for i in range(7)]
    a = T0 + 3 * HOUR
    b = a + idle_h * HOUR
    devs = []
    for i, m in enumerate(migs):
        f = st.busy(ws[i], 30, 80, 0.7)
        if i == 3:
            f = timeline([(T0, f), (a, st.idle(ws[i], 0.7)), (b, f)])
        devs.append(Device("hgx-02", g, f, mig_uuid=m, model=H100, mem_gib=10, price=price, pid=500 + i))
    ev = gpu_events(r, devs, T0, b + HOUR, step_s)
    if profile_field:
        for e in ev:
            e["mig_profile"] = "1g.10gb"
    return Scenario("", ev, [truth("idle", migs[3], ws[3]["id"], a, b, goal_s=10 * MIN)])


def time_sliced(seed: int, pods: int = 3, idle_h: float = 1.0, step_s: float = 15.0) -> Scenario:
    """One A100 time-sliced by ``pods`` pods: every interval the collector emits one sample per pod (same
    gpu_uuid, that pod's workload and processes, the whole GPU's utilisation). The pods take turns (the GPU is
    busy 40-90 % in all), a pod's own quiet minutes are not idle; then all pods stop for ``idle_h``: one truth."""
    r = random.Random(seed)
    g = _uuid(r, "GPU")
    ws = [wl(f"dev/shared-pod-{i}", "inference", "platform") for i in range(pods)]
    a = T0 + 4 * HOUR
    b = a + idle_h * HOUR
    out: list[Event] = []
    t = T0
    total = 80 * GIB
    while t + step_s <= b + HOUR:
        t += step_s
        quiet = a <= t < b
        util = r.uniform(0, 0.3) if quiet else r.uniform(40, 90)
        for i, w in enumerate(ws):
            used = int(total * 0.2)
            out.append({"type": "gpu_sample", "ts": round(t + r.uniform(0.05, 1.0), 3), "node": "shared-01",
                        "gpu_uuid": g, "gpu_model": A100, "interval_s": step_s, "util_gpu_pct": round(util, 2),
                        "sm_active_pct": round(util * 0.7, 2), "mem_used_bytes": used * pods,
                        "mem_total_bytes": total, "workload": w,
                        "processes": [{"pid": 600 + i, "used_mem_bytes": used}], "price_per_hour_usd": A100_PRICE})
    return Scenario("", out, [truth("idle", g, None, a, b, goal_s=10 * MIN, price=A100_PRICE,
                                    note="one idle anomaly for the GPU; one per pod counts as duplicates")])


# ==================================================================== billing
def _rows(r: random.Random, series: Iterable[tuple[float, float, float]], w: Event, fields: Event,
          late: tuple[float, float] = (240, 900), skus: list[tuple[str, float]] | None = None,
          streamed: int = 0) -> list[Event]:
    """Billing rows for ``(period_start, period_end, cost)``: one row a SKU (cost split by share), landing
    ``late`` s after the period ends; ``streamed`` > 0: that many small rows with ts inside the period."""
    out: list[Event] = []
    for ps, pe, cost in series:
        parts = skus or [(str(fields.get("sku", "usage")), 1.0)]
        for sku, share in parts:
            c = cost * share
            if streamed:
                cuts = np.sort(np.array([r.random() for _ in range(streamed - 1)]))
                shares = np.diff(np.concatenate(([0.0], cuts, [1.0])))
                for k, s in enumerate(shares):
                    ts = ps + (k + r.random()) * (pe - ps) / streamed
                    out.append({"type": "billing_delta", "ts": round(min(ts, pe - 0.5), 3), "period_start": ps,
                                "period_end": pe, "workload": w, **fields, "sku": sku,
                                "cost_usd": round(c * float(s), 6)})
                continue
            out.append({"type": "billing_delta", "ts": round(pe + r.uniform(*late), 3), "period_start": ps,
                        "period_end": pe, "workload": w, **fields, "sku": sku, "cost_usd": round(c, 6)})
    return out


def _gmt(t: float) -> time.struct_time:
    return time.gmtime(t)


def daily_shape(amp: float, peak_h: float = 15.0) -> Callable[[float], float]:
    return lambda t: 1 + amp * math.cos(2 * math.pi * ((t % DAY) / HOUR - peak_h) / 24)


def spend(r: random.Random, t0: float, t1: float, period: float, level: float, shape: Callable[[float], float],
          sigma: float = 0.0, mult: Callable[[float], float] | None = None) -> list[tuple[float, float, float]]:
    out = []
    t = t0
    while t + period <= t1 + 1e-6:
        noise = r.lognormvariate(-sigma * sigma / 2, sigma) if sigma > 0 else 1.0
        m = mult(t) if mult else 1.0
        out.append((t, t + period, max(0.0, level * shape(t + period / 2) * noise * m)))
        t += period
    return out


FOCUS = {"source": "focus", "service": "Amazon SageMaker", "resource_id": "endpoint/ranker-prod",
         "sku": "ml.g5.2xlarge-hosting"}


def bill_spike(seed: int, factor: float = 5.0, hours: float = 3.0, days: float = 21.0, sigma: float = 0.2,
               late_h: tuple[float, float] = (0.07, 0.25), period_min: float = 60.0, amp: float = 0.4) -> Scenario:
    """An hourly (``period_min``) workload with a daily cycle and log-normal noise; x``factor`` for ``hours``
    on day 16 (factor 1: no spike, must not alert). Rows land ``late_h`` hours after the period ends."""
    r = random.Random(seed)
    w = wl("serving/ranker-prod", "inference", "search")
    period = period_min * MIN
    a = T0 + (days - 5) * DAY + 13 * HOUR
    b = a + hours * HOUR
    s = spend(r, T0, T0 + days * DAY, period, 12.0 * period / HOUR, daily_shape(amp), sigma,
              lambda t: factor if a <= t < b else 1.0)
    ev = _rows(r, s, w, FOCUS, (late_h[0] * HOUR, late_h[1] * HOUR))
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + late_h[1] * HOUR + 2 * period
                                         + GRACE, goal_s=period + late_h[1] * HOUR)]
    return Scenario("", ev, tr)


def bill_step(seed: int, factor: float = 1.5, days: float = 21.0, at_day: float = 12.0, sigma: float = 0.15,
              amp: float = 0.3) -> Scenario:
    """A persistent x``factor`` step (a bigger instance type for good) on an hourly series at ``at_day``:
    one anomaly that stays open (the README accepts it as normal after 7 days: a resolve then is fine)."""
    r = random.Random(seed)
    w = wl("research/moe-pretrain", "training", "research")
    a = T0 + at_day * DAY + 9 * HOUR
    s = spend(r, T0, T0 + days * DAY, HOUR, 60.0, daily_shape(amp, 11), sigma,
              lambda t: factor if t >= a else 1.0)
    fields = {"source": "gpu_meter", "service": "Compute Engine", "resource_id": "zones/us-c1/a3-pool",
              "sku": "a3-highgpu-8g", "usage_unit": "GPU-hours"}
    ev = _rows(r, s, w, fields)
    end = T0 + days * DAY
    return Scenario("", ev, [truth("cost", None, w["id"], a, end, goal_s=2 * HOUR)])


def bill_late(seed: int, factor: float = 5.0, late_max_h: float = 3.0, days: float = 21.0) -> Scenario:
    """Hourly rows landing 0-``late_max_h`` hours late, so the file (sorted by ts) holds periods out of order;
    two SKUs a period land independently; a x``factor`` spike for 3 h on day 16."""
    r = random.Random(seed)
    w = wl("data/feature-pipeline", "batch", "data")
    a = T0 + (days - 5) * DAY + 4 * HOUR
    b = a + 3 * HOUR
    s = spend(r, T0, T0 + days * DAY, HOUR, 20.0, daily_shape(0.3, 4), 0.2, lambda t: factor if a <= t < b else 1.0)
    ev = _rows(r, s, w, {"source": "focus", "service": "AWS Glue", "resource_id": "glue/feature-pipeline"},
               (0.0, late_max_h * HOUR), skus=[("DPU-Hour", 0.8), ("Crawler-DPU-Hour", 0.2)])
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + late_max_h * HOUR + 3 * HOUR,
                                         goal_s=HOUR + late_max_h * HOUR)]
    return Scenario("", ev, tr)


def bill_daily(seed: int, factor: float = 4.0, days: float = 35.0, weekend: float = 0.5, sigma: float = 0.1,
               late_h: tuple[float, float] = (2.0, 8.0)) -> Scenario:
    """Daily-granularity rows (CUR / FOCUS daily: period one UTC day, ts at period end + 2-8 h) of a weekday
    workload (weekend x``weekend``); one day x``factor`` on day ``days-4`` (factor 1: none)."""
    r = random.Random(seed)
    w = wl("analytics/bi-warehouse", "batch", "analytics")
    spike_day = T0 + (days - 4) * DAY

    def weekly(t: float) -> float:
        return weekend if _gmt(t).tm_wday >= 5 else 1.0
    s = spend(r, T0, T0 + days * DAY, DAY, 800.0, weekly, sigma, lambda t: factor if t == spike_day else 1.0)
    ev = _rows(r, s, w, {"source": "focus", "service": "Amazon Redshift", "resource_id": "cluster/bi-main",
                         "sku": "dc2.8xlarge"}, (late_h[0] * HOUR, late_h[1] * HOUR))
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], spike_day, spike_day + DAY,
                                         detect_by=spike_day + DAY + late_h[1] * HOUR + 6 * HOUR,
                                         goal_s=DAY + late_h[1] * HOUR)]
    return Scenario("", ev, tr)


def bill_periodic(seed: int, wave: str = "sine", days: float = 14.0, period_min: float = 5.0,
                  amp: float = 0.6) -> Scenario:
    """Noiseless periodic spend at ``period_min`` periods over ``days``: a daily ``sine`` or ``square`` wave
    (08:00-20:00 high), or ``hourshape`` (a strong within-hour shape: the first 10 min of every hour x4).
    Must not alert."""
    r = random.Random(seed)
    w = wl(f"serving/periodic-{wave}", "inference", "platform")
    period = period_min * MIN
    base = 2.0 * period / HOUR

    def shape(t: float) -> float:
        h = (t % DAY) / HOUR
        if wave == "square":
            return 1 + amp if 8 <= h < 20 else 1 - amp
        if wave == "hourshape":
            return 4.0 if (t % HOUR) < 10 * MIN else 1.0
        return 1 + amp * math.sin(2 * math.pi * h / 24)
    s = spend(r, T0, T0 + days * DAY, period, base, shape)
    return Scenario("", _rows(r, s, w, {"source": "gpu_meter", "service": "Kubernetes", "sku": "gpu-a10g"},
                              (60.0, 240.0)), [])


def bill_business(seed: int, days: float = 21.0, sigma: float = 0.15, monday_ramp: float = 1.8) -> Scenario:
    """Hourly spend of an office-hours workload: weekdays 08-18 UTC high with a morning ramp, Monday mornings
    x``monday_ramp`` (the week's backlog), nights and weekends at 15 %. Must not alert."""
    r = random.Random(seed)
    w = wl("support/agent-assist", "inference", "support")

    def shape(t: float) -> float:
        g = _gmt(t)
        h = g.tm_hour + g.tm_min / 60
        if g.tm_wday >= 5 or not 7 <= h < 19:
            return 0.15
        ramp = min(1.0, (h - 7) / 2)
        mon = monday_ramp if g.tm_wday == 0 and h < 12 else 1.0
        return 0.15 + 0.85 * ramp * mon
    s = spend(r, T0, T0 + days * DAY, HOUR, 40.0, shape, sigma)
    fields = {"source": "llm_usage", "service": "OpenAI API", "resource_id": "proj_support", "model": "gpt-4o"}
    return Scenario("", _rows(r, s, w, fields, skus=[("input-tokens", 0.4), ("output-tokens", 0.6)]), [])


def bill_rollup(seed: int, days: float = 28.0, rollup_usd: float = 900.0, week_period: bool = False) -> Scenario:
    """A workload with small hourly rows plus one big roll-up row every Sunday 02:00 (a weekly batch job billed
    as one row: period the Sunday hour, or with ``week_period`` the whole week ending then). Scoring: the first
    roll-up is ambiguous (nothing yet says it recurs), every later one must not alert."""
    r = random.Random(seed)
    w = wl("risk/weekly-scoring", "batch", "risk")
    s = spend(r, T0, T0 + days * DAY, HOUR, 3.0, daily_shape(0.2), 0.15)
    fields = {"source": "focus", "service": "Azure Machine Learning", "resource_id": "aml/weekly-scoring"}
    ev = _rows(r, s, w, dict(fields, sku="NCasT4_v3"))
    tr = []
    t = T0 + 6 * DAY + 2 * HOUR  # first Sunday
    k = 0
    while t + HOUR <= T0 + days * DAY:
        ps = t + HOUR - 7 * DAY if week_period else t
        cost = rollup_usd * r.lognormvariate(0, 0.1)
        ev += _rows(r, [(ps, t + HOUR, cost)], w, dict(fields, sku="batch-weekly-rollup"))
        if k == 0:
            tr.append(truth("cost", None, w["id"], t, t + HOUR, detect_by=t + 6 * HOUR, ambiguous=True,
                            note="first weekly roll-up"))
        t += 7 * DAY
        k += 1
    return Scenario("", ev, tr)


def bill_lognormal(seed: int, sigma: float = 0.75, days: float = 21.0, amp: float = 0.3) -> Scenario:
    """Hourly API spend with log-normal noise ``sigma`` (0.5-1.0 as real per-key LLM bills) on a daily cycle.
    Must not alert."""
    r = random.Random(seed)
    w = wl("growth/llm-enrichment", "batch", "growth")
    s = spend(r, T0, T0 + days * DAY, HOUR, 15.0, daily_shape(amp), sigma)
    fields = {"source": "llm_usage", "service": "Anthropic API", "resource_id": "apikey-growth-3",
              "model": "claude-sonnet-4"}
    return Scenario("", _rows(r, s, w, fields, skus=[("input-tokens", 0.35), ("output-tokens", 0.65)]), [])


def bill_month_start(seed: int, factor: float = 8.0, days: float = 21.0) -> Scenario:
    """An hourly series whose month-start job (00:00-03:00 UTC on the 1st) costs x``factor``, seen once in the
    window (the stream ends two days after 2026-04-01). Scored ambiguous: from one occurrence nothing says it
    recurs, so a page is defensible and so (given a calendar prior) is silence; neither is counted."""
    r = random.Random(seed)
    w = wl("finance/month-close", "batch", "finance")
    a = float(calendar.timegm((2026, 4, 1, 0, 0, 0)))
    t0 = a - (days - 2) * DAY
    s = spend(r, t0, t0 + days * DAY, HOUR, 5.0, daily_shape(0.3), 0.2, lambda t: factor if a <= t < a + 3 * HOUR
              else 1.0)
    ev = _rows(r, s, w, {"source": "focus", "service": "Databricks", "resource_id": "dbx/month-close",
                         "sku": "jobs-compute"})
    return Scenario("", ev, [truth("cost", None, w["id"], a, a + 3 * HOUR, detect_by=a + 6 * HOUR,
                                   ambiguous=True, note="month-start job, first occurrence")])


def bill_newcomer(seed: int, days: float = 5.0, sigma: float = 0.3) -> Scenario:
    """A new workload's first ``days``: day one at 30 % while it is rolled out, then 60 %, then full, with a
    daily cycle and noise ``sigma``; an older steady workload beside it. Must not alert."""
    r = random.Random(seed)
    w = wl("growth/recsys-v3", "inference", "growth")
    old = wl("growth/recsys-v2", "inference", "growth")

    def roll(t: float) -> float:
        d = (t - T0) / DAY
        return 0.3 if d < 1 else 0.6 if d < 2 else 1.0
    s = spend(r, T0, T0 + days * DAY, HOUR, 8.0, daily_shape(0.35), sigma, roll)
    s2 = spend(r, T0 - 14 * DAY, T0 + days * DAY, HOUR, 6.0, daily_shape(0.35), 0.15)
    ev = _rows(r, s, w, dict(FOCUS, resource_id="endpoint/recsys-v3"))
    ev += _rows(r, s2, old, dict(FOCUS, resource_id="endpoint/recsys-v2"))
    return Scenario("", ev, [])


def bill_llm_stream(seed: int, factor: float = 6.0, hours: float = 2.0, rows_per_hour: int = 60,
                    days: float = 14.0) -> Scenario:
    """LLM usage streamed as ``rows_per_hour`` small rows within each hour (period = the hour, ts inside it),
    daily cycle, noise 0.2; x``factor`` for ``hours`` on the last days (factor 1: none)."""
    r = random.Random(seed)
    w = wl("support/chatbot", "inference", "support")
    a = T0 + (days - 3) * DAY + 15 * HOUR
    b = a + hours * HOUR
    s = spend(r, T0, T0 + days * DAY, HOUR, 25.0, daily_shape(0.5), 0.2, lambda t: factor if a <= t < b else 1.0)
    fields = {"source": "llm_usage", "service": "OpenAI API", "resource_id": "proj_chatbot", "model": "gpt-4o-mini"}
    ev = _rows(r, s, w, fields, streamed=rows_per_hour)
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, goal_s=HOUR)]
    return Scenario("", ev, tr)


def bill_skus(seed: int, factor: float = 10.0, hours: float = 4.0, days: float = 21.0) -> Scenario:
    """Five SKUs a workload a period (compute, storage, egress, requests, support), each with its own
    shape; the egress SKU (12 % of the spend) goes x``factor`` for ``hours``, about x2 on the workload."""
    r = random.Random(seed)
    w = wl("serving/media-gen", "inference", "creative")
    a = T0 + (days - 4) * DAY + 20 * HOUR
    b = a + hours * HOUR
    skus = {"BoxUsage:p4d.24xlarge": (0.6, 0.3), "EBS:VolumeUsage.gp3": (0.15, 0.0),
            "DataTransfer-Out-Bytes": (0.12, 0.6), "Requests-Tier1": (0.08, 0.5), "Support": (0.05, 0.0)}
    ev: list[Event] = []
    for sku, (share, amp) in skus.items():
        mult: Callable[[float], float] = (lambda t: factor if a <= t < b else 1.0) if sku.startswith("Data") \
            else (lambda t: 1.0)
        s = spend(r, T0, T0 + days * DAY, HOUR, 30.0 * share, daily_shape(amp), 0.15, mult)
        ev += _rows(r, s, w, {"source": "focus", "service": "Amazon EC2", "resource_id": "i-0media", "sku": sku})
    return Scenario("", ev, [truth("cost", None, w["id"], a, b, goal_s=2 * HOUR)])


def bill_zero_and_credit(seed: int, days: float = 21.0, credits: bool = True, zeros: bool = True) -> Scenario:
    """An hourly series with a ``cost_usd`` 0 row every period (free-tier SKU) and some 0-cost hours, plus
    credits as the contract allows them (``cost_usd`` 0, negative ``adjustment_usd``, ``charge_category``
    credit): a daily committed-use credit and one $2,000 promotional credit on day 10. Must not alert."""
    r = random.Random(seed)
    w = wl("ml/embedding-api", "inference", "ml")
    fields = {"source": "focus", "service": "Vertex AI", "resource_id": "endpoint/embed"}
    s = spend(r, T0, T0 + days * DAY, HOUR, 10.0, daily_shape(0.3), 0.15)
    if zeros:
        s = [(ps, pe, 0.0 if r.random() < 0.02 else c) for ps, pe, c in s]
    ev = _rows(r, s, w, dict(fields, sku="online-prediction-node"))
    if zeros:
        ev += _rows(r, [(ps, pe, 0.0) for ps, pe, _ in s], w, dict(fields, sku="free-tier-requests"))
    if credits:
        for d in range(int(days)):
            ps = T0 + d * DAY
            ev.append({"type": "billing_delta", "ts": ps + DAY + 5 * HOUR, "period_start": ps, "period_end": ps + DAY,
                       "workload": w, **fields, "sku": "committed-use-discount", "cost_usd": 0.0,
                       "adjustment_usd": -round(60 + r.uniform(-3, 3), 2), "charge_category": "credit",
                       "adjustment_reason": "charge"})
        ps = T0 + 10 * DAY
        ev.append({"type": "billing_delta", "ts": ps + 14 * HOUR, "period_start": ps, "period_end": ps + HOUR,
                   "workload": w, **fields, "sku": "promotional-credit", "cost_usd": 0.0, "adjustment_usd": -2000.0,
                   "charge_category": "credit", "adjustment_reason": "charge"})
    return Scenario("", ev, [])


def bill_price(seed: int, factor: float = 2.0, days: float = 21.0, rename: bool = True) -> Scenario:
    """LLM spend with the same token volume (daily cycle, noise 0.2) whose price per token goes x``factor`` on
    day 15 (``rename``: the model field changes to the pricier model; else the provider's price rose)."""
    r = random.Random(seed)
    w = wl("product/summarizer", "inference", "product")
    a = T0 + (days - 6) * DAY + 10 * HOUR
    ev: list[Event] = []
    t = T0
    while t + HOUR <= T0 + days * DAY:
        tokens = 2.0e6 * daily_shape(0.4)(t) * r.lognormvariate(-0.02, 0.2)
        after = t >= a
        price = 3e-6 * (factor if after else 1.0)
        model = "claude-opus-4" if after and rename else "claude-sonnet-4"
        ev.append({"type": "billing_delta", "ts": round(t + HOUR + r.uniform(240, 900), 3), "period_start": t,
                   "period_end": t + HOUR, "workload": w, "source": "llm_usage", "service": "Anthropic API",
                   "resource_id": "apikey-summarizer", "model": model, "sku": "input-tokens",
                   "usage_quantity": round(tokens), "usage_unit": "tokens", "cost_usd": round(tokens * price, 6)})
        t += HOUR
    return Scenario("", ev, [truth("cost", None, w["id"], a, T0 + days * DAY, goal_s=2 * HOUR)])


# =================================================================== training
def _run_events(r: random.Random, model: str, w: Event, start: float, dur: float, status: str,
                metric: Event | None, data: str, trigger: str, gpus: int) -> list[Event]:
    rid = f"{model}-{r.getrandbits(40):010x}"

    def ev(ts: float, st: str, done: bool) -> Event:
        gh = gpus * (ts - start) / HOUR
        return {"type": "training_run", "ts": round(ts, 3), "run_id": rid, "model_id": model, "workload": w,
                "status": st, "started_at": round(start, 3), "ended_at": round(ts, 3) if done else None,
                "gpu_hours": round(gh, 4), "cost_usd": round(gh * A100_PRICE, 3), "metric": metric if done else None,
                "data_version": data, "code_version": "git-3f9a2c1", "trigger": trigger}
    return [ev(start, "started", False), ev(start + dur, status, True)]


def crash_loop(seed: int, every_min: float = 30.0, hours: float = 6.0, gpus: int = 8) -> Scenario:
    """A job that dies 1-8 min in and is retried every ``every_min`` for ``hours``."""
    r = random.Random(seed)
    w = wl("speech/asr-train", "training", "speech")
    a = t = T0 + 2 * HOUR
    ev: list[Event] = []
    i = 0
    while t < a + hours * HOUR:
        dur = r.uniform(1, min(8.0, every_min / 2)) * MIN
        ev += _run_events(r, "asr-xl", w, t, dur, "failed", None, "libri-v3", "manual" if i == 0 else "retry", gpus)
        t += every_min * MIN * r.uniform(0.9, 1.1)
        i += 1
    return Scenario("", ev, [truth("loop", "asr-xl", w["id"], a, t, goal_s=60 * MIN)])


def rerun_loop(seed: int, every_min: float = 120.0, days: float = 2.0, gpus: int = 4) -> Scenario:
    """A schedule rerunning every ``every_min`` on an unchanged data_version with a flat metric."""
    r = random.Random(seed)
    w = wl("growth/churn-retrain", "training", "growth")
    a = T0 + 1 * HOUR
    ev: list[Event] = []
    k = 0
    last = a
    while a + k * every_min * MIN < T0 + days * DAY:
        st = a + k * every_min * MIN + r.uniform(0, 60)
        dur = r.uniform(10, min(40.0, every_min / 2)) * MIN
        ev += _run_events(r, "churn-gbm", w, st, dur, "succeeded",
                          {"name": "auc", "value": round(0.842 + r.uniform(-5e-4, 5e-4), 4), "higher_is_better": True},
                          "snap-2026-02-20", "schedule", gpus)
        last = st + dur
        k += 1
    goal = max(60 * MIN, 2 * every_min * MIN + 40 * MIN)
    return Scenario("", ev, [truth("loop", "churn-gbm", w["id"], a, last, goal_s=goal)])


def healthy_schedule(seed: int, every_h: float = 24.0, days: float = 14.0, gpus: int = 8) -> Scenario:
    """A healthy retrain every ``every_h`` hours on fresh data (a new data_version each run) with a metric that
    improves with noise; no observations. Must not alert."""
    r = random.Random(seed)
    w = wl("search/ltr", "training", "search")
    ev: list[Event] = []
    k = 0
    t = T0 + 1.5 * HOUR
    while t < T0 + days * DAY - 3 * HOUR:
        dur = r.uniform(0.3, 0.5) * every_h * HOUR if every_h < 4 else r.uniform(1.5, 2.5) * HOUR
        loss = 0.41 - 0.0008 * k + r.gauss(0, 2e-4)
        ev += _run_events(r, "ltr-ranker", w, t + r.uniform(0, 120), dur, "succeeded",
                          {"name": "val_logloss", "value": round(loss, 5), "higher_is_better": False},
                          "clicks-" + time.strftime("%Y%m%d%H", time.gmtime(t)), "schedule", gpus)
        t += every_h * HOUR
        k += 1
    return Scenario("", ev, [])


# ======================================================================== drift
Sampler = Callable[[np.random.Generator, float, int], np.ndarray]


def _normal(mu: float, sd: float) -> Sampler:
    return lambda g, t, n: g.normal(mu, sd, n)


def obs_events(g: np.random.Generator, model: str, w: Event, t0: float, t1: float, every_s: float, batch: int,
               features: dict[str, Sampler], jitter: float = 0.2) -> list[Event]:
    out: list[Event] = []
    t = t0
    while True:
        t += every_s * (1 + float(g.uniform(-jitter, jitter)))
        if t > t1:
            break
        vals = {k: [round(float(v), 4) for v in f(g, t, batch)] for k, f in features.items()}
        out.append({"type": "model_observation", "ts": round(t, 3), "model_id": model, "workload": w, "values": vals})
    return out


def drift_cadence(seed: int, batch: int = 10, every_s: float = 60.0, hours: float = 36.0, at_h: float = 30.0,
                  kinds: str = "mean,var,sentinel,categorical") -> Scenario:
    """Models sending ``batch`` values a feature every ``every_s`` (+-20 %), from their first day; at ``at_h``
    one feature of each model changes: ``mean`` +1.5 sd, ``var`` sd x3, ``sentinel`` -1 share 1 % -> 20 %,
    ``categorical`` a 5-level code's mix moves (0.4,0.3,0.15,0.1,0.05 -> 0.1,0.15,0.2,0.25,0.3).
    A stable control model beside them."""
    g = np.random.default_rng(seed)
    t0, t1, a = T0, T0 + hours * HOUR, T0 + at_h * HOUR
    ev: list[Event] = []
    tr = []

    def after(before: Sampler, aft: Sampler) -> Sampler:
        return lambda gg, t, n: aft(gg, t, n) if t >= a else before(gg, t, n)

    def sentinel(share: float) -> Sampler:
        def f(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
            x = gg.lognormal(3.5, 0.4, n)
            x[gg.random(n) < share] = -1.0
            return x
        return f

    def cat(p: list[float]) -> Sampler:
        return lambda gg, t, n: gg.choice(5, n, p=p).astype(float)
    p0, p1 = [0.4, 0.3, 0.15, 0.1, 0.05], [0.1, 0.15, 0.2, 0.25, 0.3]
    change = {"mean": ("amount", after(_normal(50, 10), _normal(65, 10))),
              "var": ("latency_ms", after(_normal(120, 15), _normal(120, 45))),
              "sentinel": ("tenure_days", after(sentinel(0.01), sentinel(0.2))),
              "categorical": ("device_type", after(cat(p0), cat(p1)))}
    for kind in [k for k in kinds.split(",") if k]:
        name, f = change[kind]
        model = f"m-{kind}"
        w = wl(f"serving/{model}", "inference", "ml")
        feats: dict[str, Sampler] = {name: f, "score": lambda gg, t, n: gg.beta(2, 5, n)}
        ev += obs_events(g, model, w, t0, t1, every_s, batch, feats)
        tr.append(truth("drift", model, w["id"], a, t1, goal_s=30 * MIN))
    ctl = wl("serving/m-control", "inference", "ml")
    ev += obs_events(g, "m-control", ctl, t0, t1, every_s, batch,
                     {"amount": _normal(50, 10), "device_type": cat(p0), "tenure_days": sentinel(0.01)})
    return Scenario("", ev, tr)


def nodrift_cycle(seed: int, amps: str = "0.5,1.5,3", days: float = 3.0, batch: int = 20,
                  every_s: float = 60.0) -> Scenario:
    """One model per amplitude (in sd of the noise) whose input follows a 24-h cycle (and whose prediction
    follows it too), from the model's first observation, for ``days``. Must not alert."""
    g = np.random.default_rng(seed)
    ev: list[Event] = []
    for amp in [float(x) for x in amps.split(",") if x]:
        model = f"cyc-{amp:g}"
        w = wl(f"serving/{model}", "inference", "ml")
        phase = float(g.uniform(0, 2 * math.pi))

        def feat(gg: np.random.Generator, t: float, n: int, amp: float = amp, phase: float = phase) -> np.ndarray:
            return gg.normal(100 + 10 * amp * math.sin(2 * math.pi * (t - T0) / DAY + phase), 10, n)

        def pred(gg: np.random.Generator, t: float, n: int, amp: float = amp, phase: float = phase) -> np.ndarray:
            m = 0.3 + 0.05 * amp * math.sin(2 * math.pi * (t - T0) / DAY + phase)
            return np.clip(gg.normal(m, 0.05, n), 0, 1)
        ev += obs_events(g, model, w, T0, T0 + days * DAY, every_s, batch, {"orders_per_min": feat, "p_late": pred})
    return Scenario("", ev, [])


def nodrift_tails(seed: int, days: float = 2.0, batch: int = 50, every_s: float = 60.0) -> Scenario:
    """Stable heavy-tailed features (Student-t 2 dof, log-normal sigma 1.5, Pareto a=1.5) and constant features
    (always 1.0; always 0.0). Must not alert."""
    g = np.random.default_rng(seed)
    w = wl("serving/fraud-tails", "inference", "risk")
    feats: dict[str, Sampler] = {"t2": lambda gg, t, n: gg.standard_t(2, n),
                                 "lognorm": lambda gg, t, n: gg.lognormal(0, 1.5, n),
                                 "pareto": lambda gg, t, n: gg.pareto(1.5, n),
                                 "const_one": lambda gg, t, n: np.ones(n),
                                 "const_zero": lambda gg, t, n: np.zeros(n)}
    ev = obs_events(g, "fraud-tails", w, T0, T0 + days * DAY, every_s, batch, feats)
    return Scenario("", ev, [])


# ============================================================ probe round 2
# Assumptions beyond the first round: FOCUS daily periods with a day of lateness, sparse batch billing (no rows
# while the job does not run), spot prices that random-walk, discrete and sentinel-coded features, a weekly
# (weekend) shape in the inputs, exponential-backoff retries, a hyperparameter sweep, integer NVML util with a
# monitoring process keeping an idle GPU at 1-2 %.
def bill_daily_periods(seed: int, factor: float = 1.0, days: float = 60.0, sigma: float = 0.3,
                       weekend: float = 0.6, late_h: tuple[float, float] = (6.0, 30.0)) -> Scenario:
    """FOCUS-like daily rows (period one UTC day, two SKUs landing independently 6-30 h after the day closes),
    weekdays full and weekends x``weekend``, log-normal noise ``sigma``, ``days`` days; one weekday x``factor``
    nine days before the end (factor 1: none, must not alert). Goal: the day's period plus the latest landing."""
    r = random.Random(seed)
    w = wl("data/lakehouse-etl", "batch", "data")
    spike_day = T0 + (days - 9) * DAY

    def weekly(t: float) -> float:
        return weekend if _gmt(t).tm_wday >= 5 else 1.0
    s = spend(r, T0, T0 + days * DAY, DAY, 1400.0, weekly, sigma, lambda t: factor if t == spike_day else 1.0)
    ev = _rows(r, s, w, {"source": "focus", "service": "Databricks", "resource_id": "dbx/lakehouse-etl"},
               (late_h[0] * HOUR, late_h[1] * HOUR), skus=[("jobs-compute-photon", 0.85), ("dbfs-storage", 0.15)])
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], spike_day, spike_day + DAY,
                                         detect_by=spike_day + 2 * DAY + late_h[1] * HOUR + GRACE,
                                         goal_s=DAY + late_h[1] * HOUR,
                                         note="one daily period after the day begins, plus the latest landing")]
    return Scenario("", ev, tr)


def bill_sparse_batch(seed: int, factor: float = 1.0, days: float = 21.0, usd_per_h: float = 32.0,
                      late_h: tuple[float, float] = (0.07, 0.25)) -> Scenario:
    """A batch job billed hourly only while it runs: once a day for 1-3 h from a random time of day (partial
    first and last hours billed pro rata), no rows otherwise; on day ``days-4`` it runs x``factor`` as long
    (capped at 22 h; factor 1: must not alert)."""
    r = random.Random(seed)
    w = wl("data/adhoc-reindex", "batch", "data")
    fields = {"source": "focus", "service": "Amazon EC2", "resource_id": "asg/reindex-g5", "sku": "g5.12xlarge"}
    bad = int(days) - 4
    series: list[tuple[float, float, float]] = []
    tr = []
    for d in range(int(days)):
        dur = r.uniform(1.0, 3.0) * HOUR
        if factor != 1.0 and d == bad:
            dur = min(22 * HOUR, dur * factor)
        a = T0 + d * DAY + r.uniform(0, DAY - dur)
        b = a + dur
        h = math.floor((a - T0) / HOUR) * HOUR + T0
        while h < b:
            used = min(b, h + HOUR) - max(a, h)
            series.append((h, h + HOUR, usd_per_h * used / HOUR * r.lognormvariate(-0.005, 0.1)))
            h += HOUR
        if factor != 1.0 and d == bad:
            tr.append(truth("cost", None, w["id"], a, b, detect_by=b + late_h[1] * HOUR + 2 * HOUR + GRACE,
                            goal_s=4 * HOUR + late_h[1] * HOUR,
                            note="the run lasts x factor; its first 1-3 h look like any day's run"))
    return Scenario("", _rows(r, series, w, fields, (late_h[0] * HOUR, late_h[1] * HOUR)), tr)


def bill_spot_prices(seed: int, days: float = 21.0, gpus: int = 16, base: float = 1.45, swing: float = 0.3,
                     changes_per_day: float = 4.0, step_sigma: float = 0.08) -> Scenario:
    """Hourly spend of a fixed fleet of ``gpus`` spot GPUs: cost = gpus x the spot price, which changes at
    random hour boundaries (``changes_per_day``) by log-normal steps ``step_sigma``, a random walk held within
    +-``swing`` of ``base``. No other noise. Must not alert."""
    r = random.Random(seed)
    w = wl("research/spot-pretrain", "training", "research")
    p = base * r.uniform(1 - swing, 1 + swing)
    series = []
    t = T0
    while t + HOUR <= T0 + days * DAY:
        if r.random() < changes_per_day / 24:
            p = min(base * (1 + swing), max(base * (1 - swing), p * r.lognormvariate(0, step_sigma)))
        series.append((t, t + HOUR, gpus * p))
        t += HOUR
    fields = {"source": "focus", "service": "Amazon EC2", "resource_id": "fleet/spot-p4d", "sku": "p4d.24xlarge-spot",
              "usage_quantity": float(gpus), "usage_unit": "GPU-hours"}
    return Scenario("", _rows(r, series, w, fields), [])


def drift_discrete(seed: int, shift: bool = False, days: float = 3.0, at_h: float = 32.0, batch: int = 20,
                   every_s: float = 60.0) -> Scenario:
    """A model whose inputs are discrete: ``is_returning`` (0/1, Bernoulli 0.3), ``items_in_cart`` (Poisson 2)
    and ``region_code`` (0..9, fixed shares); ``shift``: at ``at_h`` (day 2) code 3's share goes 10 % -> 30 %
    (the others shrink in proportion) -> truth retrain_needed; else stable for ``days``, must not alert."""
    g = np.random.default_rng(seed)
    model = "m-discrete"
    w = wl(f"serving/{model}", "inference", "ml")
    p0 = np.array([0.22, 0.18, 0.14, 0.10, 0.09, 0.08, 0.07, 0.05, 0.04, 0.03])
    p1 = p0 * (0.7 / 0.9)
    p1[3] = 0.30
    a, t1 = T0 + at_h * HOUR, T0 + days * DAY

    def code(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return gg.choice(10, n, p=p1 if shift and t >= a else p0).astype(float)
    feats: dict[str, Sampler] = {"is_returning": lambda gg, t, n: (gg.random(n) < 0.3).astype(float),
                                 "items_in_cart": lambda gg, t, n: gg.poisson(2.0, n).astype(float),
                                 "region_code": code}
    ev = obs_events(g, model, w, T0, t1, every_s, batch, feats)
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN, note="region_code 3: 10 % -> 30 %")] if shift else []
    return Scenario("", ev, tr)


def drift_sentinel(seed: int, days: float = 3.0, at_h: float = 32.0, before: float = 0.01, after: float = 0.15,
                   control: float = 0.05, batch: int = 20, every_s: float = 60.0) -> Scenario:
    """Two models with a numeric feature (log-normal account age) whose missing value is sent as -1: in
    ``m-sentinel-rise`` the -1 share goes ``before`` -> ``after`` at ``at_h`` (day 2, truth); in
    ``m-sentinel-const`` it is ``control`` throughout (must not alert)."""
    g = np.random.default_rng(seed)
    a, t1 = T0 + at_h * HOUR, T0 + days * DAY

    def age(share: Callable[[float], float]) -> Sampler:
        def f(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
            x = gg.lognormal(5.0, 0.8, n)
            x[gg.random(n) < share(t)] = -1.0
            return x
        return f
    ev: list[Event] = []
    w1, w2 = wl("serving/m-sentinel-rise", "inference", "risk"), wl("serving/m-sentinel-const", "inference", "risk")
    ev += obs_events(g, "m-sentinel-rise", w1, T0, t1, every_s, batch,
                     {"account_age_days": age(lambda t: after if t >= a else before)})
    ev += obs_events(g, "m-sentinel-const", w2, T0, t1, every_s, batch, {"account_age_days": age(lambda t: control)})
    return Scenario("", ev, [truth("drift", "m-sentinel-rise", w1["id"], a, t1, goal_s=30 * MIN,
                                   note=f"-1 share {before:g} -> {after:g}")])


def drift_weekend(seed: int, days: float = 10.0, shift_sd: float = 0.8, cycle_sd: float = 1.0, batch: int = 20,
                  every_s: float = 60.0) -> Scenario:
    """A feature with a daily cycle (``cycle_sd`` sd) whose mean is ``shift_sd`` sd lower on Saturdays and
    Sundays (UTC), from a Friday for ``days`` (two full weekends). The first weekend is ambiguous (nothing yet
    says it recurs), the second must not alert; so must every weekday."""
    g = np.random.default_rng(seed)
    t0 = T0 + 4 * DAY  # Friday 2026-03-06
    model = "m-weekend"
    w = wl(f"serving/{model}", "inference", "commerce")
    phase = float(g.uniform(0, 2 * math.pi))

    def feat(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        m = 100 + 10 * cycle_sd * math.sin(2 * math.pi * (t % DAY) / DAY + phase)
        if _gmt(t).tm_wday >= 5:
            m -= 10 * shift_sd
        return gg.normal(m, 10, n)
    ev = obs_events(g, model, w, t0, t0 + days * DAY, every_s, batch, {"basket_value": feat})
    sat = t0 + DAY
    return Scenario("", ev, [truth("drift", model, w["id"], sat, sat + 2 * DAY, detect_by=sat + 2 * DAY + GRACE,
                                   ambiguous=True, note="first weekend")])


def loop_backoff(seed: int, hours: float = 8.0, first_min: float = 5.0, gpus: int = 8) -> Scenario:
    """A crash loop retried with exponential backoff (``first_min``, then x2 each time: 5, 10, 20, 40, 80, 160 ...
    min, +-10 %) for ``hours``: every run fails 1-8 min in; the first trigger ``schedule``, the rest ``retry``."""
    r = random.Random(seed)
    w = wl("nlp/ner-finetune", "training", "nlp")
    a = t = T0 + 2 * HOUR
    ev: list[Event] = []
    wait = first_min * MIN
    last = t
    i = 0
    while t < a + hours * HOUR:
        dur = r.uniform(1, 8) * MIN
        ev += _run_events(r, "ner-xlmr", w, t, dur, "failed", None, "conll-v7", "schedule" if i == 0 else "retry", gpus)
        last = t + dur
        t = last + wait * r.uniform(0.9, 1.1)
        wait *= 2
        i += 1
    return Scenario("", ev, [truth("loop", "ner-xlmr", w["id"], a, last, goal_s=60 * MIN,
                                   note=f"{i} failed runs, backoff from {first_min:g} min")])


def hpo_sweep(seed: int, runs: int = 24, parallel: int = 4, spread: float = 0.02, gpus: int = 2) -> Scenario:
    """A hyperparameter sweep: ``runs`` trials of one model on one data_version, ``parallel`` at a time (a slot
    starts the next trial 0.5-3 min after its last ends), each 35-70 min, its own code_version (the trial's
    config hash), trigger ``manual``, all succeeded, metric within +-``spread``. Must not alert: a person
    launched it, on purpose, with different code per run, and the README says sweeps stay quiet."""
    r = random.Random(seed)
    w = wl("recsys/two-tower", "training", "recsys")
    slots = [T0 + 2 * HOUR + r.uniform(0, 120) for _ in range(parallel)]
    ev: list[Event] = []
    for i in range(runs):
        k = min(range(parallel), key=lambda j: slots[j])
        st = slots[k]
        dur = r.uniform(35, 70) * MIN
        metric = {"name": "recall_at_50", "value": round(0.61 * (1 + r.uniform(-spread, spread)), 4),
                  "higher_is_better": True}
        run = _run_events(r, "two-tower", w, st, dur, "succeeded", metric, "clicks-2026-02-28", "manual", gpus)
        for e in run:
            e["code_version"] = f"git-3f9a2c1+hp{zlib.crc32(f'{seed}-{i}'.encode()):08x}"
        ev += run
        slots[k] = st + dur + r.uniform(0.5, 3) * MIN
    return Scenario("", ev, [])


def idle_fractional(seed: int, hours: float = 6.0, step_s: float = 15.0, burst_every_min: float = 10.0) -> Scenario:
    """Integer NVML util (no SM activity field), one node: two inference GPUs idle for ``hours`` holding 8 %
    memory whose util reads 1-2 % (a monitoring process; now and then 0) with a one-sample 25-35 % burst every
    ~``burst_every_min`` min (truth idle each, goal 10 min), and a control GPU serving real low traffic at
    5-15 % throughout (must not alert)."""
    r = random.Random(seed)
    g0, g1, gc = _uuid(r, "GPU"), _uuid(r, "GPU"), _uuid(r, "GPU")
    w0, w1 = wl("serving/legacy-ocr", "inference", "docs"), wl("serving/translate-fr", "inference", "i18n")
    wc = wl("serving/fraud-lite", "inference", "risk")

    def noisy_idle(w: Event) -> Callable[[float], GpuState]:
        nxt = [T0 + r.uniform(0.3, 1.3) * burst_every_min * MIN]

        def f(t: float) -> GpuState:
            if t >= nxt[0]:
                nxt[0] = t + r.uniform(0.7, 1.3) * burst_every_min * MIN
                return float(r.randint(25, 35)), None, 0.08, w
            return float(r.choice((0, 1, 1, 1, 2, 2, 2, 2))), None, 0.08, w
        return f

    def low(t: float) -> GpuState:
        return float(r.randint(5, 15)), None, 0.3, wc
    devs = [Device("inf-07", g0, noisy_idle(w0), sm=False, pid=701), Device("inf-07", g1, noisy_idle(w1), sm=False,
                                                                            pid=702),
            Device("inf-07", gc, low, sm=False, pid=703)]
    end = T0 + hours * HOUR
    ev = gpu_events(r, devs, T0, end, step_s)
    for e in ev:
        e["util_gpu_pct"] = int(e["util_gpu_pct"])
    return Scenario("", ev, [truth("idle", g, w["id"], T0, end, goal_s=10 * MIN, price=A100_PRICE,
                                   note="util 1-2 % from a monitoring process, bursts of one sample")
                             for g, w in ((g0, w0), (g1, w1))])


# ============================================================ probe round 3
# Data-quality and delivery assumptions: what real collectors and exports do to a stream. Each scenario pairs a
# clean stream (``NAME_clean``: the same seed, see ``build``) with the same stream delivered badly (``NAME``):
# the bad delivery must give the same anomalies (count, resources, kinds, similar detected_at) and no false open.
# The bad delivery's defects are drawn from a second random stream, so both variants share every base event.
def _fleet(r: random.Random, hours: float = 12.0, hang_at_h: float = 5.0, hang_h: float = 2.0,
           step_s: float = 15.0) -> tuple[list[Event], list[dict[str, Any]], str, tuple[float, float]]:
    """8 A100s on two nodes, ``step_s`` samples for ``hours``: on ``gpu-a``, a 1-GPU fine-tune (checkpoint
    pauses) that hangs at ``hang_at_h`` for ``hang_h`` holding 74 % memory (the truth), an inference endpoint
    and a 2-rank training job; on ``gpu-b`` a 4-rank training job. Returns events, truths, the hung GPU's
    node and the hang window."""
    st = States(r)
    ua, ub = [_uuid(r, "GPU") for _ in range(4)], [_uuid(r, "GPU") for _ in range(4)]
    wh = wl("nlp/summarizer-ft", "training", "nlp")
    wi = wl("serving/chat-7b", "inference", "assistant")
    w2 = wl("vision/detr-train", "training", "vision")
    w4 = wl("llm/pretrain-1b", "training", "foundation")
    a = T0 + hang_at_h * HOUR
    b = a + hang_h * HOUR
    hang = timeline([(T0, st.training(wh, r.uniform(0, 3000))), (a, st.idle(wh, 0.74)),
                     (b, st.training(wh, r.uniform(0, 3000)))])
    p2, p4 = r.uniform(0, 3000), r.uniform(0, 3000)
    devs = [Device("gpu-a", ua[0], hang, pid=801), Device("gpu-a", ua[1], st.busy(wi, 25, 60, 0.5), pid=802),
            Device("gpu-a", ua[2], st.training(w2, p2), pid=803), Device("gpu-a", ua[3], st.training(w2, p2), pid=804)]
    devs += [Device("gpu-b", u, st.training(w4, p4, 45 * MIN, 5 * MIN), pid=810 + i) for i, u in enumerate(ub)]
    ev = gpu_events(r, devs, T0, T0 + hours * HOUR, step_s)
    return ev, [truth("idle", ua[0], wh["id"], a, b, goal_s=10 * MIN, price=A100_PRICE,
                      note="hung fine-tune holding 74 % memory")], "gpu-a", (a, b)


def _in_order(keyed: list[tuple[float, int, Event]]) -> list[Event]:
    """Events in delivery order: sorted by (arrival key, original position)."""
    return [e for _, _, e in sorted(keyed, key=lambda x: (x[0], x[1]))]


def gpu_dup_samples(seed: int, bad: bool = True, copies: int = 2, resend_min: float = 5.0,
                    every_h: float = 2.0, as_delivered: bool = False) -> Scenario:
    """The 8-GPU fleet (15 s, 12 h, one hung job idle 2 h) where each node's collector restarts every
    ~``every_h`` h (+-20 %; on the hung job's node once inside the hang too) and re-sends the last
    ``resend_min`` minutes of samples ``copies`` more times, exact duplicates (same ts and fields). The file
    stays sorted by ts (a duplicate right after its original) unless ``as_delivered``: then the copies come
    after the restart, up to ``resend_min`` min behind the events around them (inside replay's 1 h window).
    ``bad`` False: the same fleet without restarts."""
    r = random.Random(seed)
    ev, tr, hung_node, (a, b) = _fleet(r)
    if not bad:
        return Scenario("", ev, tr)
    rb = random.Random(seed ^ 0x5EED)
    end = max(e["ts"] for e in ev)
    keyed = [(e["ts"], i, e) for i, e in enumerate(ev)]
    n = len(keyed)
    restarts: list[tuple[str, float]] = []
    for node in sorted({e["node"] for e in ev}):
        t = T0 + rb.uniform(0.5, 1.5) * every_h * HOUR
        mine = []
        while t < end:
            mine.append(t)
            t += every_h * HOUR * rb.uniform(0.8, 1.2)
        if node == hung_node and not any(a < x < b for x in mine):
            mine.append(a + rb.uniform(5, 30) * MIN)
        restarts += [(node, x) for x in mine]
    for node, at in restarts:
        for e in [e for e in ev if e["node"] == node and at - resend_min * MIN < e["ts"] <= at]:
            for _ in range(copies):
                n += 1
                keyed.append(((at + rb.uniform(0.5, 3.0)) if as_delivered else e["ts"], n, dict(e)))
    out = _in_order(keyed)
    return Scenario("", out, tr, ordered=True)


def gpu_spool_flush(seed: int, bad: bool = True, spool_min: float = 40.0, before_hang_min: float = 10.0) -> Scenario:
    """The 8-GPU fleet where the hung job's node loses the broker for ``spool_min`` minutes from
    ``before_hang_min`` min before the hang: its collector spools and flushes all at once when the broker is
    back, so those samples (in ts order among themselves) come in the file after every event of the other node
    up to ``spool_min`` min later. The file is NOT sorted by ts (replay's default reorder window is 1 h, so
    a ``spool_min`` under 60 should be sorted back). ``bad`` False: delivered on time."""
    r = random.Random(seed)
    ev, tr, hung_node, (a, b) = _fleet(r)
    if not bad:
        return Scenario("", ev, tr)
    s0 = a - before_hang_min * MIN
    s1 = s0 + spool_min * MIN
    ev.sort(key=lambda e: e["ts"])
    keyed = [((s1 + 0.5) if e["node"] == hung_node and s0 <= e["ts"] < s1 else e["ts"], i, e)
             for i, e in enumerate(ev)]
    return Scenario("", _in_order(keyed), tr, ordered=True)


def gpu_clock_skew(seed: int, bad: bool = True, skew_s: float = 90.0) -> Scenario:
    """The 8-GPU fleet where the hung job's node's clock runs ``skew_s`` behind the others (NTP drift): every
    ts of that node is ``skew_s`` early (the file, sorted by ts, interleaves the nodes accordingly). Truth in
    true time. ``bad`` False: synchronised clocks."""
    r = random.Random(seed)
    ev, tr, hung_node, _ = _fleet(r)
    if bad:
        for e in ev:
            if e["node"] == hung_node:
                e["ts"] = round(e["ts"] - skew_s, 3)
    return Scenario("", ev, tr)


def gpu_null_fields(seed: int, bad: bool = True, share: float = 0.05, sm_null: float = 0.03) -> Scenario:
    """The 8-GPU fleet with the fields a real exporter loses: on ``share`` of the samples ``util_gpu_pct`` or
    ``mem_used_bytes`` is omitted or null (both REQUIRED by the contract, numbers: such a sample is bad input,
    dead-lettered and skipped; the detector sees a hole); ``sm_active_pct`` (nullable) present on ``gpu-a`` only
    and null on ``sm_null`` of its samples; ``power_w`` (nullable) null on ``sm_null``. ``bad`` False: every
    field present on every sample."""
    r = random.Random(seed)
    ev, tr, hung_node, _ = _fleet(r)
    if not bad:
        return Scenario("", ev, tr)
    rb = random.Random(seed ^ 0x5EED)
    for e in ev:
        u = rb.random()
        if u < share:
            f = "util_gpu_pct" if rb.random() < 0.5 else "mem_used_bytes"
            if rb.random() < 0.5:
                del e[f]
            else:
                e[f] = None
        if e["node"] != hung_node:
            e.pop("sm_active_pct", None)
        elif rb.random() < sm_null:
            e["sm_active_pct"] = None
        if "power_w" in e and rb.random() < sm_null:
            e["power_w"] = None
    return Scenario("", ev, tr)


def bill_redelivered(seed: int, bad: bool = True, factor: float = 5.0, hours: float = 2.0, days: float = 21.0,
                     again: int = 2, sigma: float = 0.2) -> Scenario:
    """FOCUS-like hourly rows (two SKUs) for ``days``: an export every hour, 4-15 min past it, carries the hour
    that just closed; a bad exporter puts each hour's rows again in the next ``again`` exports (exact duplicates
    but for ts, the export time: 1 and 2 h later). A x``factor`` spike for ``hours`` on day 16 (truth; its
    ``excess_usd`` is the real excess, counted once). ``bad`` False: each row once."""
    r = random.Random(seed)
    w = wl("serving/ranker-prod", "inference", "search")
    a = T0 + (days - 5) * DAY + 13 * HOUR
    b = a + hours * HOUR
    s = spend(r, T0, T0 + days * DAY, HOUR, 12.0, daily_shape(0.4), sigma, lambda t: factor if a <= t < b else 1.0)
    skus = [("ml.g5.2xlarge-hosting", 0.85), ("ml.g5-storage", 0.15)]
    rows: list[Event] = []
    ev: list[Event] = []
    export_at: dict[float, float] = {}
    for ps, pe, cost in s:
        export_at[pe] = pe + r.uniform(4, 15) * MIN
        for sku, share in skus:
            rows.append({"type": "billing_delta", "ts": 0.0, "period_start": ps, "period_end": pe, "workload": w,
                         "source": "focus", "service": "Amazon SageMaker", "resource_id": "endpoint/ranker-prod",
                         "sku": sku, "charge_category": "usage", "cost_usd": round(cost * share, 6)})
    ends = sorted(export_at)
    pos = {pe: i for i, pe in enumerate(ends)}
    rb = random.Random(seed ^ 0x5EED)
    for row in rows:
        i = pos[row["period_end"]]
        ev.append(dict(row, ts=round(export_at[ends[i]] + r.uniform(0, 30), 3)))
        for j in range(1, (again if bad else 0) + 1):
            if i + j < len(ends):
                ev.append(dict(row, ts=round(export_at[ends[i + j]] + rb.uniform(0, 30), 3)))
    excess = sum(c * (1 - 1 / factor) for ps, _, c in s if a <= ps < b)
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR + GRACE,
                                         goal_s=HOUR + 15 * MIN)]
    for t in tr:
        t["excess_usd"] = round(excess, 2)
    return Scenario("", ev, tr)


def bill_per_request(seed: int, factor: float = 8.0, per_request: bool = True, days: float = 14.0,
                     per_hour: float = 300.0, amp: float = 0.5) -> Scenario:
    """LLM usage as one row per request (``per_request``: period = the request's minute, ts 2-90 s after it
    ends), ~``per_hour`` requests an hour on a daily cycle (Poisson), each $0.0005-$0.05 (log-normal, median
    $0.004, sigma 0.9, clipped), ``days`` days; the request rate x``factor`` for one hour on day ``days-2``
    (factor 1: none, must not alert). ``per_request`` False: the same requests summed into hourly rows landing
    4-15 min late (the clean delivery)."""
    r = random.Random(seed)
    g = np.random.default_rng(seed)
    w = wl("product/assistant-api", "inference", "product")
    a = T0 + (days - 2) * DAY + 14 * HOUR
    b = a + HOUR
    shape = daily_shape(amp)
    fields = {"source": "llm_usage", "service": "OpenAI API", "resource_id": "proj_assistant", "model": "gpt-4o-mini",
              "sku": "chat-completions", "usage_unit": "tokens"}
    ev: list[Event] = []
    hourly: dict[float, float] = {}
    m = T0
    while m < T0 + days * DAY:
        lam = per_hour / 60 * shape(m + 30) * (factor if a <= m < b else 1.0)
        n = int(g.poisson(lam))
        if n:
            costs = np.clip(g.lognormal(math.log(0.004), 0.9, n), 0.0005, 0.05)
            h = T0 + math.floor((m - T0) / HOUR) * HOUR
            hourly[h] = hourly.get(h, 0.0) + float(costs.sum())
            if per_request:
                for c in costs:
                    c = round(float(c), 6)
                    ev.append({"type": "billing_delta", "ts": round(m + MIN + r.uniform(2, 90), 3), "period_start": m,
                               "period_end": m + MIN, "workload": w, **fields, "cost_usd": c,
                               "usage_quantity": round(c / 6e-7)})
        m += MIN
    if not per_request:
        for h, c in sorted(hourly.items()):
            ev.append({"type": "billing_delta", "ts": round(h + HOUR + r.uniform(4, 15) * MIN, 3), "period_start": h,
                       "period_end": h + HOUR, "workload": w, **fields, "cost_usd": round(c, 6),
                       "usage_quantity": round(c / 6e-7)})
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + 2 * HOUR + GRACE,
                                         goal_s=HOUR + 15 * MIN)]
    if tr:
        tr[0]["excess_usd"] = round(hourly.get(a, 0.0) * (1 - 1 / factor), 2)
    return Scenario("", ev, tr)


def runs_cancelled_by_hand(seed: int, bad: bool = True, days: float = 7.0, cancels: int = 3) -> Scenario:
    """Two models over ``days``. ``support-ft``: on day 3 a person starts a fine-tune by hand (trigger manual,
    same code and data), cancels it 2-6 min in and starts it again 0.5-2 min later, ``cancels`` times within
    20 min, then the last run succeeds after ~90 min. ``churn-xgb``: a nightly retrain at 02:00 on a fresh
    snapshot whose night-4 run fails 8-15 min in and is retried (trigger retry) 5-15 min later, succeeding.
    Must not alert: a person at the keyboard cancelling their own run is not a loop to page them about (the
    cancels cost minutes of GPU and they already know), and one failure fixed by one retry is what retries are
    for. ``bad`` False: no cancels (one manual run) and no failure."""
    r = random.Random(seed)
    ev: list[Event] = []
    wf = wl("support/support-ft", "training", "support")
    t = T0 + 2 * DAY + 14 * HOUR + r.uniform(0, 1800)
    for _ in range(cancels if bad else 0):
        dur = r.uniform(2, 6) * MIN
        ev += _run_events(r, "support-ft", wf, t, dur, "cancelled", None, "tickets-2026-03-01", "manual", 4)
        t += dur + r.uniform(0.5, 2) * MIN
    ev += _run_events(r, "support-ft", wf, t, r.uniform(80, 100) * MIN, "succeeded",
                      {"name": "rougeL", "value": 0.412, "higher_is_better": True}, "tickets-2026-03-01", "manual", 4)
    wn = wl("growth/churn-xgb", "training", "growth")
    for d in range(int(days)):
        t = T0 + d * DAY + 2 * HOUR + r.uniform(0, 300)
        data = "snap-" + time.strftime("%Y%m%d", time.gmtime(t))
        metric = {"name": "auc", "value": round(0.81 + 0.001 * d + r.gauss(0, 3e-4), 4), "higher_is_better": True}
        if bad and d == 3:
            dur = r.uniform(8, 15) * MIN
            ev += _run_events(r, "churn-xgb", wn, t, dur, "failed", None, data, "schedule", 2)
            t += dur + r.uniform(5, 15) * MIN
            ev += _run_events(r, "churn-xgb", wn, t, r.uniform(40, 70) * MIN, "succeeded", metric, data, "retry", 2)
        else:
            ev += _run_events(r, "churn-xgb", wn, t, r.uniform(40, 70) * MIN, "succeeded", metric, data, "schedule", 2)
    return Scenario("", ev, [])


def obs_constant_feature(seed: int, days: float = 3.0, flip_h: float = 48.0, share: float = 0.03, batch: int = 20,
                         every_s: float = 60.0) -> Scenario:
    """``m-flag``: ``promo_flag`` always 0.0 for ``flip_h`` hours, then ``share`` of its values are 1.0 (an
    upstream flag switched on), beside a stable ``amount``; scored ambiguous (a never-seen value on 3 % of the
    inputs is a real change upstream, but 97 % of the inputs are as before and the README's share test wants
    10 points: a page and silence are both defensible). ``m-clock``: ``hour_of_day`` (every value = the current
    UTC hour, a batch is one value) beside a stable ``amount``, for ``days`` from 00:00 UTC: must not alert
    (a daily cycle by construction, also on day one)."""
    g = np.random.default_rng(seed)
    t1, a = T0 + days * DAY, T0 + flip_h * HOUR
    wf, wc = wl("serving/m-flag", "inference", "commerce"), wl("serving/m-clock", "inference", "commerce")

    def flag(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return (gg.random(n) < share).astype(float) if t >= a else np.zeros(n)
    ev = obs_events(g, "m-flag", wf, T0, t1, every_s, batch, {"promo_flag": flag, "amount": _normal(50, 10)})
    ev += obs_events(g, "m-clock", wc, T0, t1, every_s, batch,
                     {"hour_of_day": lambda gg, t, n: np.full(n, float(_gmt(t).tm_hour)), "amount": _normal(50, 10)})
    return Scenario("", ev, [truth("drift", "m-flag", wf["id"], a, t1, ambiguous=True,
                                   note=f"promo_flag constant 0 -> {share:.0%} ones")])


# ============================================================ probe round 4
# Scale and shape assumptions: many features on one model (a per-feature false-alarm rate times 100), batch
# sizes spanning three orders of magnitude, a feature set that changes, billing periods that start at :30, many
# small workloads (a per-workload false-open rate times 300), a spot node preempted and returned empty, NVML
# util pinned at 100 % with or without SM activity, retrain loops without a data_version.
def _obs_var(g: np.random.Generator, model: str, w: Event, t0: float, t1: float, gap: Callable[[], float],
             size: Callable[[], int], features: dict[str, Sampler],
             present: Callable[[str, float], bool] | None = None) -> list[Event]:
    """``obs_events`` with a drawn gap (s) and batch size per batch, and ``present(name, t)`` choosing which
    features a batch carries (a batch with none is not sent)."""
    out: list[Event] = []
    t = t0
    while True:
        t += gap()
        if t > t1:
            break
        n = size()
        vals = {k: [round(float(v), 4) for v in f(g, t, n)] for k, f in features.items()
                if present is None or present(k, t)}
        if vals:
            out.append({"type": "model_observation", "ts": round(t, 3), "model_id": model, "workload": w,
                        "values": vals})
    return out


def nodrift_many_features(seed: int, n_features: int = 100, days: float = 3.0, batch: int = 50,
                          every_s: float = 60.0, cycled: float = 0.2, rounded: int = 5) -> Scenario:
    """One model with ``n_features`` stable features of mixed kinds, in turn: normal, log-normal (sigma 1),
    Student-t (3 dof), Poisson (mean 0.5-20), Bernoulli (p 0.05-0.5), categorical (3-12 codes, Dirichlet
    shares); ``cycled`` of them (the numeric kinds only) follow a daily cycle of 0.5-2 sd (Poisson and
    Bernoulli: their mean moves by that many sd); ``rounded`` normal / log-normal ones are rounded to 1 decimal.
    ``batch`` values a feature every ``every_s`` (+-20 %) for ``days``. Must not alert: a per-feature false
    alarm rate is multiplied by ``n_features`` here."""
    g = np.random.default_rng(seed)
    model = "m-wide"
    w = wl(f"serving/{model}", "inference", "ml")
    kinds = ("normal", "lognormal", "t3", "poisson", "bernoulli", "categorical")
    names = [f"f{i:03d}_{kinds[i % len(kinds)]}" for i in range(n_features)]
    numeric = [i for i in range(n_features) if kinds[i % len(kinds)] != "categorical"]
    cyc = set(g.choice(numeric, min(len(numeric), round(cycled * n_features)), replace=False).tolist())
    cont = [i for i in range(n_features) if kinds[i % len(kinds)] in ("normal", "lognormal") and i not in cyc]
    rnd = set(g.choice(cont, min(len(cont), rounded), replace=False).tolist()) if cont and rounded else set()
    feats: dict[str, Sampler] = {}
    for i, name in enumerate(names):
        kind = kinds[i % len(kinds)]
        amp = float(g.uniform(0.5, 2.0)) if i in cyc else 0.0
        phase = float(g.uniform(0, 2 * math.pi))
        mu, sd = float(g.uniform(-50, 200)), float(g.uniform(0.5, 30))
        lam, p = float(g.uniform(0.5, 20)), float(g.uniform(0.05, 0.5))
        shares = g.dirichlet(np.ones(int(g.integers(3, 13))))

        def f(gg: np.random.Generator, t: float, n: int, kind: str = kind, amp: float = amp, phase: float = phase,
              mu: float = mu, sd: float = sd, lam: float = lam, p: float = p, shares: np.ndarray = shares,
              rnd: bool = i in rnd) -> np.ndarray:
            c = amp * math.sin(2 * math.pi * (t - T0) / DAY + phase)  # in sd of the feature
            if kind == "normal":
                x = gg.normal(mu + c * sd, sd, n)
            elif kind == "lognormal":
                x = gg.lognormal(math.log(max(abs(mu), 1.0)), 1.0, n) * math.exp(c)  # sd of log(x) is 1
            elif kind == "t3":
                x = mu + sd * (gg.standard_t(3, n) + c * math.sqrt(3.0))  # sd of t3 is sqrt(3)
            elif kind == "poisson":
                x = gg.poisson(max(0.05, lam + c * math.sqrt(lam)), n).astype(float)
            elif kind == "bernoulli":
                x = (gg.random(n) < min(0.95, max(0.01, p + c * math.sqrt(p * (1 - p))))).astype(float)
            else:
                x = gg.choice(len(shares), n, p=shares).astype(float)
            return np.round(x, 1) if rnd else x
        feats[name] = f
    ev = obs_events(g, model, w, T0, T0 + days * DAY, every_s, batch, feats)
    return Scenario("", ev, [])


def drift_variable_batches(seed: int, days: float = 3.0, at_h: float = 32.0, shift_sd: float = 1.0,
                           median: float = 30.0, sigma: float = 1.5, gap_s: tuple[float, float] = (30.0, 300.0),
                           control: bool = True) -> Scenario:
    """Batch sizes log-normal (median ``median``, sigma ``sigma``) clipped to 1-1000 values, a batch every
    ``gap_s`` s (uniform): ``m-varbatch``'s ``amount`` moves ``shift_sd`` sd up at ``at_h`` (day 2, truth, goal
    30 min) beside a stable ``score``; ``m-varbatch-ctl`` the same sizes and cadence, stable (must not alert)."""
    g = np.random.default_rng(seed)
    a, t1 = T0 + at_h * HOUR, T0 + days * DAY

    def gap() -> float:
        return float(g.uniform(*gap_s))

    def size() -> int:
        return int(min(1000, max(1, round(float(g.lognormal(math.log(median), sigma))))))

    def amount(shift: bool) -> Sampler:
        return lambda gg, t, n: gg.normal(50 + (10 * shift_sd if shift and t >= a else 0.0), 10, n)
    wd, wc = wl("serving/m-varbatch", "inference", "ml"), wl("serving/m-varbatch-ctl", "inference", "ml")
    ev = _obs_var(g, "m-varbatch", wd, T0, t1, gap, size,
                  {"amount": amount(True), "score": lambda gg, t, n: gg.beta(2, 5, n)})
    if control:
        ev += _obs_var(g, "m-varbatch-ctl", wc, T0, t1, gap, size,
                       {"amount": amount(False), "score": lambda gg, t, n: gg.beta(2, 5, n)})
    return Scenario("", ev, [truth("drift", "m-varbatch", wd["id"], a, t1, goal_s=30 * MIN,
                                   note=f"amount +{shift_sd:g} sd, batches of 1-1000 values")])


def drift_feature_churn(seed: int, days: float = 3.0, change_h: float = 24.0, batch: int = 20,
                        every_s: float = 60.0, half: float = 0.5) -> Scenario:
    """``m-churn``'s feature set changes, every feature stable: ``amount`` and ``latency_ms`` in every batch,
    ``new_signal`` only from ``change_h`` (day 2) on, ``old_signal`` only before it (it stops on day 2),
    ``sometimes`` in ``half`` of the batches (drawn per batch). ``days`` days. Must not alert."""
    g = np.random.default_rng(seed)
    w = wl("serving/m-churn", "inference", "ml")
    a = T0 + change_h * HOUR
    coin: dict[float, bool] = {}

    def present(name: str, t: float) -> bool:
        if name == "new_signal":
            return t >= a
        if name == "old_signal":
            return t < a
        if name == "sometimes":
            if t not in coin:
                coin[t] = bool(g.random() < half)
            return coin[t]
        return True
    feats: dict[str, Sampler] = {"amount": _normal(50, 10), "latency_ms": lambda gg, t, n: gg.lognormal(4.5, 0.4, n),
                                 "new_signal": _normal(0.2, 0.05), "old_signal": _normal(300, 40),
                                 "sometimes": lambda gg, t, n: gg.poisson(3.0, n).astype(float)}
    ev = _obs_var(g, "m-churn", w, T0, T0 + days * DAY, lambda: every_s * (1 + float(g.uniform(-0.2, 0.2))),
                  lambda: batch, feats, present)
    return Scenario("", ev, [])


def bill_offset_periods(seed: int, factor: float = 1.0, hours: float = 2.0, days: float = 21.0, sigma: float = 0.15,
                        amp: float = 0.4, offset_min: float = 30.0) -> Scenario:
    """Hourly rows whose periods start at :``offset_min`` (period_start hh:30, period_end hh+1:30; a billing
    account whose export hour is not aligned to UTC hours), daily cycle, log-normal ``sigma``, landing 4-15 min
    after the period ends, ``days`` days; x``factor`` for ``hours`` from 13:30 on day ``days-5`` (factor 1:
    none, must not alert)."""
    r = random.Random(seed)
    w = wl("serving/search-rerank", "inference", "search")
    t0 = T0 + offset_min * MIN
    a = t0 + (days - 5) * DAY + 13 * HOUR
    b = a + hours * HOUR
    s = spend(r, t0, t0 + days * DAY - HOUR, HOUR, 12.0, daily_shape(amp), sigma,
              lambda t: factor if a <= t < b else 1.0)
    ev = _rows(r, s, w, dict(FOCUS, resource_id="endpoint/search-rerank"))
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR + GRACE,
                                         goal_s=HOUR + 15 * MIN)]
    return Scenario("", ev, tr)


def bill_many_workloads(seed: int, n: int = 300, days: float = 21.0, factor: float = 10.0, hours: float = 3.0,
                        usd: tuple[float, float] = (0.5, 5.0), sigma: tuple[float, float] = (0.2, 0.4)) -> Scenario:
    """``n`` small workloads, hourly rows for ``days`` (landing 4-15 min late): each $``usd`` an hour (uniform),
    log-normal noise sigma drawn in ``sigma``, half with a daily shape (amplitude 0.1-0.5, peak at a random
    hour), half with a weekly one (weekdays x1, weekends x0.3-0.7, times a daily shape of 0.1-0.3); workload 0
    (``wl-000``) goes x``factor`` for ``hours`` on day ``days-5`` from a random hour (truth; factor 1: none).
    Every other open is false: report them per 100 workload-weeks (``n * days / 7`` workload-weeks)."""
    r = random.Random(seed)
    ev: list[Event] = []
    tr = []
    for i in range(n):
        teams = ("ml", "search", "growth", "data", "risk", "platform")
        w = wl(f"tenant/wl-{i:03d}", ("inference", "batch", "training")[i % 3], teams[i % len(teams)])
        level, sg = r.uniform(*usd), r.uniform(*sigma)
        peak = r.uniform(0, 24)
        if i % 2 == 0:
            day = daily_shape(r.uniform(0.1, 0.5), peak)
            shape = day
        else:
            wk = r.uniform(0.3, 0.7)
            day = daily_shape(r.uniform(0.1, 0.3), peak)

            def shape(t: float, day: Callable[[float], float] = day, wk: float = wk) -> float:
                return day(t) * (wk if _gmt(t).tm_wday >= 5 else 1.0)
        a = T0 + (days - 5) * DAY + r.randint(0, 20) * HOUR
        b = a + hours * HOUR
        spike = i == 0 and factor != 1.0

        def mult(t: float, a: float = a, b: float = b) -> float:
            return factor if a <= t < b else 1.0
        s = spend(r, T0, T0 + days * DAY, HOUR, level, shape, sg, mult if spike else None)
        ev += _rows(r, s, w, {"source": "focus", "service": "Amazon EC2", "resource_id": f"i-{i:04d}",
                              "sku": "g5.xlarge"})
        if spike:
            tr.append(truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR + GRACE,
                            goal_s=HOUR + 15 * MIN, note=f"${level:.2f}/h workload x{factor:g}"))
    return Scenario("", ev, tr)


def gpu_preempted(seed: int, gpus: int = 8, busy_h: float = 6.0, gone_min: float = 40.0, idle_h: float = 2.0,
                  step_s: float = 30.0, price: float = 1.15, goal_min: float = 90.0) -> Scenario:
    """A spot node of ``gpus`` A100s (spot price ``price``) runs one training job (checkpoint pauses) for
    ``busy_h``, is preempted: no sample from any GPU for ``gone_min``, then it comes back empty: every GPU
    allocated to nobody (workload null, no memory, no process) and idle for ``idle_h``, after which a new job
    is scheduled onto it for an hour. Truth: each GPU idle from its return for ``idle_h``. Goal ``goal_min``
    (90): the README's dwell for an unallocated GPU whose rhythm is unknown (the job that gave it a rhythm is
    gone); a 10 min goal would be a new promise. Nothing may open inside the missing ``gone_min``."""
    r = random.Random(seed)
    st = States(r)
    w0 = wl("research/spot-pretrain", "training", "research")
    w1 = wl("research/spot-sweep", "training", "research")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    g0 = T0 + busy_h * HOUR
    back = g0 + gone_min * MIN
    b = back + idle_h * HOUR
    phase, p1 = r.uniform(0, 3000), r.uniform(0, 3000)
    devs = [Device("spot-a100-3", u, timeline([(T0, st.training(w0, phase)), (g0, st.idle(w0, 0.78)),
                                               (back, st.idle(None, 0.0)), (b, st.training(w1, p1))]),
                   price=price, pid=900 + i) for i, u in enumerate(uuids)]
    ev = gpu_events(r, devs, T0, b + HOUR, step_s, missing={u: [(g0, back)] for u in uuids})
    return Scenario("", ev, [truth("idle", u, None, back, b, goal_s=goal_min * MIN, price=price,
                                   note="unallocated after a preemption") for u in uuids])


def gpu_util_stuck(seed: int, sm: float | None = None, stuck_h: float = 6.0, busy_h: float = 2.0,
                   mem: float = 0.02, step_s: float = 15.0) -> Scenario:
    """A training GPU works normally for ``busy_h`` (util 70-97 %), then NVML ``util_gpu_pct`` reads 100 with
    ``mem`` of its memory used for ``stuck_h`` (a kernel spinning on a flag, or a driver reporting a pinned
    counter), then works again for 30 min. ``sm`` None: ``sm_active_pct`` absent throughout (a GPU without
    profiling counters): must not alert, nothing tells a busy-wait from work. ``sm`` a number: SM activity
    reads ``sm`` % while stuck (and util x0.6-0.85 while working): truth idle, goal 10 min."""
    r = random.Random(seed)
    st = States(r)
    w = wl("rl/rollout-workers", "training", "rl")
    u = _uuid(r, "GPU")
    a = T0 + busy_h * HOUR
    b = a + stuck_h * HOUR

    def stuck(t: float) -> GpuState:
        return 100.0, (sm if sm is not None else None), mem, w
    f = timeline([(T0, st.busy(w, 70, 97, mem)), (a, stuck), (b, st.busy(w, 70, 97, mem))])
    ev = gpu_events(r, [Device("rl-04", u, f, sm=sm is not None, pid=950)], T0, b + 30 * MIN, step_s)
    tr = [] if sm is None else [truth("idle", u, w["id"], a, b, goal_s=10 * MIN, price=A100_PRICE,
                                      note=f"util 100 %, SM {sm:g} %, memory {mem:.0%}")]
    return Scenario("", ev, tr)


def loop_no_data_version(seed: int, days: float = 7.0, every_h: float = 4.0, gpus: int = 4) -> Scenario:
    """Two models whose runs carry ``data_version`` null (a pipeline that does not record it). ``churn-nodv``:
    a schedule reruns every ``every_h`` h, metric flat (+-5e-4): a no-gain loop (truth). ``ctr-nodv``: a healthy
    daily retrain at 03:00 whose metric improves every day (must not alert). ``days`` days."""
    r = random.Random(seed)
    wa, wb = wl("growth/churn-nodv", "training", "growth"), wl("ads/ctr-nodv", "training", "ads")
    ev: list[Event] = []
    a = T0 + HOUR
    t, last = a, a
    while t < T0 + days * DAY:
        st = t + r.uniform(0, 60)
        dur = r.uniform(10, 40) * MIN
        ev += _run_events(r, "churn-nodv", wa, st, dur, "succeeded",
                          {"name": "auc", "value": round(0.842 + r.uniform(-5e-4, 5e-4), 4), "higher_is_better": True},
                          "", "schedule", gpus)
        last = st + dur
        t += every_h * HOUR
    for d in range(int(days)):
        st = T0 + d * DAY + 3 * HOUR + r.uniform(0, 300)
        metric = {"name": "auc", "value": round(0.74 + 0.002 * d + r.gauss(0, 3e-4), 4), "higher_is_better": True}
        ev += _run_events(r, "ctr-nodv", wb, st, r.uniform(40, 80) * MIN, "succeeded", metric, "", "schedule", gpus)
    for e in ev:
        e["data_version"] = None
    goal = max(60 * MIN, 2 * every_h * HOUR + 40 * MIN)
    return Scenario("", ev, [truth("loop", "churn-nodv", wa["id"], a, last, goal_s=goal,
                                   note=f"every {every_h:g} h, data_version null, flat metric")])


# ============================================================ probe round 5
# Shape assumptions of a fifth outside tester: independent single-GPU jobs with normal end-of-job gaps, an
# endpoint whose traffic thins to a Poisson trickle, weekly billing periods, export days skipped and delivered
# late, a price rise on unchanged usage, a slow input trend and a prediction that collapses to a constant, one
# model retrained by two teams, and 30 s samples with jitter and drops.
def gpu_independent_jobs(seed: int, hours: float = 12.0, gpus: int = 8, hoard_h: float = 2.0, hoard_at_h: float = 5.0,
                         step_s: float = 15.0) -> Scenario:
    """One node, ``gpus`` GPUs, each running its own single-GPU training job (its own workload id, checkpoint
    pauses of 3-5 min every 40-60 min): runs of 1.5-4 h (the first already running, 0.3-4 h left), each followed by the
    normal end of a job (memory freed, process gone, the GPU unallocated: workload null) for 5-30 min before the
    next run of that job. On GPU 3 the run that is going at ``hoard_at_h`` ends there but keeps 60 % of the
    memory at 0 % util for ``hoard_h`` (the process lingers: hoarding, the truth, goal 10 min); then it is freed
    and the job's next run starts 10 min later. Every other end of a job must not alert."""
    r = random.Random(seed)
    st = States(r)
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    teams = ("vision", "nlp", "speech", "recsys", "rl", "research", "ads", "risk")
    end = T0 + hours * HOUR
    a = T0 + hoard_at_h * HOUR
    devs, tr = [], []
    for i, u in enumerate(uuids):
        w = wl(f"{teams[i % len(teams)]}/job-{i}", "training", teams[i % len(teams)])
        segs: list[tuple[float, Callable[[float], GpuState]]] = []
        t = T0
        hoarded = i != 3
        while t < end:
            every, pause = r.uniform(40, 60) * MIN, r.uniform(3, 5) * MIN
            segs.append((t, st.training(w, r.uniform(0, every), every, pause, 0.78)))
            run0 = t
            t += r.uniform(0.3 if t == T0 else 1.5, 4.0) * HOUR  # the first run began before the stream
            if not hoarded and t >= a:
                t = max(a, run0 + 30 * MIN)
                segs.append((t, st.idle(w, 0.6)))
                tr.append(truth("idle", u, w["id"], t, t + hoard_h * HOUR, goal_s=10 * MIN, price=A100_PRICE,
                                note="job ended, process kept 60 % memory at 0 % util"))
                t += hoard_h * HOUR
                segs.append((t, st.idle(None, 0.0)))
                t += 10 * MIN
                hoarded = True
                continue
            segs.append((t, st.idle(None, 0.0)))
            t += r.uniform(5, 30) * MIN
        devs.append(Device("dgx-21", u, timeline(segs), pid=1100 + i))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def endpoint_sporadic(seed: int, busy_days: float = 2.0, quiet_h: float = 6.0, lone_every_min: float = 8.0,
                      control_every_s: float = 40.0, request_s: float = 45.0, step_s: float = 30.0) -> Scenario:
    """Two inference endpoints on one node, model loaded (40 % memory), the same daily traffic cycle (8-55 %) for
    ``busy_days``, then ``quiet_h`` of thin traffic, then two hours of the cycle again. ``sporadic``: a lone
    request as a Poisson process every ~``lone_every_min`` (one sample at 2-6 %): truth idle, goal 20 min (two
    to three mean gaps: a lone request is not one the GPU is needed for, but until a few gaps have been seen
    nothing tells the trickle from a lull of a working endpoint). ``trickle`` (control): a Poisson request
    every ~``control_every_s`` s, each keeping the GPU at 3-9 % for ``request_s`` s, so most samples read
    3-9 %: it serves traffic, must not alert."""
    r = random.Random(seed)
    wa, wb = wl("serving/faq-bot", "inference", "assistant"), wl("serving/doc-search", "inference", "search")
    ga, gb = _uuid(r, "GPU"), _uuid(r, "GPU")
    a = T0 + busy_days * DAY
    b = a + quiet_h * HOUR

    def traffic(w: Event) -> Callable[[float], GpuState]:
        def f(t: float) -> GpuState:
            load = 31 + 23 * math.sin(2 * math.pi * (t - T0) / DAY - 1.2)
            return max(2.5, load + r.gauss(0, 3)), None, 0.4, w
        return f

    def arrivals(mean_s: float) -> list[float]:
        out: list[float] = []
        t = a
        while True:
            t += r.expovariate(1 / mean_s)
            if t >= b:
                return out
            out.append(t)
    lone, reqs = arrivals(lone_every_min * MIN), arrivals(control_every_s)

    def sporadic(t: float) -> GpuState:  # t: the sample's midpoint
        if any(abs(x - t) < step_s / 2 for x in lone):
            return r.uniform(2, 6), None, 0.4, wa
        return r.uniform(0, 0.4), r.uniform(0, 0.2), 0.4, wa

    def trickle(t: float) -> GpuState:
        if any(t - step_s / 2 - request_s < x < t + step_s / 2 for x in reqs):
            return r.uniform(3, 9), None, 0.4, wb
        return r.uniform(0, 0.4), r.uniform(0, 0.2), 0.4, wb
    devs = [Device("inf-05", ga, timeline([(T0, traffic(wa)), (a, sporadic), (b, traffic(wa))]), model=H100,
                   price=3.9, pid=1201),
            Device("inf-05", gb, timeline([(T0, traffic(wb)), (a, trickle), (b, traffic(wb))]), model=H100,
                   price=3.9, pid=1202)]
    ev = gpu_events(r, devs, T0, b + 2 * HOUR, step_s)
    return Scenario("", ev, [truth("idle", ga, wa["id"], a, b, goal_s=20 * MIN, price=3.9,
                                   note=f"{len(lone)} lone requests in {quiet_h:g} h; the control saw {len(reqs)}")])


def bill_weekly_periods(seed: int, factor: float = 1.0, weeks: int = 30, sigma: float = 0.12,
                        late_d: tuple[float, float] = (1.0, 3.0)) -> Scenario:
    """Weekly rows (period Monday 00:00 to the next Monday, one workload, two SKUs landing independently
    ``late_d`` days after the week closes) for ``weeks`` weeks, log-normal ``sigma``; week ``weeks-4`` is
    x``factor`` (1: none, must not alert). Goal: the week plus the latest landing."""
    r = random.Random(seed)
    w = wl("research/shared-cluster", "training", "research")
    bad = T0 + (weeks - 4) * 7 * DAY
    s = spend(r, T0, T0 + weeks * 7 * DAY, 7 * DAY, 21000.0, lambda t: 1.0, sigma,
              lambda t: factor if t == bad else 1.0)
    ev = _rows(r, s, w, {"source": "focus", "service": "CoreWeave", "resource_id": "ns/research-shared"},
               (late_d[0] * DAY, late_d[1] * DAY), skus=[("h100-gpu-hours", 0.9), ("block-storage", 0.1)])
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], bad, bad + 7 * DAY,
                                         detect_by=bad + 7 * DAY + late_d[1] * DAY + GRACE,
                                         goal_s=7 * DAY + late_d[1] * DAY,
                                         note="the week's period plus the latest landing")]
    return Scenario("", ev, tr)


def bill_missing_days(seed: int, factor: float = 1.0, days: float = 45.0, sigma: float = 0.15,
                      weekend: float = 0.8, late_h: tuple[float, float] = (4.0, 10.0)) -> Scenario:
    """Daily rows (period one UTC day, landing ``late_h`` after the day closes) for ``days`` days, weekends
    x``weekend``; every 5-10 days the export skips two days and the next export (the third day's) brings the
    skipped days' rows with its own (each row keeps its own period, all three land together): must not alert.
    ``factor`` != 1: the first skipped day after day 30 is x``factor`` (truth, goal: until the late rows land)."""
    r = random.Random(seed)
    w = wl("data/nightly-features", "batch", "data")

    def weekly(t: float) -> float:
        return weekend if _gmt(t).tm_wday >= 5 else 1.0
    n = int(days)
    skipped: set[int] = set()
    d = r.randint(5, 10)
    while d + 2 < n:
        skipped |= {d, d + 1}
        d += 2 + r.randint(5, 10)
    bad = min((k for k in skipped if k >= 30 and k - 1 not in skipped), default=None) if factor != 1.0 else None
    s = spend(r, T0, T0 + n * DAY, DAY, 2400.0, weekly, sigma,
              lambda t: factor if bad is not None and t == T0 + bad * DAY else 1.0)
    ev: list[Event] = []
    land = {k: T0 + (k + 1) * DAY + r.uniform(*late_h) * HOUR for k in range(n)}
    for k, (ps, pe, cost) in enumerate(s):
        j = k
        while j in skipped:
            j += 1
        ts = land.get(j, land[k])
        ev.append({"type": "billing_delta", "ts": round(ts + r.uniform(0, 60), 3), "period_start": ps, "period_end": pe,
                   "workload": w, "source": "focus", "service": "Google BigQuery",
                   "resource_id": "bq/nightly-features", "sku": "analysis-slots", "cost_usd": round(cost, 6)})
    tr = []
    if bad is not None:
        t0 = T0 + bad * DAY
        j = bad
        while j in skipped:
            j += 1
        tr.append(truth("cost", None, w["id"], t0, t0 + DAY, detect_by=land[j] + 60 + GRACE,
                        goal_s=land[j] + 60 - t0, note=f"day {bad} x{factor:g}, delivered with day {j}"))
    return Scenario("", ev, tr)


def bill_step_price(seed: int, factor: float = 2.0, days: float = 21.0, at_day: int = 8, sigma: float = 0.12,
                    amp: float = 0.3) -> Scenario:
    """An hourly GPU workload (daily cycle, log-normal ``sigma``; rows with ``usage_quantity`` GPU-hours landing
    4-15 min late) whose price goes x``factor`` for good on day ``at_day`` (a Tuesday) at 10:00 with the usage
    unchanged: truth, goal 2 h, one anomaly; the README accepts a level shift as the new normal after 7 days,
    so a second id (or a re-open) in the days after that is a finding."""
    r = random.Random(seed)
    w = wl("llm/finetune-pool", "training", "foundation")
    a = T0 + at_day * DAY + 10 * HOUR
    ev: list[Event] = []
    t = T0
    while t + HOUR <= T0 + days * DAY:
        gpu_h = 24.0 * daily_shape(amp, 14)(t + HOUR / 2) * r.lognormvariate(-sigma * sigma / 2, sigma)
        price = 2.4 * (factor if t >= a else 1.0)
        ev.append({"type": "billing_delta", "ts": round(t + HOUR + r.uniform(240, 900), 3), "period_start": t,
                   "period_end": t + HOUR, "workload": w, "source": "gpu_meter", "service": "Lambda Cloud",
                   "resource_id": "cluster/ft-pool", "sku": "gpu_8x_h100", "usage_quantity": round(gpu_h, 3),
                   "usage_unit": "GPU-hours", "cost_usd": round(gpu_h * price, 6)})
        t += HOUR
    return Scenario("", ev, [truth("cost", None, w["id"], a, T0 + days * DAY, goal_s=2 * HOUR,
                                   note=f"price x{factor:g} from a Tuesday 10:00, usage unchanged")])


def drift_slow_trend(seed: int, days: float = 10.0, trend_sd: float = 0.15, collapse_days: float = 4.0,
                     collapse_h: float = 58.0, batch: int = 20, every_s: float = 120.0) -> Scenario:
    """``m-trend``: an input whose mean moves +``trend_sd`` sd a day for ``days`` (no cycle; 1.5 sd by the end),
    beside a stable input: ambiguous over the whole stream (a retrain signal by day 10, but no rate at which a
    slow trend must page is promised, and any open date between ~day 3 and day 10 is defensible).
    ``m-collapse``: a stable input and a prediction ``p_default`` (beta, mean 0.3) that reads a constant 0.5 from
    ``collapse_h`` (day 3) on (a broken model serving its fallback): truth, goal 30 min; ``collapse_days`` long."""
    g = np.random.default_rng(seed)
    wa, wb = wl("serving/m-trend", "inference", "ml"), wl("serving/m-collapse", "inference", "risk")
    t1 = T0 + days * DAY
    a = T0 + collapse_h * HOUR

    def trend(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return gg.normal(100 + 10 * trend_sd * (t - T0) / DAY, 10, n)

    def pred(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return np.full(n, 0.5) if t >= a else gg.beta(3, 7, n)
    ev = obs_events(g, "m-trend", wa, T0, t1, every_s, batch,
                    {"session_len_s": trend, "n_items": lambda gg, t, n: gg.normal(12, 3, n)})
    ev += obs_events(g, "m-collapse", wb, T0, T0 + collapse_days * DAY, every_s, batch,
                     {"income_k": lambda gg, t, n: gg.lognormal(4.0, 0.5, n), "p_default": pred})
    return Scenario("", ev, [
        truth("drift", "m-trend", wa["id"], T0 + DAY, t1, detect_by=t1 + GRACE, ambiguous=True,
              note=f"+{trend_sd:g} sd/day, {trend_sd * days:g} sd by the end"),
        truth("drift", "m-collapse", wb["id"], a, T0 + collapse_days * DAY, goal_s=30 * MIN,
              note="p_default beta mean 0.3 -> constant 0.5")])


def loop_two_teams(seed: int, days: float = 14.0, gpus: int = 8) -> Scenario:
    """One model_id (``fraud-xgb``) retrained by two teams from two workloads on alternating days (team A even
    days at 02:00, team B odd days at 14:00), each run on that day's fresh data_version, its own code_version,
    trigger ``schedule``, all succeeded, metric (auc) improving run over run: must not alert."""
    r = random.Random(seed)
    ws = [wl("risk/fraud-retrain", "training", "risk"), wl("fraudops/fraud-nightly", "training", "fraudops")]
    ev: list[Event] = []
    for d in range(int(days)):
        k = d % 2
        st = T0 + d * DAY + (2 if k == 0 else 14) * HOUR + r.uniform(0, 600)
        metric = {"name": "auc", "value": round(0.81 + 0.0015 * d + r.gauss(0, 2e-4), 4), "higher_is_better": True}
        run = _run_events(r, "fraud-xgb", ws[k], st, r.uniform(50, 110) * MIN, "succeeded", metric,
                          "txns-" + time.strftime("%Y%m%d", time.gmtime(st)), "schedule", gpus)
        for e in run:
            e["code_version"] = ("git-a11c0de", "git-b22f00d")[k]
        ev += run
    return Scenario("", ev, [])


def gpu_jitter_30s(seed: int, gpus: int = 16, hours: float = 12.0, idle_h: float = 2.0, idle_at_h: float = 5.0,
                   step_s: float = 30.0, jitter_s: float = 10.0, drop: float = 0.02) -> Scenario:
    """``gpus`` A100s on two nodes sampled every ``step_s`` s, each sample's ts moved +-``jitter_s`` off its grid
    point (``interval_s``: the time since the GPU's previous sample, 10-50 s) and ``drop`` of the samples lost
    (a gap in coverage): on the first node one 8-GPU job, on the second a 4-GPU job and four 1-GPU jobs, all with
    3-min checkpoint pauses every 40 min (must not alert); the 1-GPU job on the last GPU hangs at
    ``idle_at_h`` for ``idle_h`` holding its memory (truth, goal 10 min)."""
    r = random.Random(seed)
    st = States(r)
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    half = gpus // 2
    w8, w4 = wl("llm/sft-8x", "training", "foundation"), wl("vision/seg-4x", "training", "vision")
    singles = [wl(f"nlp/ft-{i}", "training", "nlp") for i in range(gpus - half - min(4, half))]
    p8, p4 = r.uniform(0, 2400), r.uniform(0, 2400)
    a, b = T0 + idle_at_h * HOUR, T0 + (idle_at_h + idle_h) * HOUR
    devs = []
    for i, u in enumerate(uuids):
        if i < half:
            f, node = st.training(w8, p8, 40 * MIN, 3 * MIN), "dgx-31"
        elif i < half + 4:
            f, node = st.training(w4, p4, 40 * MIN, 3 * MIN), "dgx-32"
        else:
            w = singles[i - half - 4]
            f, node = st.training(w, r.uniform(0, 2400), 40 * MIN, 3 * MIN), "dgx-32"
            if i == gpus - 1:
                f = timeline([(T0, f), (a, st.idle(w, 0.78)), (b, f)])
        devs.append(Device(node, u, f, pid=1300 + i))
    raw = gpu_events(r, devs, T0, T0 + hours * HOUR, step_s)
    out: list[Event] = []
    for u in uuids:
        prev = None
        for e in (x for x in raw if x["gpu_uuid"] == u):
            ts = round(e["ts"] + r.uniform(-jitter_s, jitter_s), 3)
            e["interval_s"] = round(ts - prev, 3) if prev is not None else step_s
            e["ts"] = prev = ts
            if r.random() >= drop:
                out.append(e)
    last = singles[-1]["id"] if singles else w4["id"]
    return Scenario("", out, [truth("idle", uuids[-1], last, a, b, goal_s=10 * MIN, price=A100_PRICE,
                                    note="1-GPU job hung, memory held, 30 s +-10 s samples, 2 % dropped")])


# ============================================================ probe round 6
# Assumptions of a sixth outside tester: MIG slices with their own job churn, endpoints that reload their model
# after every reschedule, evaluation pauses of a multi-GPU job, a monthly fee row, credits and refunds on a daily
# bill, many LLM series that appear one by one, a model seeing a handful of inputs an hour, and a cron retrain on
# upstream data that stopped updating.
def gpu_mig_slices(seed: int, hours: float = 12.0, hoard_at_h: float = 5.0, hoard_h: float = 2.0,
                   step_s: float = 30.0) -> Scenario:
    """One H100 split into seven 1g.10gb MIG instances (``mig_uuid`` set, only the contract's fields), each used
    by its own pod (its own workload id): jobs of 0.5-3 h (busy 30-90 %, 70 % of the slice's memory) come and go,
    each followed by 5-30 min unallocated (workload null, memory 0, no process), for ``hours``: must not alert.
    On slice 2 the job running at ``hoard_at_h`` ends there but keeps 70 % of the memory at 0 % util for
    ``hoard_h`` (hoarding, truth, goal 10 min); then the slice is freed and the pod's next job starts 10 min later."""
    r = random.Random(seed)
    st = States(r)
    g = _uuid(r, "GPU")
    migs = [_uuid(r, "MIG") for _ in range(7)]
    end = T0 + hours * HOUR
    a = T0 + hoard_at_h * HOUR
    devs, tr = [], []
    for i, m in enumerate(migs):
        w = wl(f"mlplat/slice-pod-{i}", "training", "mlplat")
        segs: list[tuple[float, Callable[[float], GpuState]]] = []
        t = T0
        hoarded = i != 2
        while t < end:
            segs.append((t, st.busy(w, 30, 90, 0.7)))
            run0 = t
            t += r.uniform(0.5, 3.0) * HOUR
            if not hoarded and t >= a:
                t = max(a, run0 + 20 * MIN)
                segs.append((t, st.idle(w, 0.7)))
                tr.append(truth("idle", m, w["id"], t, t + hoard_h * HOUR, goal_s=10 * MIN,
                                note="MIG slice: job ended, its process kept 70 % of the slice's memory at 0 % util"))
                t += hoard_h * HOUR
                segs.append((t, st.idle(None, 0.0)))
                t += 10 * MIN
                hoarded = True
                continue
            segs.append((t, st.idle(None, 0.0)))
            t += r.uniform(5, 30) * MIN
        devs.append(Device("hgx-61", g, timeline(segs), mig_uuid=m, model=H100, mem_gib=10, price=None, pid=700 + i))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def gpu_model_loading(seed: int, pods: int = 6, hours: float = 24.0, stuck_at_h: float = 15.0, stuck_h: float = 2.0,
                      step_s: float = 30.0) -> Scenario:
    """``pods`` inference endpoints, one H100 each, rescheduled every 2-5 h: the old pod goes (1-3 min
    unallocated, memory 0), the new pod loads its model for 5-12 min (memory ramps 0 -> 70 %, util 0 %) and then
    serves a daily-cycle load (8-55 %): must not alert. Endpoint 4's pod started at the first reschedule after
    ``stuck_at_h`` gets stuck loading: memory full (95 %) after its ramp, util 0 % for ``stuck_h`` (truth, goal
    20 min: a normal load here keeps util at 0 % for up to 12 min, so a detector must wait past the longest
    load; 20 min is that plus a margin), then it is rescheduled and serves again."""
    r = random.Random(seed)
    devs, tr = [], []
    end = T0 + hours * HOUR
    for i in range(pods):
        u = _uuid(r, "GPU")
        w = wl(f"serving/endpoint-{i}", "inference", "serving")
        phase = r.uniform(0, 2 * math.pi)

        def serve(t: float, w: Event = w, phase: float = phase) -> GpuState:
            load = 31 + 23 * math.sin(2 * math.pi * (t - T0) / DAY + phase)
            return max(2.5, load + r.gauss(0, 3)), None, 0.7, w

        def loading(s: float, dur: float, full: float, w: Event = w) -> Callable[[float], GpuState]:
            return lambda x: (0.0, r.uniform(0.0, 0.2), full * min(1.0, max(0.02, (x - s) / dur)), w)
        segs: list[tuple[float, Callable[[float], GpuState]]] = [(T0, serve)]
        t = T0 + r.uniform(0.5, 3.0) * HOUR
        stuck = i != 4
        while t < end:
            segs.append((t, st_free(r)))
            t += r.uniform(1, 3) * MIN
            dur = r.uniform(5, 12) * MIN
            if not stuck and t >= T0 + stuck_at_h * HOUR:
                segs.append((t, loading(t, dur, 0.95)))
                tr.append(truth("idle", u, w["id"], t, t + stuck_h * HOUR, goal_s=20 * MIN, price=3.9,
                                note="pod stuck loading: memory full, util 0 %; normal loads last 5-12 min"))
                t += stuck_h * HOUR
                stuck = True
                continue
            segs.append((t, loading(t, dur, 0.7)))
            t += dur
            segs.append((t, serve))
            t += r.uniform(2, 5) * HOUR
        devs.append(Device("inf-41", u, timeline(segs), model=H100, mem_gib=80, price=3.9, pid=900 + i))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def st_free(r: random.Random) -> Callable[[float], GpuState]:
    """An unallocated GPU: no workload, no memory."""
    return lambda t: (0.0, r.uniform(0.0, 0.2), 0.0, None)


def gpu_eval_pauses(seed: int, straggler: bool = False, ranks: int = 8, hours: float = 12.0, step_s: float = 15.0,
                    lag_h: float = 2.0) -> Scenario:
    """An 8-GPU training job on one node (checkpoint pauses of 3-5 min every 40-60 min) that evaluates every 2 h:
    rank 0 runs the evaluation for 15-25 min (util 5-15 %) while ranks 1-7 hold their memory at 0 % util waiting
    at the barrier: must not alert. ``straggler``: rank 5 alone drops to 0 % (memory held) for ``lag_h`` from
    30 min after the third evaluation ends, while the others train (truth, goal 5 min); the next evaluation falls
    inside that stretch."""
    r = random.Random(seed)
    st = States(r)
    w = wl("llm/sft-eval-8x", "training", "foundation")
    uuids = [_uuid(r, "GPU") for _ in range(ranks)]
    every, pause = r.uniform(40, 60) * MIN, r.uniform(3, 5) * MIN
    phase = r.uniform(0, every)
    first = T0 + r.uniform(0.5, 1.5) * HOUR
    evals = []
    t = first
    while t < T0 + hours * HOUR:
        evals.append((t, t + r.uniform(15, 25) * MIN))
        t += 2 * HOUR
    k = min(5, ranks - 1)
    a = evals[2][1] + 30 * MIN
    b = a + lag_h * HOUR

    def rank(i: int) -> Callable[[float], GpuState]:
        train = st.training(w, phase, every, pause)

        def f(t: float) -> GpuState:
            if straggler and i == k and a <= t < b:
                return 0.0, r.uniform(0.0, 0.2), 0.8, w
            if any(s <= t < e for s, e in evals):
                return (r.uniform(5, 15), None, 0.8, w) if i == 0 else (0.0, r.uniform(0.0, 0.2), 0.8, w)
            return train(t)
        return f
    devs = [Device("dgx-61", u, rank(i), pid=1500 + i) for i, u in enumerate(uuids)]
    ev = gpu_events(r, devs, T0, T0 + hours * HOUR, step_s)
    tr = [truth("idle", uuids[k], w["id"], a, b, goal_s=5 * MIN, price=A100_PRICE,
                note="rank 5 alone at 0 % while the others train")] if straggler else []
    return Scenario("", ev, tr)


def _daily_rows(r: random.Random, w: Event, fields: Event, days: int, level: float, sigma: float,
                mult: Callable[[int], float], late_h: tuple[float, float] = (4.0, 10.0),
                weekend: float = 0.8) -> tuple[list[Event], list[float]]:
    """One usage row a UTC day from T0 for ``days``, weekends x``weekend``, log-normal ``sigma``, day k x
    ``mult(k)``, landing ``late_h`` after the day closes; also returns each day's cost."""
    ev: list[Event] = []
    costs = []
    for k in range(days):
        ps = T0 + k * DAY
        c = level * (weekend if _gmt(ps).tm_wday >= 5 else 1.0) * r.lognormvariate(-sigma * sigma / 2, sigma) * mult(k)
        costs.append(c)
        ev.append({"type": "billing_delta", "ts": round(ps + DAY + r.uniform(*late_h) * HOUR, 3), "period_start": ps,
                   "period_end": ps + DAY, "workload": w, **fields, "cost_usd": round(c, 6)})
    return ev, costs


def bill_monthly_fee(seed: int, factor: float = 1.0, days: int = 100, sigma: float = 0.15) -> Scenario:
    """Daily usage rows (one UTC day each, landing 4-10 h after the day closes, weekends x0.8) for ``days`` days
    from 2026-03-02, plus on each month's 1st a fee row (x10 a normal weekday, its own sku
    ``platform-fee-monthly`` and ``charge_category`` purchase, the 1st's daily period). The first fee (Apr 1) is
    ambiguous: nothing seen before says it recurs, and a new SKU worth x10 a day is worth a page, while a calendar
    prior (1st of the month) makes silence defensible too. The later fees (May 1, Jun 1) must not alert: the fee
    recurs on the 1st at the same amount. ``factor`` != 1: one mid-month weekday (May 13) x``factor`` (truth,
    goal one daily period plus the latest landing)."""
    r = random.Random(seed)
    w = wl("ml/feature-platform", "batch", "mlplat")
    fields = {"source": "focus", "service": "Databricks", "resource_id": "dbx/feature-platform",
              "sku": "jobs-compute", "charge_category": "usage"}
    bad = int((calendar.timegm((2026, 5, 13, 0, 0, 0)) - T0) // DAY)
    ev, _ = _daily_rows(r, w, fields, days, 1800.0, sigma, lambda k: factor if factor != 1.0 and k == bad else 1.0)
    fee = 10 * 1800.0 * r.uniform(0.98, 1.02)
    tr: list[dict[str, Any]] = []
    for k in range(days):
        ps = T0 + k * DAY
        if _gmt(ps).tm_mday != 1:
            continue
        ev.append({"type": "billing_delta", "ts": round(ps + DAY + r.uniform(4, 10) * HOUR, 3), "period_start": ps,
                   "period_end": ps + DAY, "workload": w, **fields, "sku": "platform-fee-monthly",
                   "charge_category": "purchase", "cost_usd": round(fee, 2)})
        if not tr:
            tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + 2 * DAY + 10 * HOUR + GRACE,
                            ambiguous=True, note="first monthly fee row: nothing yet says it recurs"))
    if factor != 1.0:
        ps = T0 + bad * DAY
        tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + 2 * DAY + 10 * HOUR + GRACE,
                        goal_s=DAY + 10 * HOUR, note=f"mid-month weekday x{factor:g}"))
    return Scenario("", ev, tr)


def bill_credits(seed: int, factor: float = 1.0, days: int = 35, sigma: float = 0.15, share: float = 0.3) -> Scenario:
    """Daily usage rows (landing 4-10 h after the day closes) where ``share`` of the days also carry a credit
    row of 10-60 % of that day's cost, and one day (day 20) a refund of 130 % of it, so that day nets negative.
    A negative ``cost_usd`` is bad input by the contract, so credits take the contract's form (docs/collectors.md):
    ``cost_usd`` 0, a negative ``adjustment_usd``, ``charge_category`` credit / refund, landing with the usage row
    or up to a day later. Must not alert. ``factor`` != 1: day 27 (a weekday, no credit) x``factor`` (truth)."""
    r = random.Random(seed)
    w = wl("ml/vector-search", "inference", "search")
    fields = {"source": "focus", "service": "Amazon OpenSearch Service", "resource_id": "domain/vector-prod",
              "sku": "or1.2xlarge.search"}
    bad = 29 if _gmt(T0 + 27 * DAY).tm_wday >= 5 else 27
    ev, costs = _daily_rows(r, w, fields, days, 900.0, sigma, lambda k: factor if factor != 1.0 and k == bad else 1.0)
    for k, c in enumerate(costs):
        refund = k == 20
        if k == bad or not (refund or r.random() < share):
            continue
        ps = T0 + k * DAY
        amt = 1.3 * c if refund else r.uniform(0.1, 0.6) * c
        ev.append({"type": "billing_delta", "ts": round(ps + DAY + r.uniform(4, 34) * HOUR, 3), "period_start": ps,
                   "period_end": ps + DAY, "workload": w, **fields,
                   "sku": "service-refund" if refund else "savings-plan-credit", "cost_usd": 0.0,
                   "adjustment_usd": -round(amt, 2), "charge_category": "refund" if refund else "credit",
                   "adjustment_reason": "charge"})
    tr = []
    if factor != 1.0:
        ps = T0 + bad * DAY
        tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + 2 * DAY + 10 * HOUR + GRACE,
                        goal_s=DAY + 10 * HOUR, note=f"day {bad} x{factor:g}"))
    return Scenario("", ev, tr)


def bill_new_series(seed: int, factor: float = 1.0, n: int = 40, days: float = 28.0, spread_days: float = 21.0,
                    sigma: float = 0.5, spiker: int = 9) -> Scenario:
    """``n`` hourly LLM usage series (model x team, each its own workload and API key) that appear one by one
    over ``spread_days`` (series i on day i x spread/n at a random hour), each starting at its steady level
    ($0.5-40 an hour) with log-normal noise ``sigma`` and no other shape, rows landing 4-15 min after the hour:
    must not alert. ``factor`` != 1: series ``spiker`` goes x``factor`` for 6 h at 14:00 on day 12 of its life
    (truth, goal 2 h)."""
    r = random.Random(seed)
    models = ["gpt-4o", "gpt-4o-mini", "claude-sonnet-4", "claude-haiku-4", "gemini-2.5-pro", "llama-3.1-70b",
              "mistral-large", "o3-mini"]
    teams = ["support", "search", "growth", "legal", "sales"]
    end = T0 + days * DAY
    ev: list[Event] = []
    tr = []
    for i in range(n):
        model, team = models[i % len(models)], teams[(i // len(models)) % len(teams)]
        w = wl(f"{team}/llm-{model}", "inference", team, model=model)
        born = T0 + math.floor((i * spread_days / n * DAY + r.uniform(0, 12 * HOUR)) / HOUR) * HOUR
        level = math.exp(r.uniform(math.log(0.5), math.log(40)))
        a = math.floor((born + 12 * DAY) / DAY) * DAY + 14 * HOUR
        b = a + 6 * HOUR
        hit = factor != 1.0 and i == spiker
        def mult(t: float, a: float = a, b: float = b) -> float:
            return factor if a <= t < b else 1.0
        s = spend(r, born, end, HOUR, level, lambda t: 1.0, sigma, mult if hit else None)
        svc = "OpenAI API" if model.startswith(("gpt", "o3")) else "Anthropic API" if model.startswith("claude") \
            else "Vertex AI"
        ev += _rows(r, s, w, {"source": "llm_usage", "service": svc, "resource_id": f"key-{team}-{model}",
                              "model": model, "sku": "tokens"})
        if hit:
            tr.append(truth("cost", None, w["id"], a, b, goal_s=2 * HOUR,
                            note=f"series {i} (born day {(born - T0) / DAY:.1f}) x{factor:g} for 6 h on its day 12"))
    return Scenario("", ev, tr)


def drift_low_traffic(seed: int, shift_sd: float = 0.0, days: float = 6.0, at_day: float = 4.0,
                      per_hour: float = 6.0, cycle_sd: float = 1.0) -> Scenario:
    """A model that sees ~``per_hour`` requests an hour (Poisson arrivals, one value a feature a batch) for
    ``days``: ``amount`` follows a daily cycle of ``cycle_sd`` sd, ``score`` is stable: must not alert.
    ``shift_sd`` > 0: ``amount``'s mean moves ``shift_sd`` sd up from day ``at_day`` on (truth, goal 2 h: at six
    values an hour, 2 h gives about a dozen values after the change, about the fewest in which a 1.5 sd shift
    stands out of a day-long reference at an alarm-grade level; sooner would page on noise)."""
    g = np.random.default_rng(seed)
    model = "m-lowtraffic"
    w = wl(f"serving/{model}", "inference", "risk")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY

    def amount(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        mu = 100 + 10 * cycle_sd * math.sin(2 * math.pi * (t - T0) / DAY) + (10 * shift_sd if t >= a else 0.0)
        return gg.normal(mu, 10, n)
    ev = _obs_var(g, model, w, T0, t1, lambda: float(g.exponential(HOUR / per_hour)), lambda: 1,
                  {"amount": amount, "score": lambda gg, t, n: gg.beta(2, 5, n)})
    tr = [truth("drift", model, w["id"], a, t1, goal_s=2 * HOUR,
                note=f"amount +{shift_sd:g} sd at ~{per_hour:g} values/h")] if shift_sd > 0 else []
    return Scenario("", ev, tr)


def loop_stale_data_cron(seed: int, stale: bool = True, days: float = 4.0, every_h: float = 6.0,
                         gpus: int = 8) -> Scenario:
    """A cron retrain every ``every_h`` h (00/06/12/18 UTC, a few min of jitter, runs of 30-60 min on ``gpus``
    GPUs, trigger ``schedule``, no observations sent), each on the latest upstream snapshot (data_version
    ``events-YYYYMMDDHH``) with a metric (auc) improving a little run over run. ``stale``: the upstream stops
    updating for a day from day 1 18:00: the run at 18:00 and the three after it train on the same
    data_version with a flat metric (+-1e-4); then the data moves again. Contract verdict: a no-gain
    ``retrain_loop`` (the same data, no metric gain, within the 8 h chain gap); ``retrain_without_drift``
    cannot judge without observations. Truth family loop, from the first run on that snapshot to the 4th run's
    end, goal two cadences + 40 min. ``stale`` False: the control, a new data_version every run, must not alert."""
    r = random.Random(seed)
    w = wl("ads/ctr-cron", "training", "ads")
    ev: list[Event] = []
    k = 0
    t = T0
    stale_from = T0 + DAY + 18 * HOUR
    stale_runs: list[tuple[float, float]] = []
    snap = ""
    auc = 0.78
    while t < T0 + days * DAY:
        st = t + r.uniform(60, 300)
        dur = r.uniform(30, 60) * MIN
        in_stale = stale and stale_from <= t < stale_from + 4 * every_h * HOUR
        if in_stale:
            snap = snap if stale_runs else "events-" + time.strftime("%Y%m%d%H", time.gmtime(t))
            value = auc + r.uniform(-1e-4, 1e-4)
            stale_runs.append((st, st + dur))
        else:
            snap = "events-" + time.strftime("%Y%m%d%H", time.gmtime(t))
            auc += 0.0015 + r.gauss(0, 3e-4)
            value = auc
        ev += _run_events(r, "ctr-cron", w, st, dur, "succeeded",
                          {"name": "auc", "value": round(value, 5), "higher_is_better": True}, snap, "schedule", gpus)
        t += every_h * HOUR
        k += 1
    tr = []
    if stale:
        tr.append(truth("loop", "ctr-cron", w["id"], stale_runs[0][0], stale_runs[-1][1],
                        goal_s=2 * every_h * HOUR + 40 * MIN,
                        note="4 cron runs on one data_version, flat auc: a no-gain retrain loop"))
    return Scenario("", ev, tr)


# ============================================================ probe round 7
# Assumptions of a seventh outside tester: a monitoring sidecar that pins NVML util at 100 % for one sample every
# few minutes on GPUs that export no SM activity, a node collector that restarts every few hours, an hourly bill
# exported as one daily dump, cent-rounded tiny series, a Kubernetes Job's back-off retries (trigger null),
# features left out of some batches, and serving pods whose clocks disagree by minutes.
def gpu_health_spikes(seed: int, gpus: int = 8, hours: float = 12.0, hang_at_h: float = 5.0, hang_h: float = 3.0,
                      step_s: float = 15.0, probe_every_min: float = 5.0) -> Scenario:
    """One node, ``gpus`` A100s whose samples carry ``util_gpu_pct`` only (no ``sm_active_pct``, as some
    exporters send), each running its own single-GPU training job (checkpoint pauses of 3-5 min every 40-60 min,
    78 % memory). A health-check sidecar runs a tiny kernel every ``probe_every_min`` min on every GPU (one node
    clock, so all GPUs at once): the one ``step_s`` sample that covers it reads util 100 %. GPU 3's job hangs at
    ``hang_at_h`` for ``hang_h`` holding 70 % memory, util 0 % but for the sidecar's 100 % samples (truth, goal
    15 min: the README's training dwell is ~9 min, at most 2x the longest pause (5 min here) = 10 min, plus one
    sidecar cycle (5 min) for a detector to see that a lone 100 % sample every 5 min is the sidecar, not work).
    The others must not alert: their checkpoint pauses also carry a sidecar spike."""
    r = random.Random(seed)
    st = States(r)
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    k = min(3, gpus - 1)
    a = T0 + hang_at_h * HOUR
    b = a + hang_h * HOUR
    probe = probe_every_min * MIN
    probe_phase = r.uniform(0, probe)
    devs, wk = [], None
    for i, u in enumerate(uuids):
        w = wl(f"research/ft-job-{i}", "training", "research")
        train = st.training(w, r.uniform(0, 3600), r.uniform(40, 60) * MIN, r.uniform(3, 5) * MIN)
        f = timeline([(T0, train), (a, st.idle(w, 0.70)), (b, train)]) if i == k else train
        if i == k:
            wk = w
        devs.append(Device("dgx-71", u, f, sm=False, pid=1700 + i))
    ev = gpu_events(r, devs, T0, T0 + hours * HOUR, step_s)
    for e in ev:  # the sidecar's kernel: the sample whose interval holds a probe tick reads 100 %
        lo = e["ts"] - e["interval_s"]
        n = math.floor((e["ts"] - probe_phase) / probe)
        if lo < probe_phase + n * probe <= e["ts"]:
            e["util_gpu_pct"] = 100.0
    assert wk is not None
    return Scenario("", ev, [truth("idle", uuids[k], wk["id"], a, b, goal_s=15 * MIN, price=A100_PRICE,
                                   note="hung job, 70 % memory, util 0 % but a 100 % sidecar sample every 5 min")])


def gpu_collector_restart(seed: int, gpus: int = 16, hours: float = 24.0, idle_h: float = 4.0,
                          step_s: float = 30.0) -> Scenario:
    """Two nodes of ``gpus``/2 A100s each; each node's collector (DCGM exporter) restarts every 3-5 h and sends
    no sample from any of its GPUs for 8-14 min. Node ``gpu-a``: GPU 0 a single-GPU fine-tune (checkpoint pauses)
    that goes idle for ``idle_h`` holding 74 % memory, the node's restart nearest the middle of the day falling
    1.5-2.5 h into that idle stretch (truth, goal 10 min: exactly one anomaly for it, no duplicate and no
    resolve-and-reopen across the gap); GPU 1 an endpoint (25-60 %), the rest one training job (checkpoint pauses).
    Node ``gpu-b``: one training job. Busy GPUs across restarts must not alert (a gap is no evidence of idleness)."""
    r = random.Random(seed)
    st = States(r)
    half = gpus // 2
    ua, ub = [_uuid(r, "GPU") for _ in range(half)], [_uuid(r, "GPU") for _ in range(gpus - half)]
    end = T0 + hours * HOUR
    restarts: dict[str, list[tuple[float, float]]] = {}
    for node in ("gpu-a", "gpu-b"):
        gaps, t = [], T0 + r.uniform(1, 4) * HOUR
        while t < end - HOUR:
            g = r.uniform(8, 14) * MIN
            gaps.append((t, t + g))
            t += g + r.uniform(3, 5) * HOUR
        restarts[node] = gaps
    mid = T0 + hours * HOUR / 2
    ra = min((g for g in restarts["gpu-a"] if T0 + 3 * HOUR < g[0] < end - 3 * HOUR),
             key=lambda g: abs(g[0] - mid), default=restarts["gpu-a"][len(restarts["gpu-a"]) // 2])
    a = ra[0] - r.uniform(1.5, 2.5) * HOUR
    b = a + idle_h * HOUR
    wh = wl("nlp/intent-ft", "training", "nlp")
    wi = wl("serving/embed-api", "inference", "search")
    wa = wl("vision/seg-train", "training", "vision")
    wb = wl("llm/pretrain-3b", "training", "foundation")
    pa, pb = r.uniform(0, 3000), r.uniform(0, 3000)
    hang = timeline([(T0, st.training(wh, r.uniform(0, 3000))), (a, st.idle(wh, 0.74)),
                     (b, st.training(wh, r.uniform(0, 3000)))])
    devs = [Device("gpu-a", ua[0], hang, pid=1800), Device("gpu-a", ua[1], st.busy(wi, 25, 60, 0.5), pid=1801)]
    devs += [Device("gpu-a", u, st.training(wa, pa), pid=1802 + i) for i, u in enumerate(ua[2:])]
    devs += [Device("gpu-b", u, st.training(wb, pb, 45 * MIN, 5 * MIN), pid=1820 + i) for i, u in enumerate(ub)]
    missing = {d.gpu_uuid: restarts[d.node] for d in devs}
    ev = gpu_events(r, devs, T0, end, step_s, missing=missing)
    return Scenario("", ev, [truth("idle", ua[0], wh["id"], a, b, goal_s=10 * MIN, price=A100_PRICE,
                                   note=f"idle {idle_h:g} h, 74 % memory; the collector restarts "
                                        f"{(ra[0] - a) / MIN:.0f} min in, {(ra[1] - ra[0]) / MIN:.0f} min gap")])


def bill_daily_dump_hourly(seed: int, factor: float = 1.0, days: float = 30.0, sigma: float = 0.2,
                           hours: float = 3.0, at_day: int = 20) -> Scenario:
    """An hourly series (daily cycle 0.3, log-normal noise ``sigma``, $20 an hour) whose exporter delivers each
    UTC day's 24 rows at once, at one moment between 02:00 and 04:00 of the next day (rows 2-28 h late, in period
    order, 0.01 s apart), for ``days``: must not alert (factor 1). ``factor`` != 1: x``factor`` for ``hours`` from
    13:00 on day ``at_day`` (truth, goal: the dump that brings it plus an hour; detect_by that dump + 6 h)."""
    r = random.Random(seed)
    w = wl("data/etl-hourly", "batch", "data")
    a = T0 + at_day * DAY + 13 * HOUR
    b = a + hours * HOUR
    s = spend(r, T0, T0 + days * DAY, HOUR, 20.0, daily_shape(0.3, 14), sigma,
              lambda t: factor if a <= t < b else 1.0)
    fields = {"source": "focus", "service": "AWS Glue", "resource_id": "glue/etl-hourly", "sku": "DPU-Hour"}
    dumps: dict[int, float] = {}
    ev: list[Event] = []
    for n, (ps, pe, c) in enumerate(s):
        d = int((ps - T0) // DAY)
        if d not in dumps:
            dumps[d] = T0 + (d + 1) * DAY + r.uniform(2, 4) * HOUR
        ev.append({"type": "billing_delta", "ts": round(dumps[d] + 0.01 * (n % 24), 3), "period_start": ps,
                   "period_end": pe, "workload": w, **fields, "cost_usd": round(c, 6)})
    tr = []
    if factor != 1.0:
        dump = dumps[int((a - T0) // DAY)]
        tr.append(truth("cost", None, w["id"], a, b, detect_by=dump + 6 * HOUR, goal_s=dump + HOUR - a,
                        note=f"x{factor:g} for {hours:g} h; its rows land in the dump at "
                             f"{(dump - T0) / DAY:.2f} d"))
    return Scenario("", ev, tr)


def bill_cents(seed: int, n: int = 30, days: float = 21.0, tiny_jump_day: float = 14.0, mid_day: float = 15.0,
               mid_factor: float = 3.0) -> Scenario:
    """``n`` tiny hourly series ($0.01-0.05 an hour, log-normal noise 0.3, rows rounded to the cent, so many
    read 0.00-0.02) and one mid-size series ($4 an hour, daily cycle 0.3, noise 0.15), rows 4-15 min after the
    hour, for ``days``. Tiny series 7 jumps to $0.50 an hour for good at 10:00 on day ``tiny_jump_day`` (x10-50):
    must not alert: its excess (~$0.47 an hour, ~$11 a day) is under both documented dollar floors
    (``min_period_excess_usd`` $1 a period, ``min_daily_excess_usd`` $25 a day): tiny series never alert.
    The mid-size series goes x``mid_factor`` for 6 h from 09:00 on day ``mid_day`` (excess ~$8 an hour: truth,
    goal 2 h)."""
    r = random.Random(seed)
    ev: list[Event] = []
    jump = T0 + tiny_jump_day * DAY + 10 * HOUR
    for i in range(n):
        w = wl(f"tools/tiny-{i:02d}", "batch", "tools")
        level = r.uniform(0.01, 0.05)
        s = spend(r, T0, T0 + days * DAY, HOUR, level, lambda t: 1.0, 0.3)
        if i == 7:
            s = [(ps, pe, 0.50 * r.lognormvariate(-0.005, 0.1) if ps >= jump else c) for ps, pe, c in s]
        rows = _rows(r, s, w, {"source": "focus", "service": "AWS Lambda", "resource_id": f"fn/tiny-{i:02d}",
                               "sku": "Request"})
        for e in rows:
            e["cost_usd"] = round(e["cost_usd"], 2)
        ev += rows
    wm = wl("search/reranker", "inference", "search")
    a = T0 + mid_day * DAY + 9 * HOUR
    b = a + 6 * HOUR
    s = spend(r, T0, T0 + days * DAY, HOUR, 4.0, daily_shape(0.3), 0.15, lambda t: mid_factor if a <= t < b else 1.0)
    rows = _rows(r, s, wm, dict(FOCUS, resource_id="endpoint/reranker"))
    for e in rows:
        e["cost_usd"] = round(e["cost_usd"], 2)
    ev += rows
    return Scenario("", ev, [truth("cost", None, wm["id"], a, b, goal_s=2 * HOUR,
                                   note=f"$4/h x{mid_factor:g} for 6 h; tiny-07's jump to $0.50/h must stay quiet")])


def loop_k8s_backoff(seed: int, loop: bool = True, nights: int = 14, loop_h: float = 3.0, loop_day: float = 10.0,
                     gpus: int = 4) -> Scenario:
    """A Kubernetes Job's pod retried by its controller: each attempt its own run_id, ``trigger`` null, every
    run failing 1-60 min in, the next attempt 10 s after the first failure and doubling up to the 6 min cap
    (10, 20, 40, 80, 160, 320, 360, 360 ... s), for ``loop_h`` from 14:00 on day ``loop_day`` (truth: a crash
    loop, goal 60 min). The control, model ``nightly-ranker``: a nightly Job at 01:00 (trigger null) that
    succeeds in 1.5-2.5 h on that night's data with an improving metric, ``nights`` nights: must not alert."""
    r = random.Random(seed)
    wa, wc = wl("ml/k8s-job-fraud", "training", "risk"), wl("ml/nightly-ranker", "training", "search")
    ev: list[Event] = []
    for d in range(nights):
        st = T0 + d * DAY + HOUR + r.uniform(0, 120)
        metric = {"name": "ndcg_at_10", "value": round(0.61 + 0.0015 * d + r.gauss(0, 2e-4), 5),
                  "higher_is_better": True}
        ev += _run_events(r, "nightly-ranker", wc, st, r.uniform(1.5, 2.5) * HOUR, "succeeded", metric,
                          "events-" + time.strftime("%Y%m%d", time.gmtime(st)), "schedule", gpus)
    tr = []
    if loop:
        a = t = T0 + loop_day * DAY + 14 * HOUR
        wait, last, k = 10.0, a, 0
        snap = "txn-" + time.strftime("%Y%m%d", time.gmtime(a))
        while t < a + loop_h * HOUR:
            dur = r.uniform(1, 60) * MIN
            ev += _run_events(r, "fraud-gbdt", wa, t, dur, "failed", None, snap, "retry", gpus)
            last = t + dur
            t = last + wait
            wait = min(2 * wait, 6 * MIN)
            k += 1
        tr.append(truth("loop", "fraud-gbdt", wa["id"], a, last, goal_s=60 * MIN,
                        note=f"{k} failed attempts, k8s back-off 10 s doubling to a 6 min cap, trigger null"))
    for e in ev:
        e["trigger"] = None
    return Scenario("", ev, tr)


def _cyc(mu: float, sd: float, amp_sd: float, phase: float, shift_at: float | None = None, shift_sd: float = 0.0,
         var_x: float = 1.0) -> Sampler:
    """Normal(mu + a daily cycle of ``amp_sd`` sd, sd); from ``shift_at`` on, mean + ``shift_sd`` sd and
    variance x``var_x``."""
    def f(g: np.random.Generator, t: float, n: int) -> np.ndarray:
        m = mu + amp_sd * sd * math.sin(2 * math.pi * (t - T0) / DAY + phase)
        if shift_at is not None and t >= shift_at:
            return g.normal(m + shift_sd * sd, sd * math.sqrt(var_x), n)
        return g.normal(m, sd, n)
    return f


def drift_missing_features(seed: int, shift_sd: float = 0.0, days: float = 4.0, at_day: float = 3.0,
                           n_features: int = 12, batch: int = 20, every_s: float = 120.0,
                           missing_share: float = 0.2) -> Scenario:
    """A model with ``n_features`` normal features, each with a mild daily cycle (0.2-0.5 sd, its own phase),
    ``batch`` values a feature every ``every_s`` (+-20 %) for ``days``; ``missing_share`` of the batches leave
    1-3 features out at random (the key absent from ``values``): must not alert. ``shift_sd`` > 0: feature
    ``f04``'s mean moves ``shift_sd`` sd up from day ``at_day`` on (truth, goal 30 min)."""
    g = np.random.default_rng(seed)
    model = "m-sparse-keys"
    w = wl(f"serving/{model}", "inference", "ml")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    feats = {f"f{i:02d}": _cyc(float(g.uniform(-50, 50)), float(g.uniform(1, 20)), float(g.uniform(0.2, 0.5)),
                               float(g.uniform(0, 2 * math.pi)), a if i == 4 and shift_sd > 0 else None, shift_sd)
             for i in range(n_features)}
    names = list(feats)
    ev: list[Event] = []
    t = T0
    while True:
        t += every_s * (1 + float(g.uniform(-0.2, 0.2)))
        if t > t1:
            break
        drop: set[str] = set()
        if g.random() < missing_share:
            drop = {str(x) for x in g.choice(names, int(g.integers(1, 4)), replace=False)}
        vals = {k: [round(float(v), 4) for v in f(g, t, batch)] for k, f in feats.items() if k not in drop}
        ev.append({"type": "model_observation", "ts": round(t, 3), "model_id": model, "workload": w, "values": vals})
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN, note=f"f04 +{shift_sd:g} sd")] if shift_sd > 0 \
        else []
    return Scenario("", ev, tr)


def drift_skewed_batches(seed: int, var_x: float = 1.0, days: float = 3.0, at_day: float = 2.5, pods: int = 6,
                         skew_min: float = 8.0, batch: int = 10, every_s: float = 120.0) -> Scenario:
    """One model served by ``pods`` pods, each sending its own batches (``batch`` values of three features with
    mild daily cycles, every ``every_s`` +-20 % per pod) stamped by its own clock, off by up to +-``skew_min`` min
    (fixed per pod), so batches are out of true order by that much (the file is sorted by the stamped ``ts``, as
    replay requires; values follow true time), for ``days``: must not alert. ``var_x`` != 1: ``latency_ms``'s
    variance x``var_x`` from day ``at_day`` (true time) on (truth, goal 30 min, from the true change)."""
    g = np.random.default_rng(seed)
    model = "m-multipod"
    w = wl(f"serving/{model}", "inference", "ml")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    shift = a if var_x != 1.0 else None
    feats = {"latency_ms": _cyc(120, 15, 0.4, float(g.uniform(0, 6.3)), shift, 0.0, var_x),
             "basket": _cyc(40, 8, 0.3, float(g.uniform(0, 6.3))),
             "score": _cyc(0.3, 0.05, 0.2, float(g.uniform(0, 6.3)))}
    offsets = [float(g.uniform(-skew_min, skew_min)) * MIN for _ in range(pods)]
    offsets[0], offsets[1] = -skew_min * MIN * 0.95, skew_min * MIN * 0.95  # the spread is the full +-skew
    ev: list[Event] = []
    for p, off in enumerate(offsets):
        t = T0 + float(g.uniform(0, every_s)) + skew_min * MIN
        while t < t1 - skew_min * MIN:
            vals = {k: [round(float(v), 4) for v in f(g, t, batch)] for k, f in feats.items()}
            ev.append({"type": "model_observation", "ts": round(t + off, 3), "model_id": model, "workload": w,
                       "values": vals, "pod": f"{model}-{p}"})
            t += every_s * (1 + float(g.uniform(-0.2, 0.2)))
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN, note=f"latency_ms variance x{var_x:g}")] \
        if var_x != 1.0 else []
    return Scenario("", ev, tr)


# ============================================================ probe round 8
# Assumptions of an eighth outside tester: a data-parallel job across four nodes where one node hangs and the other
# ranks busy-wait at 100 % util, an export that re-sends its last three days as costs settle, billing days that
# start at 08:00 UTC, hourly series with no row for $0 hours, one workload billed as 15 SKUs, an automation that
# retrains on drift every 2 h, and observation batches with NaN, inf, null or strings among their values.
def gpu_multi_node_job(seed: int, nodes: int = 4, per_node: int = 8, hours: float = 6.0, hang_at_h: float = 3.0,
                       hang_h: float = 2.0, step_s: float = 15.0, every_min: float = 45.0,
                       pause_min: float = 3.0) -> Scenario:
    """One data-parallel training job (one workload id) on ``nodes`` x ``per_node`` A100s, ``step_s`` samples,
    a checkpoint of ``pause_min`` every ``every_min`` on every rank at once (SMs idle, memory held). At
    ``hang_at_h`` every GPU of node 2 hangs for ``hang_h`` holding 76 % memory (util 0 %), while the ranks of the
    other nodes spin in the collective waiting for them: ``util_gpu_pct`` 100 %, ``sm_active_pct`` 0-1 %, memory
    held. Truth: all ``nodes`` x ``per_node`` GPUs (goal 10 min). Why: the README counts a busy-waiting kernel
    as idle (SM activity is preferred over NVML util), every GPU of the job is paid for and does no work, and
    on every node all ranks of the job stop together (a job-wide quiet spell: the training dwell, ~9 min, at most
    2x the longest pause, 6 min here), so each GPU is its own idle or hoarding anomaly."""
    r = random.Random(seed)
    st = States(r)
    w = wl("llm/pretrain-13b-dp32", "training", "foundation")
    a = T0 + hang_at_h * HOUR
    b = a + hang_h * HOUR
    phase = r.uniform(0, every_min * MIN)
    train = st.training(w, phase, every_min * MIN, pause_min * MIN, 0.76)
    hung = min(2, nodes - 1)

    def spin(t: float) -> GpuState:
        return 100.0, r.uniform(0.0, 1.0), 0.76, w
    devs: list[Device] = []
    tr = []
    for n in range(nodes):
        node = f"dgx-{81 + n}"
        for i in range(per_node):
            u = _uuid(r, "GPU")
            f = timeline([(T0, train), (a, st.idle(w, 0.76) if n == hung else spin), (b, train)])
            devs.append(Device(node, u, f, pid=2000 + 10 * n + i))
            tr.append(truth("idle", u, w["id"], a, b, goal_s=10 * MIN, price=A100_PRICE,
                            note="the hung node, util 0 %" if n == hung else
                                 "busy-waiting on the hung node: util 100 %, sm_active 0-1 %"))
    return Scenario("", gpu_events(r, devs, T0, T0 + hours * HOUR, step_s), tr)


def bill_resent_rows(seed: int, factor: float = 1.0, days: int = 40, sigma: float = 0.15, resend: int = 3,
                     settle_pct: float = 2.0, at_day: int = 32) -> Scenario:
    """A FOCUS-like daily export (two SKUs, one UTC day a row) landing 4-10 h after each day closes; every
    export also re-sends the previous ``resend`` days' rows with the amount changed by up to +-``settle_pct`` %
    from the first send (costs settling), ``days`` days, weekends x0.8: must not alert, and no day's money may be
    counted more than once. ``factor`` != 1: day ``at_day`` (a weekday) x``factor`` (truth, goal the day plus the
    latest landing; ``excess_usd`` the day's real excess, once).

    A ``billing_delta`` is money spent (a delta): the same period re-sent as a plain row is more money by the
    contract, which is what the first version of this scenario did (and it was counted twice). The FOCUS
    collector's ledger turns an export that re-sends a day into restatements (docs/collectors.md), so the
    re-sends here take that form: ``cost_usd`` 0 and ``adjustment_usd`` the change from what was published,
    ``adjustment_reason`` restatement."""
    r = random.Random(seed)
    w = wl("data/warehouse-daily", "batch", "data")
    skus = [("compute-credits", 0.8), ("storage-tb-day", 0.2)]
    day = at_day if _gmt(T0 + at_day * DAY).tm_wday < 5 else at_day + 2
    ev: list[Event] = []
    first: dict[tuple[int, str], float] = {}
    published: dict[tuple[int, str], float] = {}
    excess = 0.0
    for d in range(days):
        ps = T0 + d * DAY
        m = factor if factor != 1.0 and d == day else 1.0
        c = 1500.0 * (0.8 if _gmt(ps).tm_wday >= 5 else 1.0) * r.lognormvariate(-sigma * sigma / 2, sigma)
        if m != 1.0:
            excess = c * (m - 1)
        for sku, share in skus:
            first[(d, sku)] = c * m * share
        land = ps + DAY + r.uniform(4, 10) * HOUR
        for k in range(0, resend + 1):
            dd = d - k
            if dd < 0:
                continue
            for j, (sku, _) in enumerate(skus):
                amt = round(first[(dd, sku)] * (1 + (r.uniform(-settle_pct, settle_pct) / 100 if k else 0.0)), 6)
                row = {"type": "billing_delta", "ts": round(land + 0.01 * (4 * k + j), 3),
                       "period_start": T0 + dd * DAY, "period_end": T0 + (dd + 1) * DAY, "workload": w,
                       "source": "focus", "service": "Snowflake", "resource_id": "account/wh-prod",
                       "sku": sku, "charge_category": "usage", "cost_usd": amt}
                if k:  # a re-send: the change from what was published, as the collector's ledger writes it
                    change = round(amt - published[(dd, sku)], 6)
                    if change == 0:
                        continue
                    row.update(cost_usd=0.0, adjustment_usd=change, adjustment_reason="restatement")
                published[(dd, sku)] = amt
                ev.append(row)
    tr = []
    if factor != 1.0:
        ps = T0 + day * DAY
        tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + DAY + 10 * HOUR + GRACE,
                        goal_s=DAY + 10 * HOUR + MIN, note=f"day {day} x{factor:g}, re-sent {resend} more times"))
        tr[0]["excess_usd"] = round(excess, 2)
    return Scenario("", ev, tr)


def bill_offset_days(seed: int, factor: float = 1.0, days: int = 45, sigma: float = 0.15, offset_h: float = 8.0,
                     late_h: tuple[float, float] = (4.0, 12.0), at_day: int = 36) -> Scenario:
    """Daily rows whose billing day starts at ``offset_h``:00 UTC (a Pacific billing day: [08:00, 08:00 next
    day)), one SKU, weekends (by the billing day's start) x0.7, log-normal ``sigma``, landing ``late_h`` after the
    day closes, ``days`` days: must not alert. ``factor`` != 1: billing day ``at_day`` (a weekday) x``factor``
    (truth, goal the day plus the latest landing)."""
    r = random.Random(seed)
    w = wl("ml/vertex-training", "training", "ml")
    day = at_day if _gmt(T0 + at_day * DAY + offset_h * HOUR).tm_wday < 5 else at_day + 2
    ev: list[Event] = []
    for d in range(days):
        ps = T0 + d * DAY + offset_h * HOUR
        m = factor if factor != 1.0 and d == day else 1.0
        c = 700.0 * (0.7 if _gmt(ps).tm_wday >= 5 else 1.0) * r.lognormvariate(-sigma * sigma / 2, sigma) * m
        ev.append({"type": "billing_delta", "ts": round(ps + DAY + r.uniform(*late_h) * HOUR, 3),
                   "period_start": ps, "period_end": ps + DAY, "workload": w, "source": "focus",
                   "service": "Vertex AI", "resource_id": "projects/ml-prod/training", "sku": "A100-GPU-hour",
                   "cost_usd": round(c, 6)})
    tr = []
    if factor != 1.0:
        ps = T0 + day * DAY + offset_h * HOUR
        tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + DAY + late_h[1] * HOUR + GRACE,
                        goal_s=DAY + late_h[1] * HOUR + MIN, note=f"billing day {day} (from {offset_h:g}:00 UTC) "
                                                                  f"x{factor:g}"))
    return Scenario("", ev, tr)


def bill_sparse_hours(seed: int, factor: float = 1.0, days: int = 21, at_day: int = 15, sigma: float = 0.2,
                      max_gap_h: float = 8.0) -> Scenario:
    """An hourly series ($30 an hour at its 15:00 peak, daily cycle 0.5) that sends no row for hours with $0
    spend: every night 0-``max_gap_h`` h (drawn per day, ending at 08:00) have no spend and no row; rows land 4-15
    min after the hour; ``days`` days: must not alert. ``factor`` != 1: the 14:00 hour of day ``at_day``
    x``factor`` (truth, goal 2 h)."""
    r = random.Random(seed)
    w = wl("serving/chat-assist", "inference", "apps")
    a = T0 + at_day * DAY + 14 * HOUR
    series: list[tuple[float, float, float]] = []
    for d in range(days):
        gap = r.uniform(0, max_gap_h)
        for h in range(24):
            ps = T0 + d * DAY + h * HOUR
            if 8 - gap <= h < 8:  # the night's $0 hours, ending at 08:00
                continue
            m = factor if factor != 1.0 and ps == a else 1.0
            series.append((ps, ps + HOUR, 20.0 * daily_shape(0.5)(ps + HOUR / 2) * m *
                           r.lognormvariate(-sigma * sigma / 2, sigma)))
    ev = _rows(r, series, w, {"source": "llm_usage", "service": "Azure OpenAI", "resource_id": "aoai/chat-prod",
                              "sku": "gpt-4o-tokens"})
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, a + HOUR, detect_by=a + HOUR + 15 * MIN + 2 * HOUR,
                                         goal_s=2 * HOUR, note=f"one hour x{factor:g} on day {at_day}")]
    return Scenario("", ev, tr)


def bill_many_skus(seed: int, spike: bool = False, days: float = 21.0, n_skus: int = 15, new_day: float = 10.0,
                   new_share: float = 0.05, spike_day: float = 16.0, spike_h: float = 6.0,
                   sigma: float = 0.15) -> Scenario:
    """One workload billed as ``n_skus`` SKUs, each its own hourly row (shares drawn, one SKU at 1/19 of the
    total), $60 an hour with a daily cycle 0.3, each row with its own noise ``sigma``, rows 4-15 min after the
    hour, ``days`` days. From day ``new_day`` 10:00 a new SKU appears at ``new_share`` of the spend (on top):
    must not alert. ``spike``: the 1/19 SKU goes x20 for ``spike_h`` from 11:00 on day ``spike_day`` (the total
    x2: truth, goal 2 h)."""
    r = random.Random(seed)
    w = wl("serving/rag-platform", "inference", "apps")
    raw = [r.uniform(0.2, 1.0) for _ in range(n_skus - 1)]
    rest = 1 - 1 / 19
    shares = [rest * x / sum(raw) for x in raw] + [1 / 19]
    names = [f"sku-{i:02d}" for i in range(n_skus - 1)] + ["sku-vector-reads"]
    t_new = T0 + new_day * DAY + 10 * HOUR
    a = T0 + spike_day * DAY + 11 * HOUR
    b = a + spike_h * HOUR
    ev: list[Event] = []
    t = T0
    shape = daily_shape(0.3)
    while t + HOUR <= T0 + days * DAY:
        total = 60.0 * shape(t + HOUR / 2)
        parts = list(zip(names, shares, strict=True))
        if t >= t_new:
            parts.append(("sku-rerank-new", new_share))
        for sku, sh in parts:
            m = 20.0 if spike and sku == "sku-vector-reads" and a <= t < b else 1.0
            c = total * sh * m * r.lognormvariate(-sigma * sigma / 2, sigma)
            ev.append({"type": "billing_delta", "ts": round(t + HOUR + r.uniform(4, 15) * MIN, 3), "period_start": t,
                       "period_end": t + HOUR, "workload": w, "source": "focus", "service": "Google Cloud",
                       "resource_id": "gke/rag-platform", "sku": sku, "cost_usd": round(c, 6)})
        t += HOUR
    tr = [truth("cost", None, w["id"], a, b, goal_s=2 * HOUR, note="sku-vector-reads x20 (the total x2)")] \
        if spike else []
    return Scenario("", ev, tr)


def loop_drift_retrains(seed: int, days: float = 3.0, at_day: float = 2.0, shift_sd: float = 1.5,
                        every_h: float = 2.0, batch: int = 20, every_s: float = 60.0, gpus: int = 4) -> Scenario:
    """A model (three stable features, ``batch`` values each every ``every_s`` +-20 %) whose ``amount`` moves
    ``shift_sd`` sd up for good at ``at_day``. An automation watching drift on its own (against the original
    training data) retrains the model (trigger ``drift``, a new data_version each time, succeeded in 20-30 min,
    flat metric) from 45 min after the shift and every ``every_h`` from then, for the rest of ``days``: the data
    stays as it is after the shift. Truths (docs/drift.md, docs/retraining.md): one ``retrain_needed`` from the
    shift (goal 30 min), resolved by the first retrain (it rebuilt the references on the new distribution: from
    then on nothing drifts); the later retrains have no drift since the previous one and no metric gain, so
    ``retrain_without_drift`` (from the second retrain; goal: two retrain periods). Not a ``retrain_loop``: a new
    data_version each time with a flat metric is fresh data, not a loop."""
    g = np.random.default_rng(seed)
    r = random.Random(seed)
    model = "m-fraud-auto"
    w = wl(f"risk/{model}", "inference", "risk")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    feats = {"amount": _cyc(120, 30, 0.0, 0.0, a, shift_sd), "age_days": _cyc(400, 80, 0.0, 0.0),
             "score": _cyc(0.3, 0.05, 0.0, 0.0)}
    ev = obs_events(g, model, w, T0, t1, every_s, batch, feats)
    starts = []
    t = a + 45 * MIN
    while t + 40 * MIN < t1:
        starts.append(t + r.uniform(0, 120))
        t += every_h * HOUR
    for st in starts:
        metric = {"name": "auc", "value": round(0.913 + r.uniform(-4e-4, 4e-4), 4), "higher_is_better": True}
        ev += _run_events(r, model, w, st, r.uniform(20, 30) * MIN, "succeeded", metric,
                          "txn-" + time.strftime("%Y%m%d%H%M", time.gmtime(st)), "drift", gpus)
    tr = [truth("drift", model, w["id"], a, starts[0] + 30 * MIN, detect_by=starts[0], goal_s=30 * MIN,
                note=f"amount +{shift_sd:g} sd for good; resolved by the first retrain")]
    if len(starts) > 2:
        tr.append(truth("nodrift", model, w["id"], starts[1], starts[-1] + 30 * MIN,
                        detect_by=starts[-1] + 30 * MIN + GRACE, goal_s=2 * every_h * HOUR + 30 * MIN,
                        note=f"{len(starts) - 1} retrains after the first, no drift since, flat metric"))
    return Scenario("", ev, tr)


def obs_bad_values(seed: int, days: float = 3.0, share: float = 0.05, batch: int = 20,
                   every_s: float = 60.0) -> Scenario:
    """A model with four stable features (``batch`` values each every ``every_s`` +-20 %) for ``days``; ``share`` of
    the batches carry one bad value inside one values array: NaN, Infinity, -Infinity (as Python's json writes
    them), null, or a number as a string ("12.5", "NaN"). By the contract each such batch is bad input (a NaN/inf
    or a wrong type): reported and counted (``Scenario.bad_lines`` says how many; the run compares it with
    replay's count), the other batches used, and no drift opened: must not alert."""
    g = np.random.default_rng(seed)
    model = "m-bad-values"
    w = wl(f"serving/{model}", "inference", "ml")
    feats = {"latency_ms": _cyc(80, 12, 0.0, 0.0), "items": _cyc(12, 3, 0.0, 0.0),
             "ctr": _cyc(0.05, 0.01, 0.0, 0.0), "age": _cyc(35, 9, 0.0, 0.0)}
    ev = obs_events(g, model, w, T0, T0 + days * DAY, every_s, batch, feats)
    bads: list[Any] = [float("nan"), float("inf"), float("-inf"), None, "12.5", "NaN"]
    n = 0
    for e in ev:
        if g.random() < share:
            f = str(g.choice(list(feats)))
            e["values"][f][int(g.integers(0, batch))] = bads[int(g.integers(0, len(bads)))]
            n += 1
    return Scenario("", ev, [], bad_lines=n)


# ============================================================ probe round 9
# Assumptions of a ninth outside tester: an inference workload that scores a batch at the top of every hour and
# holds its model in between, an endpoint whose night traffic comes in heavy-tailed bursts, a reporting job that
# makes the last two days of every month x5, a series that spends only on weekday office hours (no rows
# otherwise), a nightly job that fails one night in four and succeeds on retry, observation batches delivered
# twice (at least once), and a one-off purchase row worth thirty days of usage.
def gpu_hourly_batch_inference(seed: int, stop: bool = False, days: float = 3.0, gpus: int = 4, step_s: float = 30.0,
                               stop_day: float = 2.0, stop_at_h: float = 10.0, stop_h: float = 3.0) -> Scenario:
    """One inference workload on ``gpus`` A100s of one node that runs a batch-scoring job at the top of every
    hour (+0-60 s) for 8-12 min (drawn per hour; each GPU ends within +-30 s of it) at 60-90 % util, with its
    model loaded (55 % memory) and util 0 % in between (routine gaps of 48-52 min), ``days``: must not alert.
    ``stop``: after the job at ``stop_at_h`` on day ``stop_day`` the scheduler stops; the GPUs sit idle with the
    model loaded for ``stop_h`` from that job's end, then a catch-up job runs and the hourly rhythm resumes.
    Truth: each GPU, from its last job's end (goal 75 min). What is achievable: every gap so far was 48-52 min,
    so nothing can tell the stop from a routine gap before ~52 min; 75 min (1.5x the routine gap, ~25 min
    after the next job should have started and did not) is the first point where the silence is clearly longer
    than any gap seen, and a learned dwell of ~1.25x the longest gap (65 min) meets it."""
    r = random.Random(seed)
    w = wl("serving/risk-batch-scorer", "inference", "risk")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    halt = T0 + stop_day * DAY + stop_at_h * HOUR
    jobs: list[tuple[float, float, float]] = []  # (top of the hour, start, duration)
    h = T0
    while h < end:
        if not (stop and halt < h < halt + (stop_h + 1) * HOUR):  # the hours the scheduler misses
            jobs.append((h, h + r.uniform(0, 60), r.uniform(8, 12) * MIN))
        h += HOUR
    tr = []
    devs = []
    for i, u in enumerate(uuids):
        segs: list[tuple[float, Callable[[float], GpuState]]] = []
        for h, s, dur in jobs:
            e = s + dur + r.uniform(-30, 30)
            segs += [(s, lambda t: (r.uniform(60, 90), None, 0.55, w)),
                     (e, lambda t: (0.0, r.uniform(0.0, 0.2), 0.55, w))]
            if stop and h == halt:
                b = e + stop_h * HOUR
                segs.append((b, lambda t: (r.uniform(60, 90), None, 0.55, w)))  # the catch-up job
                segs.append((b + r.uniform(8, 12) * MIN, lambda t: (0.0, r.uniform(0.0, 0.2), 0.55, w)))
                tr.append(truth("idle", u, w["id"], e, b, goal_s=75 * MIN, price=A100_PRICE,
                                note=f"scheduler stopped: {stop_h:g} h idle with the model loaded; routine gaps "
                                     "48-52 min"))
        segs.sort(key=lambda x: x[0])
        devs.append(Device("inf-batch-07", u, timeline([(T0, lambda t: (0.0, r.uniform(0.0, 0.2), 0.55, w)), *segs]),
                           pid=700 + i))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def gpu_bursty_endpoint(seed: int, stop: bool = False, days: float = 4.0, replicas: int = 2, step_s: float = 30.0,
                        stop_day: float = 2.0, stop_at_h: float = 14.0, stop_h: float = 3.0) -> Scenario:
    """An inference endpoint on ``replicas`` H100s (one node, model loaded, 50 % memory): from 07:00 to 22:00
    UTC steady traffic (25-55 % util with a daily cycle); at night (22:00-07:00) its traffic comes in bursts of
    1-6 min (15-60 %) separated by quiet spells (util 0 %) drawn log-normal, median 12 min, sigma 0.57, within
    [1, 45] min, the same on every replica (one load balancer), ``days``: must not alert. ``stop``: at
    ``stop_at_h`` on day ``stop_day`` it stops serving for ``stop_h`` with the model loaded (truth: each replica,
    goal 20 min: in the daytime this endpoint has never been quiet for a minute; a dwell learned from the night's
    spells alone, up to 45 min, would be ~56 min, so the goal asks for a rhythm that knows the time of day)."""
    r = random.Random(seed)
    w = wl("serving/chat-support-13b", "inference", "assistant")
    uuids = [_uuid(r, "GPU") for _ in range(replicas)]
    end = T0 + days * DAY
    a = T0 + stop_day * DAY + stop_at_h * HOUR
    b = a + stop_h * HOUR

    def night(t: float) -> bool:
        hh = (t % DAY) / HOUR
        return hh >= 22 or hh < 7
    bursts: list[tuple[float, float]] = []  # night bursts (start, end)
    t = T0
    while t < end:
        if not night(t):
            t = math.floor(t / DAY) * DAY + 22 * HOUR
            continue
        d = r.uniform(1, 6) * MIN
        bursts.append((t, t + d))
        t += d + min(45.0, max(1.0, r.lognormvariate(math.log(12), 0.57))) * MIN
    starts = [s for s, _ in bursts]

    def behaviour() -> Callable[[float], GpuState]:
        def f(t: float) -> GpuState:
            if stop and a <= t < b:
                return 0.0, r.uniform(0.0, 0.2), 0.5, w
            if not night(t):
                load = 40 + 15 * math.sin(2 * math.pi * ((t % DAY) / HOUR - 9) / 24)
                return max(25.0, min(55.0, load + r.gauss(0, 3))), None, 0.5, w
            i = bisect.bisect_right(starts, t) - 1
            if i >= 0 and bursts[i][0] <= t < bursts[i][1]:
                return r.uniform(15, 60), None, 0.5, w
            return 0.0, r.uniform(0.0, 0.2), 0.5, w
        return f
    devs = [Device("inf-22", u, behaviour(), model=H100, price=3.9, pid=1300 + i) for i, u in enumerate(uuids)]
    gaps = [y[0] - x[1] for x, y in zip(bursts, bursts[1:], strict=False) if y[0] - x[1] < HOUR]
    tr = [truth("idle", u, w["id"], a, b, goal_s=20 * MIN, price=3.9,
                note=f"stopped serving at {stop_at_h:g}:00 on day {stop_day:g}; night spells up to "
                     f"{max(gaps) / MIN:.0f} min") for u in uuids] if stop else []
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def bill_month_end(seed: int, factor: float = 1.0, days: int = 122, sigma: float = 0.15, month_end: float = 5.0,
                   level: float = 1400.0) -> Scenario:
    """A daily series (one usage row a UTC day, landing 4-10 h after the day closes, weekends x0.8) from
    2026-03-02 for ``days`` (four months) where a monthly reporting job makes the last two days of every month
    x``month_end`` (Mar 30-31, Apr 29-30, May 30-31, Jun 29-30: the day of the month moves). The first month-end
    is ambiguous: with 28 days of history nothing says it recurs, and two days x5 is worth a page, while a
    calendar prior (the month's last days) makes silence defensible too. The later ones must not alert: the same
    two days of the month, the same size, each time. ``factor`` != 1: one mid-month weekday of month three
    (2026-05-13) x``factor`` (truth, goal one daily period plus the latest landing)."""
    r = random.Random(seed)
    w = wl("finance/reporting-warehouse", "batch", "finance")
    fields = {"source": "focus", "service": "Snowflake", "resource_id": "sf/reporting-wh", "sku": "warehouse-credits",
              "charge_category": "usage"}
    bad = int((calendar.timegm((2026, 5, 13, 0, 0, 0)) - T0) // DAY)

    def last_two(k: int) -> bool:
        g = _gmt(T0 + k * DAY)
        return g.tm_mday > calendar.monthrange(g.tm_year, g.tm_mon)[1] - 2

    def mult(k: int) -> float:
        return (month_end if last_two(k) else 1.0) * (factor if factor != 1.0 and k == bad else 1.0)
    ev, _ = _daily_rows(r, w, fields, days, level, sigma, mult)
    tr: list[dict[str, Any]] = []
    first = next(k for k in range(days) if last_two(k))
    ps = T0 + first * DAY
    tr.append(truth("cost", None, w["id"], ps, ps + 2 * DAY, detect_by=ps + 3 * DAY + 10 * HOUR + GRACE,
                    ambiguous=True, note=f"first month-end x{month_end:g} (Mar 30-31): nothing yet says it recurs"))
    if factor != 1.0:
        ps = T0 + bad * DAY
        tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + 2 * DAY + 10 * HOUR + GRACE,
                        goal_s=DAY + 10 * HOUR, note=f"2026-05-13 x{factor:g}"))
    return Scenario("", ev, tr)


def bill_weekdays_only(seed: int, factor: float = 1.0, weeks: int = 6, sigma: float = 0.3, level: float = 25.0,
                       spike_week: int = 4, spike_h: float = 4.0) -> Scenario:
    """An hourly series that spends only on weekdays 08:00-20:00 UTC ($25 an hour, a mild midday peak, log-normal
    ``sigma``) and sends no row at all otherwise (nights, weekends), rows landing 4-15 min after the hour,
    ``weeks`` weeks from a Monday: must not alert (each Monday 08:00 follows 60 h without a row). ``factor`` != 1:
    the Wednesday of week ``spike_week`` (0-based) x``factor`` from 13:00 for ``spike_h`` (truth, goal 2 h)."""
    r = random.Random(seed)
    w = wl("legal/contract-review-llm", "inference", "legal")
    a = T0 + (7 * spike_week + 2) * DAY + 13 * HOUR
    b = a + spike_h * HOUR
    series: list[tuple[float, float, float]] = []
    for d in range(7 * weeks):
        if _gmt(T0 + d * DAY).tm_wday >= 5:
            continue
        for hh in range(8, 20):
            ps = T0 + d * DAY + hh * HOUR
            m = factor if factor != 1.0 and a <= ps < b else 1.0
            shape = 1 + 0.2 * math.cos(2 * math.pi * (hh + 0.5 - 14) / 12)
            series.append((ps, ps + HOUR, level * shape * m * r.lognormvariate(-sigma * sigma / 2, sigma)))
    ev = _rows(r, series, w, {"source": "llm_usage", "service": "Anthropic API", "resource_id": "apikey-legal-1",
                              "model": "claude-sonnet-4", "sku": "tokens"}, late=(240, 900))
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR,
                                         goal_s=2 * HOUR, note=f"Wednesday 13:00-{13 + spike_h:g}:00 of week "
                                                               f"{spike_week + 1} x{factor:g}")]
    return Scenario("", ev, tr)


def loop_flaky_nightly(seed: int, nights: int = 30, every_nth: int = 4, gpus: int = 4) -> Scenario:
    """A nightly job at 02:00 (+0-2 min, trigger ``schedule``, that night's data_version) that succeeds in 15-25
    min with a metric improving with noise; on ``nights // every_nth`` nights drawn at random (one in four) the
    first attempt fails 2-10 min in (no metric) and a retry (trigger ``retry``, a new run_id, the same
    data_version) starts 1-5 min later and succeeds in 15-25 min (within 30 min of the failure), ``nights``
    nights: must not alert (one failure a night, always followed by a success on fresh data, is neither a crash
    loop nor a no-gain loop)."""
    r = random.Random(seed)
    w = wl("ml/nightly-demand-forecast", "training", "planning")
    model = "demand-tft"
    bad = set(r.sample(range(nights), nights // every_nth))
    ev: list[Event] = []
    for d in range(nights):
        st = T0 + d * DAY + 2 * HOUR + r.uniform(0, 120)
        data = "orders-" + time.strftime("%Y%m%d", time.gmtime(st))
        metric = {"name": "wape", "value": round(0.182 - 0.0006 * d + r.gauss(0, 3e-4), 5), "higher_is_better": False}
        if d in bad:
            dur = r.uniform(2, 10) * MIN
            ev += _run_events(r, model, w, st, dur, "failed", None, data, "schedule", gpus)
            st += dur + r.uniform(1, 5) * MIN
            ev += _run_events(r, model, w, st, r.uniform(15, 25) * MIN, "succeeded", metric, data, "retry", gpus)
        else:
            ev += _run_events(r, model, w, st, r.uniform(15, 25) * MIN, "succeeded", metric, data, "schedule", gpus)
    return Scenario("", ev, [])


def obs_redelivered_batches(seed: int, shift_sd: float = 0.0, days: float = 3.0, at_day: float = 2.5,
                            share: float = 0.1, batch: int = 20, every_s: float = 60.0,
                            as_delivered: bool = True) -> Scenario:
    """A model with three stable features with mild daily cycles (0.2-0.4 sd), ``batch`` values each every
    ``every_s`` (+-20 %), ``days``; ``share`` of the batches are delivered twice (at least once: the same event,
    same ts and values, again 0-60 s later, so behind the next batch now and then; ``as_delivered`` False: right
    after the original, the file sorted by ts): must not alert. ``shift_sd`` > 0: ``basket_usd``'s mean moves
    ``shift_sd`` sd up from day ``at_day`` on (truth, goal 30 min)."""
    g = np.random.default_rng(seed)
    model = "m-checkout-risk"
    w = wl(f"serving/{model}", "inference", "risk")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    feats = {"basket_usd": _cyc(60, 18, 0.3, float(g.uniform(0, 6.3)), a if shift_sd > 0 else None, shift_sd),
             "items": _cyc(4, 1.5, 0.2, float(g.uniform(0, 6.3))),
             "score": _cyc(0.2, 0.05, 0.4, float(g.uniform(0, 6.3)))}
    ev = obs_events(g, model, w, T0, t1, every_s, batch, feats)
    keyed: list[tuple[float, int, Event]] = []
    n = len(ev)
    for i, e in enumerate(ev):
        keyed.append((e["ts"], i, e))
        if g.random() < share:
            n += 1
            keyed.append((e["ts"] + (float(g.uniform(0, 60)) if as_delivered else 0.0), n, json.loads(json.dumps(e))))
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN, note=f"basket_usd +{shift_sd:g} sd; 10 % of "
                "batches delivered twice")] if shift_sd > 0 else []
    return Scenario("", _in_order(keyed), tr, ordered=as_delivered)


def bill_one_off_purchase(seed: int, again: bool = False, days: int = 40, sigma: float = 0.15, at_day: int = 20,
                          again_after: int = 9, x: float = 30.0, level: float = 700.0) -> Scenario:
    """A daily series (one usage row a UTC day, landing 4-10 h after the day closes, weekends x0.8) for ``days``,
    with a one-off purchase row on day ``at_day``: x``x`` a normal weekday, ``charge_category`` purchase, its own
    sku ``capacity-block-purchase``, the day's period, landing with that day's usage row. Truth (goal one daily
    period plus the latest landing): it pages. Why: it is money spent (a purchase is not a credit or a
    restatement), thirty days of this workload's spend in one row on a SKU never seen, and nothing in the stream
    says it was planned: an accidental or unapproved purchase is exactly what must be caught before the bill; a
    planned one costs one "not a problem". ``again``: a second identical purchase ``again_after`` days later, a
    second truth: it pages again. Why: one earlier purchase 9 days before is no cadence (a monthly fee recurs on
    the calendar), it is thirty more days of spend, and a repeated identical purchase is also how a duplicated
    order looks; only feedback ("not a problem" on the first) should quiet it."""
    r = random.Random(seed)
    w = wl("ml/gpu-reservations", "training", "mlplat")
    fields = {"source": "focus", "service": "Amazon EC2", "resource_id": "ec2/p5-training-pool",
              "sku": "p5.48xlarge-ondemand", "charge_category": "usage"}
    ev, _ = _daily_rows(r, w, fields, days, level, sigma, lambda k: 1.0)
    amount = round(x * level * r.uniform(0.98, 1.02), 2)
    tr = []
    for k in [at_day, at_day + again_after] if again else [at_day]:
        ps = T0 + k * DAY
        usage = next(e for e in ev if e["period_start"] == ps)
        ev.append({"type": "billing_delta", "ts": round(usage["ts"] + r.uniform(0, 60), 3), "period_start": ps,
                   "period_end": ps + DAY, "workload": w, **fields, "sku": "capacity-block-purchase",
                   "charge_category": "purchase", "cost_usd": amount})
        tr.append(truth("cost", None, w["id"], ps, ps + DAY, detect_by=ps + 2 * DAY + 10 * HOUR + GRACE,
                        goal_s=DAY + 10 * HOUR, note=f"purchase row ${amount:,.0f} (x{x:g} a weekday) on day {k}"))
    return Scenario("", ev, tr)


# ============================================================ probe round 10
# Assumptions of a tenth outside tester: an input-bound training job whose util wanders and drops to 0 for a
# minute or three while the dataloader catches up, a large model whose checkpoint saves take 20-30 min, a
# collector that sends nothing for 10-40 min a few times a day, a node that reboots, a developer iterating by
# hand on one data_version, nightly jobs that fail a few times before they succeed, and an online model
# retrained every 15 min on fresh data.
def _windows(r: random.Random, t0: float, t1: float, every: tuple[float, float],
             length: tuple[float, float]) -> list[tuple[float, float]]:
    """Back-to-back windows: a gap drawn from ``every``, a window drawn from ``length``, until ``t1``."""
    out: list[tuple[float, float]] = []
    t = t0 + r.uniform(*every)
    while t < t1:
        d = r.uniform(*length)
        out.append((t, t + d))
        t += d + r.uniform(*every)
    return out


def _in_any(ws: list[tuple[float, float]]) -> Callable[[float], bool]:
    starts = [a for a, _ in ws]

    def f(t: float) -> bool:
        i = bisect.bisect_right(starts, t) - 1
        return i >= 0 and t < ws[i][1]
    return f


def gpu_dataloader_stalls(seed: int, hang: bool = False, days: float = 3.0, gpus: int = 8, step_s: float = 30.0,
                          hang_day: int = 1, hang_at_h: float = 14.0, hang_h: float = 2.0) -> Scenario:
    """One input-bound data-parallel training job on ``gpus`` A100s of one node (82 % memory held throughout),
    ``days``: util wanders 30-95 % (a random walk with 5-min knots, the same for every rank, +-5 % per rank and
    sample) and every 5-20 min the whole job stalls on its dataloader for 1-3 min (util 0 %, SM 0-0.3 %, memory
    held): must not alert (the routine stalls are short, the job-wide quiet spells the README learns from).
    ``hang``: at ``hang_at_h`` on day ``hang_day`` (0-based: day 2 by default) every rank hangs for ``hang_h``
    (util 0 %, memory held), no stall inside it. Truth: every GPU (goal 10 min: the README's ~9 min for a busy
    training job that goes quiet, and its longest routine pause is 3 min)."""
    r = random.Random(seed)
    w = wl("vision/video-encoder-train", "training", "vision")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    a = T0 + hang_day * DAY + hang_at_h * HOUR
    b = a + hang_h * HOUR
    stalls = [(x, y) for x, y in _windows(r, T0, end, (5 * MIN, 20 * MIN), (1 * MIN, 3 * MIN))
              if not (hang and x < b and a < y)]
    stalled = _in_any(stalls)
    knots, lv = [], r.uniform(40, 85)
    for _ in range(int(days * DAY / (5 * MIN)) + 2):
        knots.append(lv)
        lv = min(95.0, max(30.0, lv + r.gauss(0, 12)))

    def level(t: float) -> float:
        x = (t - T0) / (5 * MIN)
        i = min(max(int(x), 0), len(knots) - 2)
        f = min(max(x - i, 0.0), 1.0)
        return knots[i] * (1 - f) + knots[i + 1] * f

    def f(t: float) -> GpuState:
        if (hang and a <= t < b) or stalled(t):
            return 0.0, r.uniform(0.0, 0.3), 0.82, w
        return min(95.0, max(30.0, level(t) + r.uniform(-5, 5))), None, 0.82, w
    devs = [Device("dgx-v21", u, f, pid=3100 + i) for i, u in enumerate(uuids)]
    tr = [truth("idle", u, w["id"], a, b, goal_s=10 * MIN, price=A100_PRICE,
                note=f"all ranks hung {hang_h:g} h, 82 % memory; routine dataloader stalls 1-3 min every 5-20 min")
          for u in uuids] if hang else []
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def gpu_long_checkpoints(seed: int, hang: bool = False, days: float = 3.0, gpus: int = 8, step_s: float = 30.0,
                         every_h: float = 4.0, save_min: tuple[float, float] = (20.0, 30.0), hang_day: int = 2,
                         hang_at_h: float = 8.0, hang_h: float = 2.0) -> Scenario:
    """A large-model data-parallel job on ``gpus`` H100s of one node (93 % memory held throughout) busy 75-97 %,
    whose checkpoint save takes ``save_min`` (20-30 min) every ``every_h`` h (+0-2 min) on all ranks at once
    (+-20 s per rank; util 0 %, memory held), ``days``: the saves after the first must not alert. The first save
    of each GPU is an ambiguous truth: nothing in the stream tells a 20-30 min all-rank stop of a job never
    seen pausing from a hang (the README's ~9 min for a busy training job that goes quiet applies), so an
    open there is defensible, and so is silence. ``hang``: the first save due after ``hang_at_h`` on day
    ``hang_day`` (0-based: day 3) never finishes: all ranks sit idle holding memory for ``hang_h`` from its start,
    then the job restarts and saves on schedule again. Truth: every GPU, goal twice the longest save seen
    before it (<= 60 min). Achievable: until the hang outlasts the longest save (<= 30 min) it looks exactly
    like one; the README's training dwell (at most 2x the longest pause) pages at <= 60 min; 1.5x (~45 min)
    would be the first point clearly past every routine save."""
    r = random.Random(seed)
    w = wl("llm/pretrain-34b", "training", "foundation")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    saves: list[tuple[float, float]] = []
    t = T0 + r.uniform(0.5, every_h) * HOUR
    hang_from = T0 + hang_day * DAY + hang_at_h * HOUR
    a = b = None
    while t < end:
        s = t + r.uniform(0, 120)
        if hang and a is None and s >= hang_from:
            a, b = s, s + hang_h * HOUR
            t = b + every_h * HOUR
            continue
        saves.append((s, s + r.uniform(*save_min) * MIN))
        t += every_h * HOUR
    jit = {u: [(r.uniform(-20, 20), r.uniform(-20, 20)) for _ in saves] for u in uuids}
    devs, tr = [], []
    for i, u in enumerate(uuids):
        mine = [(x + j0, y + j1) for (x, y), (j0, j1) in zip(saves, jit[u], strict=True)]
        saving = _in_any(mine)

        def f(t: float, saving: Callable[[float], bool] = saving) -> GpuState:
            if saving(t) or (a is not None and b is not None and a <= t < b):
                return 0.0, r.uniform(0.0, 0.3), 0.93, w
            return r.uniform(75, 97), None, 0.93, w
        devs.append(Device("dgx-h07", u, f, model=H100, price=4.5, pid=3200 + i))
        tr.append(truth("idle", u, w["id"], mine[0][0], mine[0][1], ambiguous=True, price=4.5,
                        note="the job's first checkpoint save (20-30 min): a never-seen pause of a busy job"))
        if a is not None and b is not None:
            longest = max(y - x for x, y in saves if y <= a)
            tr.append(truth("idle", u, w["id"], a, b, goal_s=round(2 * longest), price=4.5,
                            note=f"a save that hangs {hang_h:g} h; routine saves up to {longest / MIN:.0f} min"))
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def gpu_sample_dropouts(seed: int, idle: bool = False, days: float = 3.0, gpus: int = 8, step_s: float = 30.0,
                        per_day: tuple[int, int] = (2, 4), drop_min: tuple[float, float] = (10.0, 40.0),
                        idle_day: int = 1, idle_at_h: float = 14.0, idle_h: float = 2.0) -> Scenario:
    """One training job on ``gpus`` A100s of one node (checkpoint pauses of 4 min every 50 min, 78 % memory)
    whose collector sends nothing from any GPU for ``drop_min`` (10-40 min) ``per_day`` (2-4) times a day, then
    busy samples again, ``days``: must not alert (no samples is no evidence of idleness). ``idle``: a dropout
    starts at ``idle_at_h`` on day ``idle_day`` (0-based: day 2; no other dropout within 3 h of it) and when
    samples resume every GPU is idle (util 0 %, memory held) for ``idle_h``, then busy again. Truth: every GPU
    from when samples resume (goal 10 min after that: the README's ~9 min for a busy training job that goes
    quiet, counted from the first sample that shows it)."""
    r = random.Random(seed)
    st = States(r)
    w = wl("speech/conformer-train", "training", "speech")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    drops: list[tuple[float, float]] = []
    for d in range(math.ceil(days)):
        n = r.randint(*per_day)
        slot = DAY / n
        for k in range(n):
            s = T0 + d * DAY + k * slot + r.uniform(0.1, 0.6) * slot
            drops.append((s, s + r.uniform(*drop_min) * MIN))
    drops = [g for g in drops if g[1] < end - 30 * MIN and g[0] > T0 + 30 * MIN]
    a = b = g0 = None
    if idle:
        g0 = T0 + idle_day * DAY + idle_at_h * HOUR
        a = g0 + r.uniform(*drop_min) * MIN
        b = a + idle_h * HOUR
        drops = [g for g in drops if g[1] < g0 - 3 * HOUR or g[0] > b + 3 * HOUR] + [(g0, a)]
        drops.sort()
    train = st.training(w, r.uniform(0, 3000))
    f = timeline([(T0, train), (g0, st.idle(w, 0.78)), (b, train)]) if g0 and b else train
    devs = [Device("dgx-s03", u, f, pid=3300 + i) for i, u in enumerate(uuids)]
    ev = gpu_events(r, devs, T0, end, step_s, missing={u: drops for u in uuids})
    tr = [truth("idle", u, w["id"], a, b, goal_s=10 * MIN, price=A100_PRICE,
                note=f"idle {idle_h:g} h, 78 % memory, first seen when samples resume after a "
                     f"{(a - (g0 or a)) / MIN:.0f} min dropout") for u in uuids] if a and b else []
    return Scenario("", ev, tr)


def gpu_node_reboot(seed: int, gone: bool = False, days: float = 3.0, gpus: int = 8, step_s: float = 30.0,
                    down_min: tuple[float, float] = (45.0, 70.0), idle_h: float = 4.0) -> Scenario:
    """A node of ``gpus`` A100s running one training job (checkpoint pauses of 4 min every 50 min, 80 % memory)
    reboots twice in ``days`` (day 1 10:00-20:00, day 2 10:00-18:00): no sample from any GPU for ``down_min``
    (45-70 min), then the same pods come back, load their checkpoint (2-5 min at util 0 % with memory held) and
    train again: must not alert. ``gone``: after the second reboot the pods are gone: every GPU reports
    workload null, no memory, no process, util 0 % for ``idle_h``, then a new job is scheduled onto the node.
    Truth: every GPU for those ``idle_h`` (goal 90 min). Why: the node is paid for (the samples carry its
    price) and does nothing for 4 h, which is what idle-GPU detection is for; the README names unallocated GPUs
    with a 90 min dwell while their rhythm is unknown (the job that gave them one is gone), as probe
    ``gpu_preempted`` does; a shorter goal would be a new promise, and nobody owns the GPUs, so the alert goes
    to whoever the routing gives unowned GPUs."""
    r = random.Random(seed)
    st = States(r)
    w = wl("nlp/mt-en-de-train", "training", "nlp")
    w2 = wl("nlp/asr-distill", "training", "nlp")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    boots = []
    for d, (lo, hi) in ((0, (10.0, 20.0)), (1, (10.0, 18.0))):
        s = T0 + d * DAY + r.uniform(lo, hi) * HOUR
        boots.append((s, s + r.uniform(*down_min) * MIN))
    (_, up1), (_, up2) = boots
    ph = [r.uniform(0, 3000) for _ in range(4)]  # one job: every rank checkpoints at once (one phase per start)
    devs, tr = [], []
    for i, u in enumerate(uuids):
        ld1, ld2 = up1 + r.uniform(2, 5) * MIN, up2 + r.uniform(2, 5) * MIN
        segs: list[tuple[float, Callable[[float], GpuState]]] = [
            (T0, st.training(w, ph[0], mem=0.8)), (up1, st.idle(w, 0.8)), (ld1, st.training(w, ph[1], mem=0.8))]
        if gone:
            segs += [(up2, st.idle(None, 0.0)), (up2 + idle_h * HOUR, st.training(w2, ph[3], mem=0.7))]
            tr.append(truth("idle", u, None, up2, up2 + idle_h * HOUR, goal_s=90 * MIN, price=A100_PRICE,
                            note="unallocated after a node reboot: the pods did not come back"))
        else:
            segs += [(up2, st.idle(w, 0.8)), (ld2, st.training(w, ph[2], mem=0.8))]
        devs.append(Device("dgx-r12", u, timeline(segs), pid=3400 + i))
    ev = gpu_events(r, devs, T0, end, step_s, missing={u: boots for u in uuids})
    return Scenario("", ev, tr)


def _sha(r: random.Random) -> str:
    return f"git-{r.getrandbits(28):07x}"


def loop_dev_iterating(seed: int, loop: bool = False, session_days: str = "1,2,4", runs: tuple[int, int] = (6, 8),
                       hours: float = 4.0, gpus: int = 2) -> Scenario:
    """A developer retrains one model by hand (trigger ``manual``) on one frozen ``data_version``, 6-8 runs in
    ``hours`` (one slot each: a run of 50-80 % of it, then edits) on each of the days ``session_days`` (from
    09:30-13:00), every run with a new ``code_version`` and a metric (auc) that moves by 0.4-1.5 points: better,
    worse, better, ...: must not alert (experimentation: new code each time and material changes of the
    metric). ``loop``: the control, the same ``code_version`` and exactly the same metric on every run: a
    no-gain loop in each session (truth family loop per session, goal two slots + 40 min: it opens at the
    third round's end)."""
    r = random.Random(seed)
    model = "rec-two-tower"
    w = wl("recsys/two-tower-dev", "training", "recsys")
    data = "interactions-2026-02-27"
    fixed = _sha(r)
    ev: list[Event] = []
    tr = []
    auc = 0.712
    for k, d in enumerate(int(x) for x in session_days.split(",")):
        n = r.randint(*runs)
        slot = hours * HOUR / n
        s0 = T0 + d * DAY + r.uniform(9.5, 13.0) * HOUR
        last = s0
        for i in range(n):
            st = s0 + i * slot + r.uniform(0, 0.1) * slot
            dur = r.uniform(0.5, 0.8) * slot
            if not loop and (k or i):
                auc += r.uniform(0.005, 0.015) if i % 2 == 0 else -r.uniform(0.004, 0.01)
            metric = {"name": "auc", "value": round(auc, 4), "higher_is_better": True}
            run = _run_events(r, model, w, st, dur, "succeeded", metric, data, "manual", gpus)
            code = fixed if loop else _sha(r)
            for e in run:
                e["code_version"] = code
            ev += run
            last = st + dur
        if loop:
            tr.append(truth("loop", model, w["id"], s0, last, goal_s=round(2 * slot + 40 * MIN),
                            note=f"{n} manual reruns, same code and data, the same auc"))
    return Scenario("", ev, tr)


def loop_retry_then_success(seed: int, weeks: int = 3, bad_per_week: tuple[int, int] = (2, 3),
                            gpus: int = 4) -> Scenario:
    """A nightly job at 01:00 (+0-2 min, trigger ``schedule``, that night's data_version, 20-35 min, a metric
    improving with noise) for ``weeks`` weeks; on ``bad_per_week`` (2-3) nights a week drawn at random the job
    first fails 1-3 times (each 1-3 min in, retried 0.5-1.5 min later, trigger ``retry``, the same data and
    code; all within 15 min of the first start), then the retry succeeds: must not alert (every failure
    streak ends in a success within minutes, on fresh data each night)."""
    r = random.Random(seed)
    w = wl("ml/nightly-ranker", "training", "search")
    model = "ranker-lgbm"
    bad: set[int] = set()
    for k in range(weeks):
        bad |= {7 * k + x for x in r.sample(range(7), r.randint(*bad_per_week))}
    ev: list[Event] = []
    for d in range(7 * weeks):
        st = T0 + d * DAY + HOUR + r.uniform(0, 120)
        data = "clicks-" + time.strftime("%Y%m%d", time.gmtime(st))
        metric = {"name": "ndcg_at_10", "value": round(0.412 + 0.0004 * d + r.gauss(0, 2e-4), 5),
                  "higher_is_better": True}
        trig = "schedule"
        if d in bad:
            for _ in range(r.randint(1, 3)):
                dur = r.uniform(1, 3) * MIN
                ev += _run_events(r, model, w, st, dur, "failed", None, data, trig, gpus)
                st += dur + r.uniform(0.5, 1.5) * MIN
                trig = "retry"
        ev += _run_events(r, model, w, st, r.uniform(20, 35) * MIN, "succeeded", metric, data, trig, gpus)
    return Scenario("", ev, [])


def loop_streaming_retrain(seed: int, days: float = 3.0, every_min: float = 15.0, gpus: int = 1) -> Scenario:
    """An online model retrained every ``every_min`` min (+0-20 s, trigger ``schedule``, 3-8 min on ``gpus``
    GPU) on the latest window of its stream (a fresh ``data_version`` ``txn-stream-YYYYMMDDHHMM`` every run),
    the same code, auc flat (+-2e-4), no observations sent, ``days``: must not alert ``retrain_loop`` (new
    data every run is neither a crash loop nor a no-gain loop); ``retrain_without_drift`` has no inputs to
    judge, so a verdict there would be a finding too."""
    r = random.Random(seed)
    w = wl("risk/fraud-online-learner", "training", "risk")
    ev: list[Event] = []
    t = T0
    while t < T0 + days * DAY:
        st = t + r.uniform(0, 20)
        data = "txn-stream-" + time.strftime("%Y%m%d%H%M", time.gmtime(t))
        metric = {"name": "auc", "value": round(0.912 + r.uniform(-2e-4, 2e-4), 5), "higher_is_better": True}
        ev += _run_events(r, "fraud-online", w, st, r.uniform(3, 8) * MIN, "succeeded", metric, data, "schedule",
                          gpus)
        t += every_min * MIN
    return Scenario("", ev, [])
# ============================================================ probe round 11
# Assumptions of an eleventh outside tester: a holiday week at 30 % of normal and the return from it, a
# business-hours series whose UTC hours move by one at a DST change, forty series of fractions of a cent, a
# series that grows 3 % a day compounding (adoption), a feature drawn from two segments whose mix follows the
# hour of day, an upstream unit change (s -> ms) and a feature that becomes all sentinels, a canary rollout that
# moves a feature for 5 % -> 100 % of traffic, and observation batches that arrive up to 5 min out of order.
def _hourly_rows(r: random.Random, w: Event, fields: Event, t0: float, hours: int, cost: Callable[[float], float],
                 sigma: float, late: tuple[float, float] = (240, 900)) -> list[Event]:
    """One row an hour from ``t0`` for ``hours``: ``cost(period_start)`` x log-normal(``sigma``, mean 1), landing
    ``late`` s after the hour closes."""
    s = [(t0 + k * HOUR, t0 + (k + 1) * HOUR, cost(t0 + k * HOUR) * r.lognormvariate(-sigma * sigma / 2, sigma))
         for k in range(hours)]
    return _rows(r, s, w, fields, late)


def bill_holiday_dip(seed: int, factor: float = 1.0, weeks: int = 6, sigma: float = 0.3, level: float = 30.0,
                     holiday_week: int = 3, holiday: float = 0.3, spike_week: int = 4,
                     spike_h: float = 3.0) -> Scenario:
    """An hourly series ($``level`` an hour, daily cycle amplitude 0.4 peaking 15:00 UTC, log-normal ``sigma``,
    rows 4-15 min after the hour) for ``weeks`` weeks from a Monday; week ``holiday_week`` (0-based: the fourth)
    runs at ``holiday`` of normal (a holiday week: office closed), then back to normal: must not alert (neither
    the dip, a drop, nor the return to the level of weeks 1-3, a x3.3 rise over the week before, is a spike).
    ``factor`` != 1: x``factor`` for ``spike_h`` from 14:00 on the Tuesday of week ``spike_week`` (the fifth,
    the week after the holiday; truth, goal 2 h)."""
    r = random.Random(seed)
    w = wl("support/ticket-summarizer", "inference", "support")
    a = T0 + (7 * spike_week + 1) * DAY + 14 * HOUR
    b = a + spike_h * HOUR
    hs, he = T0 + 7 * holiday_week * DAY, T0 + 7 * (holiday_week + 1) * DAY
    shape = daily_shape(0.4)

    def cost(ps: float) -> float:
        m = holiday if hs <= ps < he else 1.0
        return level * shape(ps + HOUR / 2) * m * (factor if factor != 1.0 and a <= ps < b else 1.0)
    ev = _hourly_rows(r, w, {"source": "llm_usage", "service": "OpenAI API", "resource_id": "apikey-support-2",
                             "model": "gpt-4.1-mini", "sku": "tokens"}, T0, 7 * weeks * 24, cost, sigma)
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR,
                                         goal_s=2 * HOUR, note=f"Tuesday 14:00 of week {spike_week + 1} (after the "
                                                               f"holiday week {holiday_week + 1}) x{factor:g}")]
    return Scenario("", ev, tr)


DST_2026 = float(calendar.timegm((2026, 3, 8, 7, 0, 0)))  # US/Eastern: 02:00 EST -> 03:00 EDT, Sunday 2026-03-08


def _eastern(t: float) -> time.struct_time:
    """US/Eastern local time around the 2026 spring change (the stdlib alone: EST before, EDT after)."""
    return time.gmtime(t - (5 if t < DST_2026 else 4) * HOUR)


def bill_dst_shift(seed: int, factor: float = 1.0, weeks: int = 6, sigma: float = 0.2, level: float = 40.0,
                   off: float = 0.1, spike_week: int = 4, spike_h: float = 4.0) -> Scenario:
    """An hourly series of an office-hours workload of a team in New York: $``level`` an hour 09:00-17:00
    US/Eastern local time on weekdays, x``off`` otherwise (nights, weekends), log-normal ``sigma``, rows 4-15 min
    after the hour, ``weeks`` weeks from Monday 2026-02-16, so the US DST change (Sunday 2026-03-08, the end of
    week 3) moves its UTC hours from 14:00-22:00 to 13:00-21:00: the first Monday after it has a busy 13:00 UTC
    (x10 over every 13:00 UTC seen) and a quiet 21:00 UTC: must not alert. ``factor`` != 1: x``factor`` for
    ``spike_h`` from 11:00 local on the Thursday of week ``spike_week`` (0-based: the fifth; truth, goal 2 h)."""
    r = random.Random(seed)
    w = wl("ny-desk/analyst-copilot", "inference", "research-ny")
    t0 = T0 - 14 * DAY
    thu = t0 + (7 * spike_week + 3) * DAY
    a = thu + (11 + (5 if thu + 11 * HOUR < DST_2026 else 4)) * HOUR
    b = a + spike_h * HOUR

    def cost(ps: float) -> float:
        lt = _eastern(ps)
        busy = lt.tm_wday < 5 and 9 <= lt.tm_hour < 17
        return level * (1.0 if busy else off) * (factor if factor != 1.0 and a <= ps < b else 1.0)
    ev = _hourly_rows(r, w, {"source": "llm_usage", "service": "Anthropic API", "resource_id": "apikey-ny-desk",
                             "model": "claude-sonnet-4", "sku": "tokens"}, t0, 7 * weeks * 24, cost, sigma)
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR,
                                         goal_s=2 * HOUR, note=f"Thursday 11:00-{11 + spike_h:g}:00 EDT of week "
                                                               f"{spike_week + 1} x{factor:g}")]
    return Scenario("", ev, tr)


def bill_tiny_series(seed: int, n: int = 40, days: float = 21.0, sigma: float = 0.6, jumpers: int = 10,
                     big_day: float = 16.0, big_factor: float = 10.0, big_h: float = 2.0) -> Scenario:
    """``n`` tiny hourly series ($0.001-0.05 an hour, log-normal ``sigma``, rows 4-15 min after the hour, not
    rounded) for ``days``; ``jumpers`` of them have 1-3 single hours x10 in their last week (each x10 hour adds
    9x the level, under $0.50: dollars immaterial): should not page (what would: an excess of at least
    ``min_period_excess_usd`` $1 in a period and ``min_daily_excess_usd`` $25 a day, which no series under $0.05
    an hour can reach even at x10 all day, $10.80). Plus one $20 an hour series (daily cycle 0.3, noise 0.2) x
    ``big_factor`` for ``big_h`` from 10:00 on day ``big_day`` (truth, goal 2 h)."""
    r = random.Random(seed)
    ev: list[Event] = []
    jump = set(r.sample(range(n), jumpers))
    for i in range(n):
        w = wl(f"dev-tools/lambda-{i:02d}", "batch", "devex")
        level = math.exp(r.uniform(math.log(0.001), math.log(0.05)))
        hot: set[float] = set()
        if i in jump:
            for _ in range(r.randint(1, 3)):
                hot.add(T0 + math.floor(r.uniform(days - 7, days - 0.5) * 24) * HOUR)

        def cost(ps: float, level: float = level, hot: set[float] = hot) -> float:
            return level * (10.0 if ps in hot else 1.0)
        ev += _hourly_rows(r, w, {"source": "focus", "service": "AWS Lambda", "resource_id": f"fn/devex-{i:02d}",
                                  "sku": "Lambda-GB-Second"}, T0, int(days * 24), cost, sigma)
    wb = wl("search/query-embedder", "inference", "search")
    a = T0 + big_day * DAY + 10 * HOUR
    b = a + big_h * HOUR
    shape = daily_shape(0.3)
    ev += _hourly_rows(r, wb, dict(FOCUS, resource_id="endpoint/query-embedder"), T0, int(days * 24),
                       lambda ps: 20.0 * shape(ps + HOUR / 2) * (big_factor if a <= ps < b else 1.0), 0.2)
    return Scenario("", ev, [truth("cost", None, wb["id"], a, b, detect_by=b + 15 * MIN + 2 * HOUR, goal_s=2 * HOUR,
                                   note=f"$20/h x{big_factor:g} for {big_h:g} h; {jumpers} tiny series with x10 "
                                        "hours must stay quiet")])


def bill_compound_growth(seed: int, factor: float = 1.0, weeks: int = 6, growth: float = 0.03, sigma: float = 0.25,
                         level: float = 10.0, step_day: float = 30.0) -> Scenario:
    """An hourly series growing ``growth`` a day compounding (adoption: x3.5 over six weeks, a smooth rise that
    never stops), daily cycle amplitude 0.4, log-normal ``sigma``, rows 4-15 min after the hour, from $``level``
    an hour, ``weeks`` weeks: must not alert. ``factor`` != 1: a x``factor`` step at 10:00 on day ``step_day``
    (week 5) that stays, on top of the growth (truth: one anomaly, from the step to the end, goal 2 h)."""
    r = random.Random(seed)
    w = wl("growth/onboarding-assistant", "inference", "growth")
    a = T0 + step_day * DAY + 10 * HOUR
    shape = daily_shape(0.4, 16)
    ev = _hourly_rows(r, w, {"source": "llm_usage", "service": "Google Vertex AI", "resource_id": "vertex/onboard",
                             "model": "gemini-2.5-flash", "sku": "tokens"}, T0, 7 * weeks * 24,
                      lambda ps: level * (1 + growth) ** ((ps - T0) / DAY) * shape(ps + HOUR / 2)
                      * (factor if factor != 1.0 and ps >= a else 1.0), sigma)
    end = T0 + 7 * weeks * DAY
    tr = [] if factor == 1.0 else [truth("cost", None, w["id"], a, end, goal_s=2 * HOUR,
                                         note=f"x{factor:g} step for good on day {step_day:g}, on 3 %/day growth")]
    return Scenario("", ev, tr)


def drift_segment_mix(seed: int, third: bool = False, days: float = 10.0, at_day: float = 8.0, at_h: float = 10.0,
                      batch: int = 50, every_s: float = 60.0, third_share: float = 0.1) -> Scenario:
    """A feature ``session_s`` drawn from two segments, mobile N(30,5) and desktop N(60,8), whose mobile share
    follows the hour of day (20 % at 09:00 UTC to 70 % at 21:00 on weekdays; at weekends 40-80 %, peaking at
    15:00) beside a stable ``score``, ``batch`` values a feature every ``every_s`` (+-20 %), ``days`` from a Monday:
    must not alert on weekdays; the weekend (days 5-6, the first and only one) is ambiguous (nothing yet says
    it recurs; its mix is within the weekday range of shares, at other hours). ``third``: a third segment
    N(120,10) (a new app) takes ``third_share`` of the traffic from ``at_h`` on day ``at_day`` (a Tuesday; truth,
    goal 30 min)."""
    g = np.random.default_rng(seed)
    model = "m-engagement"
    w = wl(f"serving/{model}", "inference", "growth")
    a, t1 = T0 + at_day * DAY + at_h * HOUR, T0 + days * DAY

    def mobile(t: float) -> float:
        hh = (t % DAY) / HOUR
        if _gmt(t).tm_wday >= 5:
            return 0.6 + 0.2 * math.cos(2 * math.pi * (hh - 15) / 24)
        return 0.45 + 0.25 * math.cos(2 * math.pi * (hh - 21) / 24)

    def feat(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        seg = gg.random(n)
        p3 = third_share if third and t >= a else 0.0
        pm = mobile(t) * (1 - p3)
        x = np.where(seg < pm, gg.normal(30, 5, n), gg.normal(60, 8, n))
        return np.where(seg >= 1 - p3, gg.normal(120, 10, n), x)
    ev = obs_events(g, model, w, T0, t1, every_s, batch, {"session_s": feat, "score": _cyc(0.3, 0.08, 0.2, 1.0)})
    sat = T0 + 5 * DAY
    tr = [truth("drift", model, w["id"], sat, sat + 2 * DAY, detect_by=sat + 2 * DAY + GRACE, ambiguous=True,
                note="first weekend: mobile share 40-80 % peaking 15:00 instead of 20-70 % peaking 21:00")] \
        if days > 5 else []
    if third:
        tr.append(truth("drift", model, w["id"], a, t1, goal_s=30 * MIN,
                        note=f"third segment N(120,10) at {third_share:.0%} from day {at_day:g} {at_h:g}:00"))
    return Scenario("", ev, tr)


def drift_unit_change(seed: int, change: str = "", days: float = 3.0, at_day: float = 2.5, batch: int = 20,
                      every_s: float = 60.0) -> Scenario:
    """A model with three features with mild daily cycles (``latency_s`` log-normal median 0.12 s, ``payload_kb``,
    ``score``), ``batch`` values each every ``every_s`` (+-20 %), ``days``. ``change`` ``ms``: from ``at_day``
    (day 2 12:00) an upstream release sends ``latency_s`` in milliseconds (x1000); ``sentinel``: from then on
    ``payload_kb`` is -1 (missing) in 100 % of the values; '' (the control): neither, must not alert. Truth
    (goal 10 min: every value after the change is outside anything seen before, so one batch suffices)."""
    g = np.random.default_rng(seed)
    model = "m-upstream-api"
    w = wl(f"serving/{model}", "inference", "platform")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    ph = [float(g.uniform(0, 2 * math.pi)) for _ in range(3)]

    def latency(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        x = gg.lognormal(math.log(0.12) + 0.15 * math.sin(2 * math.pi * (t - T0) / DAY + ph[0]), 0.35, n)
        return x * 1000.0 if change == "ms" and t >= a else x

    def payload(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        if change == "sentinel" and t >= a:
            return np.full(n, -1.0)
        return gg.lognormal(math.log(24) + 0.2 * math.sin(2 * math.pi * (t - T0) / DAY + ph[1]), 0.5, n)
    ev = obs_events(g, model, w, T0, t1, every_s, batch,
                    {"latency_s": latency, "payload_kb": payload, "score": _cyc(0.4, 0.1, 0.3, ph[2])})
    notes = {"ms": "latency_s sent in ms (x1000)", "sentinel": "payload_kb all -1"}
    tr = [truth("drift", model, w["id"], a, t1, goal_s=10 * MIN, note=notes[change])] if change else []
    return Scenario("", ev, tr)


def drift_canary_rollout(seed: int, days: float = 3.0, at_day: float = 2.0, at_h: float = 9.0, shift_sd: float = 2.0,
                         shares: str = "0.05,0.25,0.5,1", step_h: float = 2.0, batch: int = 20,
                         every_s: float = 60.0) -> Scenario:
    """A stable model (``basket_usd`` N(60,15) and ``items`` with mild daily cycles) for two days; from 09:00 on
    day ``at_day`` (the third day) a new upstream version that moves ``basket_usd`` by +``shift_sd`` sd serves
    ``shares`` of the traffic (5 % -> 25 % -> 50 % -> 100 %, one step every ``step_h``: 100 % 6 h in), each value
    independently from the new version with that share, ``batch`` values every ``every_s`` (+-20 %), to
    ``days``. Truth from the 5 % start (no goal: the report says when it opens and at what share)."""
    g = np.random.default_rng(seed)
    model = "m-canary"
    w = wl(f"serving/{model}", "inference", "commerce")
    a, t1 = T0 + at_day * DAY + at_h * HOUR, T0 + days * DAY
    steps = [float(x) for x in shares.split(",")]
    base = _cyc(60, 15, 0.3, float(g.uniform(0, 6.3)))

    def share(t: float) -> float:
        return 0.0 if t < a else steps[min(len(steps) - 1, int((t - a) // (step_h * HOUR)))]

    def basket(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        x = base(gg, t, n)
        return x + shift_sd * 15 * (gg.random(n) < share(t))
    ev = obs_events(g, model, w, T0, t1, every_s, batch, {"basket_usd": basket,
                                                          "items": _cyc(4, 1.5, 0.2, float(g.uniform(0, 6.3)))})
    return Scenario("", ev, [truth("drift", model, w["id"], a, t1, note=f"canary +{shift_sd:g} sd at {shares} "
                                                                         f"of traffic, a step every {step_h:g} h")])


def obs_out_of_order(seed: int, shift_sd: float = 0.0, days: float = 3.0, at_day: float = 2.5, batch: int = 20,
                     every_s: float = 60.0, max_late_s: float = 300.0, as_delivered: bool = True) -> Scenario:
    """A stable model (three features with mild daily cycles, 0.2-0.4 sd) sending ``batch`` values a feature
    every ``every_s`` (+-20 %) for ``days``; each batch arrives 0-``max_late_s`` s after its ``ts`` (uniform), so
    the file, in arrival order, has ``ts`` out of order by up to 5 min (``as_delivered`` False: sorted by ts):
    must not alert. ``shift_sd`` > 0: ``amount``'s mean moves ``shift_sd`` sd up from day ``at_day`` (truth, goal
    30 min)."""
    g = np.random.default_rng(seed)
    model = "m-async-logger"
    w = wl(f"serving/{model}", "inference", "payments")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    feats = {"amount": _cyc(80, 20, 0.3, float(g.uniform(0, 6.3)), a if shift_sd > 0 else None, shift_sd),
             "hour_frac": _cyc(0.5, 0.1, 0.4, float(g.uniform(0, 6.3))),
             "score": _cyc(0.2, 0.05, 0.2, float(g.uniform(0, 6.3)))}
    ev = obs_events(g, model, w, T0, t1, every_s, batch, feats)
    keyed = [(e["ts"] + (float(g.uniform(0, max_late_s)) if as_delivered else 0.0), i, e) for i, e in enumerate(ev)]
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN, note=f"amount +{shift_sd:g} sd; batches up to "
                f"{max_late_s / MIN:g} min out of order")] if shift_sd > 0 else []
    return Scenario("", _in_order(keyed), tr, ordered=as_delivered)


# ============================================================ probe round 12
# Assumptions of a twelfth outside tester: an optimisation that halves a bill for two weeks (or four) and is then
# lost, a three-day sale x4 and a weekly Friday promo x2, a driver reset that leaves pods attributed to GPUs with no
# memory and no work, a load balancer that rotates traffic over half of its replicas every 30 min (and a replica it
# stops sending to), a sensor feature stuck at its median, and a crash loop retried every 3 min for 3 h beside a
# nightly job that fails three times before it succeeds.
def bill_saving_lost(seed: int, lost_day: float | None = 30.0, weeks: int = 6, sigma: float = 0.2,
                     level: float = 24.0, save_day: float = 16.0, saving: float = 0.5, at_h: float = 10.0) -> Scenario:
    """An hourly series with a daily cycle (amplitude 0.4), log-normal ``sigma``, rows 4-15 min after the hour,
    $``level`` an hour, ``weeks`` weeks from a Monday; at ``at_h`` on day ``save_day`` (week 3) an optimisation
    cuts it to x``saving`` (a drop: not an anomaly); ``lost_day`` None (the control): the saving lasts, must not
    alert. ``lost_day``: at ``at_h`` that day the saving is lost and spend returns to the old level for good
    (x1/``saving`` over the level of the last 14 days, the level of the first two weeks again). Truth: one cost
    anomaly from then to the end, no goal (a FinOps lead wants to hear of it; the report says when it opens, if
    at all)."""
    r = random.Random(seed)
    w = wl("search/rerank-endpoint", "inference", "search")
    a = T0 + save_day * DAY + at_h * HOUR
    b = T0 + lost_day * DAY + at_h * HOUR if lost_day is not None else math.inf
    shape = daily_shape(0.4)
    ev = _hourly_rows(r, w, dict(FOCUS, resource_id="endpoint/rerank-prod"), T0, 7 * weeks * 24,
                      lambda ps: level * shape(ps + HOUR / 2) * (saving if a <= ps < b else 1.0), sigma)
    end = T0 + 7 * weeks * DAY
    tr = [] if lost_day is None else [truth("cost", None, w["id"], b, end,
                                            note=f"saving x{saving:g} from day {save_day:g} lost on day {lost_day:g}: "
                                                 f"back to the old level for good")]
    return Scenario("", ev, tr)


def bill_sale_event(seed: int, promo: bool = False, weeks: int = 6, sigma: float = 0.2, level: float = 30.0,
                    sale_day: float = 32.0, sale_days: float = 3.0, factor: float = 4.0, promo_factor: float = 2.0,
                    free_fridays: int = 2) -> Scenario:
    """An hourly series of a shop's recommendation API with a daily cycle (amplitude 0.5, peak 19:00), log-normal
    ``sigma``, rows 4-15 min after the hour, $``level`` an hour, ``weeks`` weeks from a Monday. ``promo`` False: a
    ``sale_days`` sale x``factor`` (Black Friday to Sunday) from 00:00 on day ``sale_day`` (the Friday of week 5;
    truth: one anomaly, goal 2 h). ``promo``: every Friday x``promo_factor`` all day for ``weeks`` weeks, nothing
    else: the first ``free_fridays`` (2) Fridays are ambiguous (the first is a never-seen x2 day; the second is
    the first repetition, one week of history says it recurs but one sample of that slot is thin), from the
    third Friday on it must not alert (twice seen on the same weekday, the week shape the README learns)."""
    r = random.Random(seed)
    w = wl("shop/reco-api", "inference", "commerce")
    a = T0 + sale_day * DAY
    b = a + sale_days * DAY
    shape = daily_shape(0.5, 19)

    def cost(ps: float) -> float:
        if promo:
            m = promo_factor if _gmt(ps).tm_wday == 4 else 1.0
        else:
            m = factor if a <= ps < b else 1.0
        return level * shape(ps + HOUR / 2) * m
    ev = _hourly_rows(r, w, {"source": "llm_usage", "service": "OpenAI API", "resource_id": "apikey-shop-reco",
                             "model": "gpt-4.1", "sku": "tokens"}, T0, 7 * weeks * 24, cost, sigma)
    if promo:
        tr = [truth("cost", None, w["id"], T0 + (7 * k + 4) * DAY, T0 + (7 * k + 5) * DAY,
                    detect_by=T0 + (7 * k + 5) * DAY + 2 * HOUR + 15 * MIN, ambiguous=True,
                    note=f"Friday promo x{promo_factor:g} number {k + 1}") for k in range(min(free_fridays, weeks))]
    else:
        tr = [truth("cost", None, w["id"], a, b, detect_by=b + 2 * HOUR + 15 * MIN, goal_s=2 * HOUR,
                    note=f"{sale_days:g}-day sale x{factor:g} from Friday day {sale_day:g}")]
    return Scenario("", ev, tr)


def _serving_load(r: random.Random, t: float, lo: float = 35.0, hi: float = 85.0) -> float:
    """Endpoint util with a daily cycle (peak 15:00) and noise, ``lo``-``hi`` %."""
    mid, amp = (lo + hi) / 2, (hi - lo) / 2
    return max(lo, min(hi, mid + 0.8 * amp * math.cos(2 * math.pi * ((t % DAY) / HOUR - 15) / 24) + r.gauss(0, 4)))


def gpu_memory_released_pod_kept(seed: int, rolling: bool = False, days: float = 3.0, gpus: int = 8,
                                 step_s: float = 30.0, at_day: int = 1, at_h: float = 14.0, reset_h: float = 3.0,
                                 gone_min: tuple[float, float] = (2.0, 4.0)) -> Scenario:
    """A serving workload on ``gpus`` H100s of one node (model loaded, 60 % memory, util 35-85 % with a daily
    cycle), ``days``. At ``at_h`` on day ``at_day`` (0-based: day 2 14:00) a driver reset leaves every pod
    attributed (workload set) but with memory 0, no process and util 0 for ``reset_h`` (3 h), then the pods are
    restarted and serve again. Truth: every GPU, goal 20 min (paying for nothing: a busy endpoint gone quiet,
    ~9 min in the README, and nothing loaded). ``rolling`` (the control): instead a rolling restart empties each
    GPU in turn (memory 0, util 0, workload set) for ``gone_min`` (2-4 min), the next one 1 min after the
    previous is back: must not alert."""
    r = random.Random(seed)
    w = wl("serving/catalog-embedder", "inference", "search")
    uuids = [_uuid(r, "GPU") for _ in range(gpus)]
    end = T0 + days * DAY
    a = T0 + at_day * DAY + at_h * HOUR
    wins: list[tuple[float, float]] = []
    t = a
    for _ in uuids:
        d = (r.uniform(*gone_min) * MIN) if rolling else reset_h * HOUR
        wins.append((t, t + d))
        if rolling:
            t += d + MIN
    devs = []
    for i, (u, (x, y)) in enumerate(zip(uuids, wins, strict=True)):
        def f(t: float, x: float = x, y: float = y) -> GpuState:
            if x <= t < y:
                return 0.0, 0.0, 0.0, w
            return _serving_load(r, t), None, 0.6, w
        devs.append(Device("inf-h31", u, f, model=H100, price=4.5, pid=3500 + i))
    tr = [] if rolling else [truth("idle", u, w["id"], x, y, goal_s=20 * MIN, price=4.5,
                                   note=f"driver reset: pod attributed, memory 0, util 0 for {reset_h:g} h")
                             for u, (x, y) in zip(uuids, wins, strict=True)]
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def gpu_lb_alternating_replicas(seed: int, dead: bool = False, days: float = 4.0, replicas: int = 4,
                                active: int = 2, window_min: float = 30.0, step_s: float = 30.0,
                                dead_day: float = 2.0) -> Scenario:
    """An endpoint of ``replicas`` replicas (one A100 each, one node, model loaded, 55 % memory, util 40-90 % with
    a daily cycle while served) behind a load balancer that sends each ``window_min`` (30 min) window's traffic to
    ``active`` (2) of them drawn at random, never leaving one idle three windows running: the others sit idle with
    the model loaded for 30-60 min at a time, ``days``: must not alert. ``dead``: from day ``dead_day`` (0-based: day 3
    00:00) one replica is never chosen again (the others rotate over the remaining three). Truth: that replica
    from the end of its last window with traffic; goal twice its longest routine idle (60 min: 120 min), the
    point the README's "a gap clearly longer than them" can be held to (1.5x, 90 min, would be the first point
    clearly past every routine spell; before 60 min it looks exactly like one)."""
    r = random.Random(seed)
    w = wl("serving/listing-classifier", "inference", "marketplace")
    uuids = [_uuid(r, "GPU") for _ in range(replicas)]
    end = T0 + days * DAY
    cut = T0 + dead_day * DAY
    victim = r.randrange(replicas) if dead else -1
    nwin = math.ceil((end - T0) / (window_min * MIN))
    chosen: list[set[int]] = []
    for k in range(nwin):
        ws = T0 + k * window_min * MIN
        pool = [i for i in range(replicas) if not (dead and ws >= cut and i == victim)]
        must = [i for i in pool if len(chosen) >= 2 and i not in chosen[-1] and i not in chosen[-2]]
        rest = [i for i in pool if i not in must]
        chosen.append(set(must) | set(r.sample(rest, active - len(must))))
    last_on = max((k for k, c in enumerate(chosen) if victim in c), default=0) if dead else 0
    dead_from = T0 + (last_on + 1) * window_min * MIN

    def on(i: int, t: float) -> bool:
        k = min(nwin - 1, max(0, int((t - T0) // (window_min * MIN))))
        return i in chosen[k]
    devs = []
    for i, u in enumerate(uuids):
        def f(t: float, i: int = i) -> GpuState:
            if on(i, t):
                return _serving_load(r, t, 40.0, 90.0), None, 0.55, w
            return 0.0, r.uniform(0.0, 0.2), 0.55, w
        devs.append(Device("inf-lb07", u, f, pid=3600 + i))
    tr = [truth("idle", uuids[victim], w["id"], dead_from, end, goal_s=120 * MIN, price=A100_PRICE,
                note=f"replica {victim} gets no traffic from day {dead_day:g}; routine idle spells 30-60 min")] \
        if dead else []
    return Scenario("", gpu_events(r, devs, T0, end, step_s), tr)


def drift_stuck_sensor(seed: int, stuck: bool = True, days: float = 3.0, at_day: float = 2.5, batch: int = 20,
                       every_s: float = 60.0) -> Scenario:
    """A model with three features: ``temp_c`` normal N(40,5) (flat), ``bytes_kb`` log-normal (median 30, sigma
    0.6) and ``errors`` Poisson(3), both with mild daily cycles, ``batch`` values each every ``every_s`` (+-20 %),
    ``days``. ``stuck``: from ``at_day`` (day 2 12:00) the ``temp_c`` sensor is stuck: every value is 40.0, its
    median (the mean and median are unchanged; only the spread collapses to nothing). Truth, goal 30 min.
    ``stuck`` False (the control): must not alert (the Poisson feature's ties are routine)."""
    g = np.random.default_rng(seed)
    model = "m-thermal-guard"
    w = wl(f"serving/{model}", "inference", "infra")
    a, t1 = T0 + at_day * DAY, T0 + days * DAY
    ph = [float(g.uniform(0, 2 * math.pi)) for _ in range(3)]
    base = _cyc(40.0, 5.0, 0.0, ph[0])

    def temp(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return np.full(n, 40.0) if stuck and t >= a else base(gg, t, n)

    def kb(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return gg.lognormal(math.log(30) + 0.15 * math.sin(2 * math.pi * (t - T0) / DAY + ph[1]), 0.6, n)

    def errors(gg: np.random.Generator, t: float, n: int) -> np.ndarray:
        return gg.poisson(3.0 * (1 + 0.2 * math.sin(2 * math.pi * (t - T0) / DAY + ph[2])), n).astype(float)
    ev = obs_events(g, model, w, T0, t1, every_s, batch, {"temp_c": temp, "bytes_kb": kb, "errors": errors})
    tr = [truth("drift", model, w["id"], a, t1, goal_s=30 * MIN, note="temp_c stuck at 40.0 (its median)")] \
        if stuck else []
    return Scenario("", ev, tr)


def loop_retry_storm_long(seed: int, nightly: bool = False, hours: float = 3.0, fail_min: float = 2.0,
                          retry_min: float = 1.0, nights: int = 14, fails: int = 3, gpus: int = 4) -> Scenario:
    """``nightly`` False: a job (trigger ``schedule`` then ``retry``, the same data and code) that fails
    ``fail_min`` (2 min, +-10 s) in and is retried ``retry_min`` (1 min, +-10 s) later, for ``hours`` (3 h: ~60
    runs) from 02:00 on day 1. Truth: a crash loop, goal 20 min. ``nightly``: a job at 01:00 (+0-2 min, that
    night's data_version, 20-35 min, a metric improving with noise) that every night fails ``fails`` (3) times
    the same way (all within 10 min) and then succeeds, ``nights``: must not alert (every streak ends in a
    success within minutes, on fresh data each night)."""
    r = random.Random(seed)
    ev: list[Event] = []
    if not nightly:
        w = wl("vision/detector-finetune", "training", "vision")
        model = "detr-r50"
        a = t = T0 + DAY + 2 * HOUR
        trig = "schedule"
        while t < a + hours * HOUR:
            dur = fail_min * MIN + r.uniform(-10, 10)
            ev += _run_events(r, model, w, t, dur, "failed", None, "coco-2026-02", trig, gpus)
            t += dur + retry_min * MIN + r.uniform(-10, 10)
            trig = "retry"
        return Scenario("", ev, [truth("loop", model, w["id"], a, t, goal_s=20 * MIN,
                                       note=f"fails {fail_min:g} min in, retried {retry_min:g} min later, "
                                            f"for {hours:g} h")])
    w = wl("ml/nightly-forecaster", "training", "planning")
    model = "demand-tft"
    for d in range(nights):
        st = T0 + d * DAY + HOUR + r.uniform(0, 120)
        data = "orders-" + time.strftime("%Y%m%d", time.gmtime(st))
        metric = {"name": "mape", "value": round(0.121 - 0.0003 * d + r.gauss(0, 2e-4), 5), "higher_is_better": False}
        trig = "schedule"
        for _ in range(fails):
            dur = fail_min * MIN + r.uniform(-10, 10)
            ev += _run_events(r, model, w, st, dur, "failed", None, data, trig, gpus)
            st += dur + retry_min * MIN + r.uniform(-10, 10)
            trig = "retry"
        ev += _run_events(r, model, w, st, r.uniform(20, 35) * MIN, "succeeded", metric, data, trig, gpus)
    return Scenario("", ev, [])


# =================================================================== registry
def _reg() -> dict[str, tuple[Callable[..., Scenario], dict[str, Any]]]:
    r: dict[str, tuple[Callable[..., Scenario], dict[str, Any]]] = {}
    for s in (1.0, 10.0, 60.0, 300.0):
        r[f"cadence_{s:g}s"] = (cadence, {"step_s": s})
    r["cadence_jitter"] = (cadence, {"step_s": 15.0, "jitter": 0.5})
    r["cadence_missing"] = (cadence, {"step_s": 30.0, "missing": True})
    r["cadence_util_only"] = (cadence, {"step_s": 15.0, "sm": False})
    r["cadence_no_price"] = (cadence, {"step_s": 15.0, "price": ABSENT, "model": L4})
    r["cadence_no_price_no_model"] = (cadence, {"step_s": 15.0, "price": ABSENT, "model": None})
    for m in (20.0, 60.0, 360.0):
        r[f"training_idle_{m:g}m"] = (training_idle, {"idle_min": m})
    r["batch_routine_lognormal"] = (batch_queue, {"long_gap_min": 0.0, "gaps": "lognormal"})
    r["batch_routine_geometric"] = (batch_queue, {"long_gap_min": 0.0, "gaps": "geometric"})
    r["batch_idle_60m"] = (batch_queue, {"long_gap_min": 60.0})
    r["batch_idle_360m"] = (batch_queue, {"long_gap_min": 360.0, "gaps": "geometric"})
    r["straggler_20m"] = (straggler, {"idle_min": 20.0})
    r["straggler_60m"] = (straggler, {"idle_min": 60.0})
    r["endpoint_quiet_6h"] = (endpoint_quiet, {"quiet_h": 6.0})
    r["endpoint_quiet_1h_flat"] = (endpoint_quiet, {"quiet_h": 1.0, "blip_every_min": 0.0})
    r["notebook_blip_6h"] = (notebook_blip, {"idle_h": 6.0})
    r["mig_idle_2h"] = (mig_slices, {"idle_h": 2.0})
    r["time_sliced_3pods"] = (time_sliced, {"pods": 3})
    for f, h in ((3.0, 1.0), (10.0, 1.0), (3.0, 6.0), (10.0, 6.0)):
        r[f"spike_x{f:g}_{h:g}h"] = (bill_spike, {"factor": f, "hours": h})
    r["spike_none_sigma0.2"] = (bill_spike, {"factor": 1.0})
    r["spike_5min_x4_1h"] = (bill_spike, {"factor": 4.0, "hours": 1.0, "period_min": 5.0, "days": 14.0})
    r["step_x1.5"] = (bill_step, {"factor": 1.5})
    r["step_x2"] = (bill_step, {"factor": 2.0})
    r["late_0_3h_x5"] = (bill_late, {"factor": 5.0})
    r["late_0_3h_none"] = (bill_late, {"factor": 1.0})
    r["daily_x4"] = (bill_daily, {"factor": 4.0})
    r["daily_none"] = (bill_daily, {"factor": 1.0})
    r["periodic_sine_5min"] = (bill_periodic, {"wave": "sine"})
    r["periodic_square_5min"] = (bill_periodic, {"wave": "square"})
    r["periodic_hourshape_5min"] = (bill_periodic, {"wave": "hourshape"})
    r["business_hours"] = (bill_business, {})
    r["weekly_rollup_hour"] = (bill_rollup, {})
    r["weekly_rollup_week_period"] = (bill_rollup, {"week_period": True})
    for sg in (0.5, 0.75, 1.0):
        r[f"lognormal_{sg:g}"] = (bill_lognormal, {"sigma": sg})
    r["month_start_once"] = (bill_month_start, {})
    r["newcomer_first_days"] = (bill_newcomer, {})
    r["llm_stream_x6_2h"] = (bill_llm_stream, {"factor": 6.0})
    r["llm_stream_none"] = (bill_llm_stream, {"factor": 1.0})
    r["skus_egress_x10"] = (bill_skus, {})
    r["zero_rows_and_credits"] = (bill_zero_and_credit, {})
    r["price_change_x2_rename"] = (bill_price, {"factor": 2.0})
    r["price_change_x1.5_same_name"] = (bill_price, {"factor": 1.5, "rename": False})
    for m in (10.0, 30.0, 60.0):
        r[f"crash_loop_{m:g}m"] = (crash_loop, {"every_min": m})
    for m in (30.0, 120.0, 360.0):
        r[f"rerun_loop_{m:g}m"] = (rerun_loop, {"every_min": m, "days": 3.0 if m > 120 else 2.0})
    r["healthy_nightly"] = (healthy_schedule, {"every_h": 24.0})
    r["healthy_hourly"] = (healthy_schedule, {"every_h": 1.0, "days": 3.0})
    r["drift_b1_10s"] = (drift_cadence, {"batch": 1, "every_s": 10.0})
    r["drift_b10_60s"] = (drift_cadence, {"batch": 10, "every_s": 60.0})
    r["drift_b200_15m"] = (drift_cadence, {"batch": 200, "every_s": 900.0, "hours": 48.0})
    r["drift_first_day"] = (drift_cadence, {"batch": 10, "every_s": 60.0, "hours": 12.0, "at_h": 6.0})
    r["nodrift_daily_cycle"] = (nodrift_cycle, {})
    r["nodrift_tails_const"] = (nodrift_tails, {})
    # round 2
    r["bill_daily_periods_none"] = (bill_daily_periods, {"factor": 1.0})
    r["bill_daily_periods_x3"] = (bill_daily_periods, {"factor": 3.0})
    r["bill_sparse_batch_none"] = (bill_sparse_batch, {"factor": 1.0})
    r["bill_sparse_batch_x10"] = (bill_sparse_batch, {"factor": 10.0})
    r["bill_spot_prices"] = (bill_spot_prices, {})
    r["drift_discrete_stable"] = (drift_discrete, {"shift": False})
    r["drift_discrete_shift"] = (drift_discrete, {"shift": True})
    r["drift_sentinel"] = (drift_sentinel, {})
    r["drift_weekend"] = (drift_weekend, {})
    r["loop_backoff"] = (loop_backoff, {})
    r["hpo_sweep"] = (hpo_sweep, {})
    r["idle_fractional"] = (idle_fractional, {})
    # round 3: NAME_clean is NAME's stream delivered cleanly (same seed)
    for gen in (gpu_dup_samples, gpu_spool_flush, gpu_clock_skew, gpu_null_fields, bill_redelivered,
                runs_cancelled_by_hand):
        r[gen.__name__] = (gen, {"bad": True})
        r[gen.__name__ + "_clean"] = (gen, {"bad": False})
    r["bill_per_request_none"] = (bill_per_request, {"factor": 1.0})
    r["bill_per_request_x8"] = (bill_per_request, {"factor": 8.0})
    r["bill_per_request_x8_clean"] = (bill_per_request, {"factor": 8.0, "per_request": False})
    r["obs_constant_feature"] = (obs_constant_feature, {})
    # round 4: scale and shape
    r["nodrift_many_features"] = (nodrift_many_features, {})
    r["drift_variable_batches"] = (drift_variable_batches, {})
    r["drift_feature_churn"] = (drift_feature_churn, {})
    r["bill_offset_periods_none"] = (bill_offset_periods, {"factor": 1.0})
    r["bill_offset_periods_x5"] = (bill_offset_periods, {"factor": 5.0})
    r["bill_many_workloads"] = (bill_many_workloads, {})
    r["gpu_preempted"] = (gpu_preempted, {})
    r["gpu_util_stuck_no_sm"] = (gpu_util_stuck, {"sm": None})
    r["gpu_util_stuck_sm"] = (gpu_util_stuck, {"sm": 0.3})
    r["loop_no_data_version"] = (loop_no_data_version, {})
    # round 5: more shape assumptions
    r["gpu_independent_jobs"] = (gpu_independent_jobs, {})
    r["endpoint_sporadic"] = (endpoint_sporadic, {})
    r["bill_weekly_periods_none"] = (bill_weekly_periods, {"factor": 1.0})
    r["bill_weekly_periods_x4"] = (bill_weekly_periods, {"factor": 4.0})
    r["bill_missing_days_none"] = (bill_missing_days, {"factor": 1.0})
    r["bill_missing_days_x5"] = (bill_missing_days, {"factor": 5.0})
    r["bill_step_price_x2"] = (bill_step_price, {"factor": 2.0})
    r["drift_slow_trend"] = (drift_slow_trend, {})
    r["loop_two_teams"] = (loop_two_teams, {})
    r["gpu_jitter_30s"] = (gpu_jitter_30s, {})
    # round 6
    r["gpu_mig_slices"] = (gpu_mig_slices, {})
    r["gpu_model_loading"] = (gpu_model_loading, {})
    r["gpu_eval_pauses"] = (gpu_eval_pauses, {"straggler": False})
    r["gpu_eval_pauses_straggler"] = (gpu_eval_pauses, {"straggler": True})
    r["bill_monthly_fee"] = (bill_monthly_fee, {"factor": 1.0})
    r["bill_monthly_fee_x5"] = (bill_monthly_fee, {"factor": 5.0})
    r["bill_credits_none"] = (bill_credits, {"factor": 1.0})
    r["bill_credits_x4"] = (bill_credits, {"factor": 4.0})
    r["bill_new_series_none"] = (bill_new_series, {"factor": 1.0})
    r["bill_new_series_x5"] = (bill_new_series, {"factor": 5.0})
    r["drift_low_traffic_none"] = (drift_low_traffic, {"shift_sd": 0.0})
    r["drift_low_traffic_shift"] = (drift_low_traffic, {"shift_sd": 1.5})
    r["loop_stale_data_cron"] = (loop_stale_data_cron, {"stale": True})
    r["loop_stale_data_cron_control"] = (loop_stale_data_cron, {"stale": False})
    # round 7
    r["gpu_health_spikes"] = (gpu_health_spikes, {})
    r["gpu_collector_restart"] = (gpu_collector_restart, {})
    r["bill_daily_dump_hourly_none"] = (bill_daily_dump_hourly, {"factor": 1.0})
    r["bill_daily_dump_hourly_x4"] = (bill_daily_dump_hourly, {"factor": 4.0})
    r["bill_cents"] = (bill_cents, {})
    r["loop_k8s_backoff"] = (loop_k8s_backoff, {"loop": True})
    r["loop_k8s_backoff_control"] = (loop_k8s_backoff, {"loop": False})
    r["drift_missing_features_none"] = (drift_missing_features, {"shift_sd": 0.0})
    r["drift_missing_features_shift"] = (drift_missing_features, {"shift_sd": 1.5})
    r["drift_skewed_batches_none"] = (drift_skewed_batches, {"var_x": 1.0})
    r["drift_skewed_batches_var"] = (drift_skewed_batches, {"var_x": 2.5})
    # round 8
    r["gpu_multi_node_job"] = (gpu_multi_node_job, {})
    r["bill_resent_rows_none"] = (bill_resent_rows, {"factor": 1.0})
    r["bill_resent_rows_x4"] = (bill_resent_rows, {"factor": 4.0})
    r["bill_offset_days_none"] = (bill_offset_days, {"factor": 1.0})
    r["bill_offset_days_x3"] = (bill_offset_days, {"factor": 3.0})
    r["bill_sparse_hours_none"] = (bill_sparse_hours, {"factor": 1.0})
    r["bill_sparse_hours_x5"] = (bill_sparse_hours, {"factor": 5.0})
    r["bill_many_skus_new"] = (bill_many_skus, {"spike": False})
    r["bill_many_skus_x20"] = (bill_many_skus, {"spike": True})
    r["loop_drift_retrains"] = (loop_drift_retrains, {})
    r["obs_bad_values"] = (obs_bad_values, {})
    # round 9
    r["gpu_hourly_batch_inference"] = (gpu_hourly_batch_inference, {"stop": False})
    r["gpu_hourly_batch_inference_stop"] = (gpu_hourly_batch_inference, {"stop": True})
    r["gpu_bursty_endpoint"] = (gpu_bursty_endpoint, {"stop": False})
    r["gpu_bursty_endpoint_stop"] = (gpu_bursty_endpoint, {"stop": True})
    r["bill_month_end"] = (bill_month_end, {"factor": 1.0})
    r["bill_month_end_x5_mid"] = (bill_month_end, {"factor": 5.0})
    r["bill_weekdays_only"] = (bill_weekdays_only, {"factor": 1.0})
    r["bill_weekdays_only_x3"] = (bill_weekdays_only, {"factor": 3.0})
    r["loop_flaky_nightly"] = (loop_flaky_nightly, {})
    r["obs_redelivered_batches"] = (obs_redelivered_batches, {"shift_sd": 0.0})
    r["obs_redelivered_batches_shift"] = (obs_redelivered_batches, {"shift_sd": 1.0})
    r["bill_one_off_purchase"] = (bill_one_off_purchase, {"again": False})
    r["bill_one_off_purchase_again"] = (bill_one_off_purchase, {"again": True})
    # round 10
    r["gpu_dataloader_stalls"] = (gpu_dataloader_stalls, {"hang": False})
    r["gpu_dataloader_stalls_hang"] = (gpu_dataloader_stalls, {"hang": True})
    r["gpu_long_checkpoints"] = (gpu_long_checkpoints, {"hang": False})
    r["gpu_long_checkpoints_hang"] = (gpu_long_checkpoints, {"hang": True})
    r["gpu_sample_dropouts"] = (gpu_sample_dropouts, {"idle": False})
    r["gpu_sample_dropouts_idle"] = (gpu_sample_dropouts, {"idle": True})
    r["gpu_node_reboot"] = (gpu_node_reboot, {"gone": False})
    r["gpu_node_reboot_pods_gone"] = (gpu_node_reboot, {"gone": True})
    r["loop_dev_iterating"] = (loop_dev_iterating, {"loop": False})
    r["loop_dev_iterating_control"] = (loop_dev_iterating, {"loop": True})
    r["loop_retry_then_success"] = (loop_retry_then_success, {})
    r["loop_streaming_retrain"] = (loop_streaming_retrain, {})
    # round 11
    r["bill_holiday_dip"] = (bill_holiday_dip, {"factor": 1.0})
    r["bill_holiday_dip_x3"] = (bill_holiday_dip, {"factor": 3.0})
    r["bill_dst_shift"] = (bill_dst_shift, {"factor": 1.0})
    r["bill_dst_shift_x3"] = (bill_dst_shift, {"factor": 3.0})
    r["bill_tiny_series"] = (bill_tiny_series, {})
    r["bill_compound_growth"] = (bill_compound_growth, {"factor": 1.0})
    r["bill_compound_growth_step_x2"] = (bill_compound_growth, {"factor": 2.0})
    r["drift_segment_mix"] = (drift_segment_mix, {"third": False})
    r["drift_segment_mix_third"] = (drift_segment_mix, {"third": True})
    r["drift_unit_change_ms"] = (drift_unit_change, {"change": "ms"})
    r["drift_unit_change_sentinel"] = (drift_unit_change, {"change": "sentinel"})
    r["drift_unit_change_control"] = (drift_unit_change, {"change": ""})
    r["drift_canary_rollout"] = (drift_canary_rollout, {})
    r["obs_out_of_order"] = (obs_out_of_order, {"shift_sd": 0.0})
    r["obs_out_of_order_shift"] = (obs_out_of_order, {"shift_sd": 1.0})
    # round 12
    r["bill_saving_lost"] = (bill_saving_lost, {"lost_day": 30.0})
    r["bill_saving_lost_day45"] = (bill_saving_lost, {"lost_day": 45.0, "weeks": 8})
    r["bill_saving_kept"] = (bill_saving_lost, {"lost_day": None})
    r["bill_sale_event"] = (bill_sale_event, {"promo": False})
    r["bill_sale_weekly_promo"] = (bill_sale_event, {"promo": True})
    r["gpu_memory_released_pod_kept"] = (gpu_memory_released_pod_kept, {"rolling": False})
    r["gpu_memory_released_rolling_restart"] = (gpu_memory_released_pod_kept, {"rolling": True})
    r["gpu_lb_alternating_replicas"] = (gpu_lb_alternating_replicas, {"dead": False})
    r["gpu_lb_alternating_replicas_dead"] = (gpu_lb_alternating_replicas, {"dead": True})
    r["drift_stuck_sensor"] = (drift_stuck_sensor, {"stuck": True})
    r["drift_stuck_sensor_control"] = (drift_stuck_sensor, {"stuck": False})
    r["loop_retry_storm_long"] = (loop_retry_storm_long, {"nightly": False})
    r["loop_retry_storm_nightly"] = (loop_retry_storm_long, {"nightly": True})
    if __name__ != "__main__":  # round 13 and on: modules of their own, which import this one (see the end)
        from bench import probe_round13_gpu, probe_round13_spend

        probe_round13_gpu.register(r)
        probe_round13_spend.register(r)
    return r


REGISTRY = _reg()


def _seed(seed: int, name: str) -> int:
    return (zlib.crc32(name.encode()) ^ (seed * 0x9E3779B1)) & 0xFFFFFFFF


def build(name: str, seed: int = 1, overrides: dict[str, Any] | None = None) -> Scenario:
    fn, kwargs = REGISTRY[name]
    params = dict(kwargs, **(overrides or {}))
    sc = fn(_seed(seed, name.removesuffix("_clean")), **params)  # NAME_clean: NAME's stream, delivered cleanly
    sc.name, sc.generator, sc.params = name, fn.__name__, params
    sc.notes = (fn.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    if sc.ordered:
        sc.notes += " NOTE: events.jsonl is in delivery order, NOT sorted by ts."
    else:
        sc.events.sort(key=lambda e: e["ts"])
    return sc


# ===================================================================== scoring
def _wid(a: Event) -> str | None:
    w = a.get("workload")
    return w.get("id") if isinstance(w, dict) else None


def _key_evidence(a: Event) -> dict[str, Any]:
    raw = a.get("evidence")
    ev: dict[str, Any] = raw if isinstance(raw, dict) else {}
    out: dict[str, Any] = {}
    for k, v in ev.items():
        if isinstance(v, bool | int | float | str) or v is None:
            out[k] = round(v, 4) if isinstance(v, float) else v
        elif isinstance(v, list) and v and len(json.dumps(v)) < 200:
            out[k] = v
        if len(out) >= 16:
            break
    return out


def score(sc: Scenario, anomalies: list[Event]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    opens: dict[str, Event] = {}
    resolved: set[str] = set()
    reopen: dict[str, int] = {}
    for a in anomalies:
        aid = str(a.get("id"))
        if a.get("state") == "open":
            if aid in resolved:
                reopen[aid] = reopen.get(aid, 0) + 1
                resolved.discard(aid)
            opens.setdefault(aid, a)
        elif a.get("state") == "resolved":
            resolved.add(aid)
    t0 = min((e["ts"] for e in sc.events), default=0.0)
    base = {"scenario": sc.name, "generator": sc.generator, "params": sc.params}
    matched: dict[int, list[Event]] = {}
    findings: list[dict[str, Any]] = []
    for a in opens.values():
        fam = FAMILY.get(str(a.get("kind")))
        det = float(a.get("detected_at") or 0)
        hit = None
        for i, t in enumerate(sc.truth):
            same = (t["resource"] is not None and a.get("resource") == t["resource"]) or \
                   (t["workload"] is not None and _wid(a) == t["workload"] and fam in BY_WORKLOAD)
            by = t.get("detect_by", max(t["end"], t["start"] + GRACE))
            if t["family"] == fam and same and t["start"] - 60 <= det <= by:
                hit = i
                break
        if hit is None:
            findings.append(dict(base, finding="false_open", kind=a.get("kind"), resource=a.get("resource"),
                                 workload=_wid(a), started_h=round((float(a.get("started_at") or 0) - t0) / HOUR, 3),
                                 detected_h=round((det - t0) / HOUR, 3), summary=str(a.get("summary", ""))[:160],
                                 evidence=_key_evidence(a), id=a.get("id")))
        else:
            matched.setdefault(hit, []).append(a)
    row: dict[str, Any] = {"truths": 0, "tp": 0, "fn": 0, "fp": 0, "dup": 0, "ambiguous_open": 0,
                           "reopen": sum(reopen.values()), "delays_min": []}
    for i, t in enumerate(sc.truth):
        got = matched.get(i, [])
        if t.get("ambiguous"):
            row["ambiguous_open"] += len(got)
            for a in got:
                findings.append(dict(base, finding="ambiguous_open", kind=a.get("kind"), resource=a.get("resource"),
                                     workload=_wid(a), detected_h=round((float(a["detected_at"]) - t0) / HOUR, 3),
                                     note=t.get("note", ""), evidence=_key_evidence(a)))
            continue
        row["truths"] += 1
        if not got:
            row["fn"] += 1
            findings.append(dict(base, finding="miss", family=t["family"], resource=t["resource"],
                                 workload=t["workload"], start_h=round((t["start"] - t0) / HOUR, 3),
                                 end_h=round((t["end"] - t0) / HOUR, 3)))
            continue
        row["tp"] += 1
        first = min(got, key=lambda a: float(a["detected_at"]))
        delay = float(first["detected_at"]) - t["start"]
        row["delays_min"].append(round(delay / MIN, 1))
        if len(got) > 1:
            row["dup"] += len(got) - 1
            findings.append(dict(base, finding="duplicate", family=t["family"], resource=t["resource"],
                                 ids=[a.get("id") for a in got], kinds=[a.get("kind") for a in got],
                                 detected_h=[round((float(a["detected_at"]) - t0) / HOUR, 3) for a in got]))
        if t.get("goal_s") is not None and delay > t["goal_s"]:
            findings.append(dict(base, finding="slow_open", kind=first.get("kind"), resource=first.get("resource"),
                                 delay_min=round(delay / MIN, 1), goal_min=round(t["goal_s"] / MIN, 1),
                                 evidence=_key_evidence(first)))
        w = last_waste(anomalies, got)
        if t.get("price") and t["family"] == "idle":
            row.setdefault("waste_err_pct", []).append(
                round(100 * (w - (t["end"] - t["start"]) / HOUR * t["price"]) / ((t["end"] - t["start"]) / HOUR
                                                                                 * t["price"]), 1))
        elif t["family"] == "idle":
            row.setdefault("waste_usd", []).append(round(w, 2))
        if t.get("excess_usd"):  # the truth's real excess (round 3): money counted once
            row.setdefault("excess_err_pct", []).append(round(100 * (w - t["excess_usd"]) / t["excess_usd"], 1))
    row["fp"] = sum(1 for f in findings if f["finding"] == "false_open")
    for aid, n in reopen.items():
        a = opens[aid]
        findings.append(dict(base, finding="reopen", kind=a.get("kind"), resource=a.get("resource"),
                             workload=_wid(a), id=aid, reopens=n))
    return row, findings


def last_waste(anomalies: list[Event], got: list[Event]) -> float:
    ids = {a.get("id") for a in got}
    best: dict[Any, float] = {}
    for a in anomalies:
        if a.get("id") in ids:
            best[a.get("id")] = float(a.get("waste_usd") or 0)
    return max(best.values(), default=0.0)


# ======================================================================= driver
def _default_cmd() -> str:
    exe = Path(sys.executable).parent / "spendwatch"
    return f"{exe} replay" if exe.exists() else f"{sys.executable} -m spendwatch.cli replay"


def write(sc: Scenario, d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    p = d / "events.jsonl"
    with p.open("w", encoding="utf-8") as f:
        for e in sc.events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")
    (d / "truth.json").write_text(json.dumps({"scenario": sc.name, "generator": sc.generator, "params": sc.params,
                                              "notes": sc.notes, "truth": sc.truth, "events": len(sc.events)},
                                             indent=1))
    return p


def run_one(name: str, out: Path, seed: int, cmd: str, overrides: dict[str, Any]) -> tuple[dict[str, Any], list[Any]]:
    sc = build(name, seed, overrides)
    d = out / name
    events = write(sc, d)
    anom = d / "anomalies.jsonl"
    t = time.time()
    p = subprocess.run([*shlex.split(cmd), str(events), "--out", str(anom)], capture_output=True, text=True)
    el = time.time() - t
    if p.returncode != 0 or not anom.exists():
        raise RuntimeError(f"{name}: replay rc={p.returncode}: {p.stderr[-800:]}")
    lines = [json.loads(x) for x in anom.read_text(encoding="utf-8").splitlines() if x.strip()]
    row, findings = score(sc, lines)
    bad = re.search(r"([\d,]+) bad lines?\b", p.stderr)  # replay's closing line: "N events, M bad lines (...)"
    row.update(scenario=name, events=len(sc.events), replay_s=round(el, 1),
               bad_lines=int(bad.group(1).replace(",", "")) if bad else 0)
    if sc.bad_lines is not None:
        row["expected_bad_lines"] = sc.bad_lines
        if row["bad_lines"] != sc.bad_lines:
            findings.append({"scenario": name, "generator": sc.generator, "params": sc.params,
                             "finding": "bad_line_count", "expected": sc.bad_lines, "reported": row["bad_lines"],
                             "stderr_tail": p.stderr[-300:]})
    return row, findings


def _parse_overrides(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for it in items:
        k, _, v = it.partition("=")
        try:
            out[k] = json.loads(v)
        except ValueError:
            out[k] = v
    return out


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'scenario':30} {'events':>7} {'truth':>5} {'tp':>3} {'fn':>3} {'fp':>3} {'dup':>3} {'reop':>4} " \
           f"{'amb':>3} {'delays (min)':>16} {'s':>5}"
    lines = [head]
    for r in rows:
        d = ",".join(f"{x:g}" for x in r["delays_min"][:4]) or "-"
        lines.append(f"{r['scenario']:30} {r['events']:7d} {r['truths']:5d} {r['tp']:3d} {r['fn']:3d} {r['fp']:3d} "
                     f"{r['dup']:3d} {r['reopen']:4d} {r['ambiguous_open']:3d} {d:>16} {r['replay_s']:5.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.probe_scenarios", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the scenarios with their generator and parameters")
    run = sub.add_parser("run", help="generate, replay and score scenarios")
    run.add_argument("--out", required=True, type=Path)
    run.add_argument("--only", default="", help="comma-separated scenario names")
    run.add_argument("--param", action="append", default=[], help="K=V (JSON value) override for --only scenarios")
    run.add_argument("--seed", type=int, default=1)
    run.add_argument("--cmd", default=None, help="replay command (default: this venv's spendwatch replay)")
    run.add_argument("--json", action="store_true", help="print rows and findings as one JSON object")
    gen = sub.add_parser("gen", help="only write a scenario's events.jsonl and truth.json")
    gen.add_argument("name")
    gen.add_argument("--out", required=True, type=Path)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--param", action="append", default=[])
    a = ap.parse_args(argv)
    if a.cmd == "list":
        for n, (fn, kw) in REGISTRY.items():
            print(f"{n:30} {fn.__name__}({', '.join(f'{k}={v!r}' for k, v in kw.items())})")
        return 0
    if a.cmd == "gen":
        sc = build(a.name, a.seed, _parse_overrides(a.param))
        write(sc, a.out)
        print(f"{len(sc.events)} events, {len(sc.truth)} truths -> {a.out}")
        return 0
    names = [n for n in a.only.split(",") if n] or list(REGISTRY)
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        print(f"unknown scenario(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    overrides = _parse_overrides(a.param)
    if overrides and not a.only:
        print("--param needs --only", file=sys.stderr)
        return 2
    cmd = a.cmd or _default_cmd()
    rows, findings = [], []
    for n in names:
        row, f = run_one(n, a.out, a.seed, cmd, overrides)
        rows.append(row)
        findings += f
        if not a.json:
            print(_table([row]).splitlines()[1], flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "findings.json").write_text(json.dumps({"rows": rows, "findings": findings}, indent=1))
    if a.json:
        print(json.dumps({"rows": rows, "findings": findings}))
    else:
        print(_table(rows))
        print(f"\n{len(findings)} findings (details: {a.out / 'findings.json'})")
        for f in findings:
            what = f.get("kind") or f.get("family")
            print(f"  {f['finding']:14} {f['scenario']:28} {what} {f.get('resource')} "
                  f"{f.get('detected_h', f.get('start_h', ''))}")
    return 0


if __name__ == "__main__":
    # Run the package's copy of this module: its registry holds the rounds kept in modules of their own (they
    # import ``bench.probe_scenarios``, which under ``python -m`` is not this ``__main__`` copy).
    from bench.probe_scenarios import main as package_main

    sys.exit(package_main())
