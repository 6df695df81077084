"""Billing: hourly ``billing_delta`` rows per workload, with history before the telemetry window.

Rows land 4-15 min after the hour closes, starting ``billing_days`` (default 14) before the
telemetry window so cost baselines have history: the fleet's GPU-metered workloads, LLM token
spend (an input and an output row per period), a managed endpoint with daily and weekly cycles
and a legitimate +40 % ramp, a heavy-tailed (lognormal) analytics workload and a large
pre-training pool. Injections: ``cost_spike`` (token spend x6 for 3 h) and ``level_shift``
(the pre-training pool's spend x1.8 for good).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from collectors.simulate.config import DAY, HOUR
from collectors.simulate.fleet import PRICE, TRAINING_GPU_USD, workload
from collectors.simulate.waste import ramp as launch_ramp

if TYPE_CHECKING:
    from collectors.simulate.builder import Builder


def add_billing(sb: Builder) -> None:
    cfg, r = sb.cfg, sb.r
    t0 = sb.S - round(cfg.billing_days * 24) * HOUR
    hours = int((sb.E - t0) // HOUR)
    llm = workload("support/agent-assist", "inference", "support", model="claude-sonnet-4")
    pretrain = workload("research/moe-pretrain", "training", "research", cost_centre="cc-4410")
    burst_a = burst_b = shift = math.inf
    if "cost_spike" in cfg.inject:
        a, _ = sb.window(0.25, 0.5, 3, 3)
        burst_a = t0 + math.ceil((a - t0) / HOUR) * HOUR
        burst_b = min(sb.E, burst_a + 3 * HOUR)
        sb.add_truth("cost_spike", "apikey-support-prod-7", llm, burst_a, burst_b, factor=6.0)
    if "level_shift" in cfg.inject:
        a, _ = sb.window(0.2, 0.45, 1, 1)
        shift = t0 + math.ceil((a - t0) / HOUR) * HOUR
        sb.add_truth("level_shift", "zones/us-c1/a3-pool", pretrain, shift, sb.E, factor=1.8)
    ramp = sb.S - r.uniform(4, 7) * DAY

    def launch(t: float) -> float:  # over_budget: a launch ramps team product's LLM spend up
        return launch_ramp(t, sb.S)

    def gentle() -> float:
        return max(0.6, r.gauss(1, 0.06))

    def flat() -> float:
        return max(0.8, r.gauss(1, 0.03))

    Spec = tuple[dict[str, Any], float, float, float, float, Callable[[], float], Callable[[float], float],
                 dict[str, Any], str | None, float, str]
    specs: list[Spec] = [
        # workload, $/h weekday mean, weekend factor, daily amplitude, peak hour UTC, noise,
        # multiplier(t), fixed fields, sku (None = token rows), unit price, unit
        (llm, 38.0, 0.45, 0.55, 16, gentle, lambda t: 6.0 if burst_a <= t < burst_b else 1.0,
         {"source": "llm_usage", "service": "Anthropic API", "resource_id": "apikey-support-prod-7",
          "model": "claude-sonnet-4"}, None, 0.0, ""),
        (workload("product/search-answers", "inference", "product", model="gpt-4.1"), 12.0, 0.6, 0.4, 15,
         gentle, launch if "over_budget" in cfg.inject else (lambda t: 1.0),
         {"source": "llm_usage", "service": "OpenAI API", "resource_id": "proj-search-answers", "model": "gpt-4.1"},
         None, 0.0, ""),
        (workload("serving/search-embed", "inference", "search"), 14.0, 0.8, 0.3, 14, gentle,
         lambda t: 1 + 0.4 * min(1.0, max(0.0, (t - ramp) / (7 * DAY))),  # legitimate growth: +40 %/week
         {"source": "focus", "service": "Amazon SageMaker", "resource_id": "endpoint/search-embed",
          "model": "e5-large-v2"}, "ml.g5.2xlarge-hosting", 1.515, "Hrs"),
        (pretrain, 98.0, 0.93, 0.08, 11, flat, lambda t: 1.8 if t >= shift else 1.0,
         {"source": "gpu_meter", "service": "Compute Engine", "resource_id": "zones/us-c1/a3-pool"},
         "a3-highgpu-8g", TRAINING_GPU_USD, "GPU-hours"),
        (workload("data/adhoc-spark-gpu", "batch", "data"), 20.0, 0.6, 0.25, 13,
         lambda: r.lognormvariate(-0.125, 0.5), lambda t: 1.0,  # heavy-tailed, noisy but normal
         {"source": "custom", "service": "Databricks", "resource_id": "dbx-ws-analytics"},
         "jobs-compute-photon", 0.55, "DBU"),
    ]
    # the simulated fleet itself: GPUs billed by allocation, per workload holding them at the start
    fleet: dict[int, tuple[float, float]] = {}
    for s in sb.streams:
        if s.role == "waste-endpoint":
            continue  # billed with the structural-waste injections (collectors.simulate.waste)
        w = int(s.wl[0])
        if w >= 0:
            usd, gpus = fleet.get(w, (0.0, 0.0))
            fleet[w] = (usd + s.price, gpus + (s.price / PRICE[s.model]))  # a MIG slice: its share
    for wi, (per_hour, gpus) in sorted(fleet.items()):
        wl = sb.workloads[wi]
        assert wl is not None
        if wl["id"] == pretrain["id"]:
            continue  # billed through its pool above
        specs.append((wl, per_hour, 1.0, 0.0, 12, flat, lambda t: 1.0,
                      {"source": "gpu_meter", "service": "Kubernetes GPU pool",
                       "resource_id": f"gpu-pool/{wl['id'].split('/')[0]}"}, "gpu-hour", per_hour / gpus,
                      "GPU-hours"))
    events: list[dict[str, Any]] = []
    for owner, base, weekend, amp, peak, noise, mult, fields, sku, unit_price, unit in specs:
        for h in range(hours):
            t = t0 + h * HOUR
            g = time.gmtime(t)
            cost = (base * (weekend if g.tm_wday >= 5 else 1.0) * mult(t) * noise()
                    * (1 + amp * math.cos(2 * math.pi * (g.tm_hour + 0.5 - peak) / 24)))
            if sku is None:  # token spend: an input row and an output row for the same period
                share = r.uniform(0.35, 0.45)
                parts: list[dict[str, Any]] = [{"sku": "input-tokens", "cost_usd": cost * share,
                          "usage_quantity": round(cost * share / 3e-6), "usage_unit": "tokens"},
                         {"sku": "output-tokens", "cost_usd": cost * (1 - share),
                          "usage_quantity": round(cost * (1 - share) / 15e-6), "usage_unit": "tokens"}]
            else:
                parts = [{"sku": sku, "cost_usd": cost, "usage_quantity": round(cost / unit_price, 3),
                          "usage_unit": unit}]
            ts = t + HOUR + r.uniform(240, 900)  # exports land 4-15 min after the hour closes
            for p in parts:
                p["cost_usd"] = round(p["cost_usd"], 4)
                events.append({"type": "billing_delta", "ts": round(ts, 3), "period_start": t,
                               "period_end": t + HOUR, "workload": owner, **fields, **p})
                ts += r.uniform(0.5, 3)
    sb.emit(events)
