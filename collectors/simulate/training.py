"""Training runs: healthy nightly retrains, a long fine-tune, and the retrain injections.

Two healthy nightly retrains on fresh data with an improving metric (over the whole billing
history) and a one-off 64-GPU fine-tune posting hourly progress. Injections: ``retrain_loop``
(a crash loop retried every ~25 min for 6 h, and hourly scheduled retrains on an unchanged
``data_version`` with a flat metric) and ``needless_retrain`` (a model retrained every 2 h on
new data with a flat metric while its inputs stay stable).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from collectors.simulate.config import DAY, HOUR, MIN
from collectors.simulate.fleet import TRAINING_GPU_USD, workload

if TYPE_CHECKING:
    from collectors.simulate.builder import Builder


def job(sb: Builder, out: list[dict[str, Any]], model: str, w: dict[str, Any], start: float, dur: float, status: str,
        metric: dict[str, Any] | None, data: str, code: str, trigger: str, n_gpu: int,
        progress: bool = False) -> None:
    """A training run's events: started, hourly progress when asked, then its end (if in the stream)."""
    rid = f"{model}-{sb.r.getrandbits(40):010x}"
    end_of_stream = sb.E

    def ev(ts: float, st: str, done: bool) -> dict[str, Any]:
        gh = n_gpu * (ts - start) / HOUR
        return {"type": "training_run", "ts": round(ts, 3), "run_id": rid, "model_id": model, "workload": w,
                "status": st, "started_at": round(start, 3), "ended_at": round(ts, 3) if done else None,
                "gpu_hours": round(gh, 3), "cost_usd": round(gh * TRAINING_GPU_USD, 2),
                "metric": metric if done else None, "data_version": data, "code_version": code,
                "trigger": trigger}
    if start >= end_of_stream:
        return
    out.append(ev(start, "started", False))
    k = start + HOUR
    while progress and k < min(start + dur, end_of_stream):  # progress: same run, still running
        out.append(ev(k, "started", False))
        k += HOUR
    if start + dur <= end_of_stream:
        out.append(ev(start + dur, status, True))


def add_training(sb: Builder) -> None:
    cfg, r, out = sb.cfg, sb.r, []  # type: ignore[var-annotated]
    t0 = sb.S - round(cfg.billing_days * 24) * HOUR
    days = int((sb.E - t0) // DAY) + 1
    ltr = workload("search/ltr-nightly", "training", "search")
    fraud = workload("risk/fraud-nightly", "training", "risk")
    for d in range(days):  # healthy nightly retrains on fresh data, metric improving
        day = t0 - (t0 % DAY) + d * DAY
        start = day + 1.5 * HOUR + r.uniform(0, 600)
        if t0 <= start:
            job(sb, out, "ltr-ranker", ltr, start, r.uniform(1.6, 2.3) * HOUR, "succeeded",
                     {"name": "val_logloss", "value": round(0.412 - 0.0011 * d + r.gauss(0, 3e-4), 5),
                      "higher_is_better": False},
                     "clicks-" + time.strftime("%Y%m%d", time.gmtime(start)), "ltr@2b7d91e", "schedule", 8)
        start = day + 3 * HOUR + r.uniform(0, 900)
        if t0 <= start:
            job(sb, out, "fraud-xgb", fraud, start, r.uniform(0.5, 0.9) * HOUR, "succeeded",
                     {"name": "auc", "value": round(0.90 + 0.0004 * d + r.gauss(0, 2e-4), 5),
                      "higher_is_better": True},
                     "txns-" + time.strftime("%Y%m%d", time.gmtime(start)), "fraud@5d0c2aa", "schedule", 1)
    sft = workload("ml-platform/sft-70b", "training", "ml-platform")
    start = sb.S - r.uniform(2, 6) * HOUR
    job(sb, out, "llama-70b-support-sft", sft, start, r.uniform(10.5, 12) * HOUR, "succeeded",
             {"name": "eval_loss", "value": round(r.uniform(1.1, 1.3), 4), "higher_is_better": False},
             "support-mix-v4", "sft@e03a7f4", "manual", 64, progress=True)
    if "retrain_loop" in cfg.inject:
        w = workload("speech/conformer-train", "training", "speech")
        a, b = sb.window(0.15, 0.35, 6, 6)
        t, i = a, 0
        while t < b:  # crash loop: dies a few minutes in, retried ~25 min later
            job(sb, out, "asr-conformer-xl", w, t, r.uniform(2.5, 7) * MIN, "failed", None,
                     "librispeech-mix-v3", "asr@9c1e0b2", "manual" if i == 0 else "retry", 16)
            t, i = t + r.uniform(22, 28) * MIN, i + 1
        sb.add_truth("retrain_loop", "asr-conformer-xl", w, a, t, runs=i)
        w = workload("growth/churn-retrain", "training", "growth")
        a, b = sb.window(0.05, 0.2, 10, 10)
        runs = max(3, int((b - a) // HOUR))
        for k in range(runs):  # cron fires hourly on a frozen snapshot: nothing changes
            job(sb, out, "churn-gbm", w, a + k * HOUR + r.uniform(0, 90), r.uniform(14, 19) * MIN, "succeeded",
                     {"name": "auc", "value": round(0.8412 + r.uniform(-7e-4, 7e-4), 4),
                      "higher_is_better": True},
                     "warehouse-snap-2026-03-18", "churn@4f2a9c1", "schedule", 1)
        sb.add_truth("retrain_loop", "churn-gbm", w, a, a + runs * HOUR, runs=runs)
    if "needless_retrain" in cfg.inject:
        w = workload("product/intent-retrain", "training", "product")
        every = 2 * HOUR if cfg.hours >= 8 else max(0.5, cfg.hours / 5) * HOUR
        starts = [sb.S + k * every + r.uniform(0, 120) for k in range(1, int(cfg.hours * HOUR // every))]
        for st in starts:  # fresh data every time, inputs unchanged, metric flat
            job(sb, out, "intent-clf-v5", w, st, r.uniform(22, 34) * MIN, "succeeded",
                     {"name": "accuracy", "value": round(0.9132 + r.uniform(-8e-4, 8e-4), 4),
                      "higher_is_better": True},
                     "tickets-" + time.strftime("%m%d-%H%M", time.gmtime(st)), "intent@71c0d5a", "schedule", 2)
        if starts:
            sb.add_truth("needless_retrain", "intent-clf-v5", w, starts[0], sb.E, runs=len(starts))
    sb.emit(sorted(out, key=lambda e: e["ts"]))
