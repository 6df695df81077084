"""Training runs: retrain loops hidden among sweeps, long fine-tunes, nightly retrains, retries and ad-hoc runs.

Where the shapes come from (one line each):

- Failed jobs are common and are often resubmitted as they were (Philly: about a third of jobs end unsuccessful,
  failures repeat across retries; Jeon et al., ATC'19); crash loops fail minutes in and are retried every 10-40 min.
- Job durations log-normal (Helios, Hu et al. SC'21; Philly, ATC'19): sweep trials median ~45 min, fine-tunes of
  6-20 h on 8-64 GPUs posting progress hourly (the usual experiment-tracker heartbeat).
- Hyper-parameter sweeps as many overlapping trials of one model (Helios reports bursts of short trial jobs from
  one user); nightly retrains on a fresh data snapshot with a slowly improving metric (the usual daily MLOps loop).
- Cost: GPU-hours x $2.5-4.5 per GPU-hour (on-demand A100/H100 list prices).
"""

from __future__ import annotations

import time
from typing import Any

from collectors.simulate.realistic.common import DAY, HOUR, MIN, Book, Rng, Stream, Window, Workload, workload


def emit_run(stream: Stream, win: Window, r: Rng, model: str, wl: Workload, start: float, dur: float, status: str,
             metric: dict[str, Any] | None, data: str | None, code: str | None, trigger: str | None, n_gpu: int,
             price: float, progress: bool = False, run_id: str | None = None) -> str:
    """A run's ``started`` event, hourly progress (``started`` again, same run_id) if asked, and its end."""
    rid = run_id or f"{model}-{r.hexid(10)}"

    def ev(ts: float, st: str, done: bool) -> dict[str, Any]:
        gh = n_gpu * (ts - start) / HOUR
        return {"type": "training_run", "ts": round(ts, 3), "run_id": rid, "model_id": model, "workload": wl,
                "status": st, "started_at": round(start, 3), "ended_at": round(ts, 3) if done else None,
                "gpu_hours": round(gh, 3), "cost_usd": round(gh * price, 2), "metric": metric if done else None,
                "data_version": data, "code_version": code, "trigger": trigger}
    if start < win.end:
        stream.emit(ev(start, "started", False))
    k = start + HOUR
    while progress and k < start + dur and k < win.end:
        stream.emit(ev(k, "started", False))
        k += HOUR
    if start + dur < win.end:
        stream.emit(ev(start + dur, status, True))
    return rid


def day_tag(t: float) -> str:
    return time.strftime("%Y%m%d", time.gmtime(t))


class TrainingBuilder:
    def __init__(self, seed: int, win: Window, book: Book, stream: Stream) -> None:
        self.r = Rng(seed, "training")
        self.win, self.book, self.stream = win, book, stream

    def at(self, length: float, lo_frac: float = 0.1) -> float:
        w = self.win
        a = w.gpu_start + max(lo_frac * w.days * DAY, 2 * HOUR)
        return self.r.u(a, max(a, w.end - length - HOUR))

    def build(self) -> None:
        r, w, st = self.r, self.win, self.stream
        price = r.u(2.5, 4.5)

        # --- crash loops: fail a few minutes in, retried every 10-40 min
        for name, team in (("asr-conformer-xl", "speech"), ("vit-huge-pretrain", "vision"))[: 1 + int(r.p(0.5))]:
            wl = workload(f"{team}/{name}-train", "training", team)
            length = r.u(2, 8) * HOUR
            cadence = r.u(10, 40) * MIN
            s = t = self.at(length)
            n = 0
            code, data = f"{name.split('-')[0]}@{r.hexid(7)}", f"{name}-data-v{r.i(2, 9)}"
            gpus = r.pick((4, 8, 16, 32))
            end = t
            while t < s + length:
                fail = r.u(1, min(8.0, 0.6 * cadence / MIN)) * MIN
                emit_run(st, w, r, name, wl, t, fail, "failed", None, data, code,
                         r.pick(("manual", "schedule")) if n == 0 else "retry", gpus, price)
                end = t + fail
                t += cadence * r.u(0.85, 1.15)
                n += 1
            self.book.add_truth("loop", "crash_loop", name, wl["id"], s, end, cadence / MIN, rounds=n)

        # --- no-gain loops: scheduled retrains on an unchanged snapshot, flat metric, at two cadences
        for name, team, (clo, chi), (nlo, nhi) in (("churn-gbm", "growth", (30, 75), (8, 16)),
                                                   ("demand-forecast", "ops", (90, 180), (5, 9))):
            wl = workload(f"{team}/{name}-retrain", "training", team)
            cadence = r.u(clo, chi) * MIN
            rounds = r.i(nlo, nhi)
            s = self.at(rounds * cadence)
            v0 = r.u(0.7, 0.9)
            gpus = r.pick((1, 2, 4, 8))
            snap = f"warehouse-snap-{day_tag(s - r.i(3, 20) * DAY)}"
            code = f"{name}@{r.hexid(7)}"
            end = s
            for k in range(rounds):
                t = s + k * cadence + r.u(0, 90)
                dur = cadence * r.u(0.2, 0.5)
                emit_run(st, w, r, name, wl, t, dur, "succeeded",
                         {"name": "auc", "value": round(v0 + r.u(-5e-4, 5e-4), 5), "higher_is_better": True},
                         snap, code, "schedule", gpus, price)
                end = t + dur
            self.book.add_truth("loop", "no_gain_loop", name, wl["id"], s, end, cadence / MIN, rounds=rounds,
                                gpus=gpus)

        # --- benign: sweeps (many overlapping trials, some OOM at once)
        for k in range(2):
            name = ("llm-reward-sweep", "ctr-lr-sweep")[k]
            wl = workload(f"ml-research/{name}", "training", "ml-research")
            s = self.at(6 * HOUR)
            trials = r.i(16, 40)
            code = f"{name}@{r.hexid(7)}"
            for _ in range(trials):
                t = s + r.u(0, r.u(20, 90)) * MIN
                if r.p(0.1):
                    emit_run(st, w, r, name, wl, t, r.u(1, 5) * MIN, "failed", None, "sweep-data-v1", code, "manual",
                             1, price)
                else:
                    emit_run(st, w, r, name, wl, t, r.lognorm(45 * MIN, 0.6, 10 * MIN, 4 * HOUR), "succeeded",
                             {"name": "val_loss", "value": round(r.u(0.3, 0.6), 4), "higher_is_better": False},
                             "sweep-data-v1", code, "manual", r.pick((1, 2)), price)
            self.book.add_benign("hparam_sweep", name, wl["id"], trials=trials)

        # --- benign: a long fine-tune posting hourly progress
        wl = workload("ml-platform/sft-70b", "training", "ml-platform")
        dur = r.u(6, 20) * HOUR
        emit_run(st, w, r, "llama-70b-support-sft", wl, self.at(dur, 0.05), dur, "succeeded",
                 {"name": "eval_loss", "value": round(r.u(1.0, 1.4), 4), "higher_is_better": False},
                 "support-mix-v5", f"sft@{r.hexid(7)}", "manual", r.pick((8, 16, 32, 64)), price, progress=True)
        self.book.add_benign("long_finetune_progress", "llama-70b-support-sft", wl["id"])

        # --- benign: nightly retrain on fresh data, metric improving, over the whole billing span
        wl = workload("search/ltr-nightly", "training", "search")
        hour = r.u(0, 5)
        gain = r.u(0.0005, 0.002)
        d0 = int(w.bill_start // DAY) + 1
        for d in range(d0, int(w.end // DAY) + 1):
            s = d * DAY + hour * HOUR + r.u(0, 600)
            if s >= w.end:
                break
            k = d - d0
            emit_run(st, w, r, "ltr-ranker", wl, s, r.u(1.5, 2.5) * HOUR, "succeeded",
                     {"name": "val_logloss", "value": round(0.41 - gain * k + r.u(-0.25, 0.25) * gain, 6),
                      "higher_is_better": False}, f"clicks-{day_tag(s)}", "ltr@2b7d91e", "schedule", 8, price)
        self.book.add_benign("nightly_retrain_improving", "ltr-ranker", wl["id"])

        # --- benign: a daily job that fails once and succeeds on its single retry
        wl = workload("risk/fraud-daily", "training", "risk")
        hour = r.u(6, 12)
        fail_day = int((self.at(0, 0.3)) // DAY)
        d0 = int(w.bill_start // DAY) + 1
        for d in range(d0, int(w.end // DAY) + 1):
            s = d * DAY + hour * HOUR + r.u(0, 900)
            if s >= w.end:
                break
            metric = {"name": "pr_auc", "value": round(0.62 + 0.0008 * (d - d0) + r.u(-3e-4, 3e-4), 5),
                      "higher_is_better": True}
            if d == fail_day:
                f = r.u(5, 20) * MIN
                emit_run(st, w, r, "fraud-gbm", wl, s, f, "failed", None, f"txns-{day_tag(s)}", "fraud@91ab3c0",
                         "schedule", 2, price)
                s += f + r.u(10, 30) * MIN
                emit_run(st, w, r, "fraud-gbm", wl, s, r.u(40, 70) * MIN, "succeeded", metric, f"txns-{day_tag(s)}",
                         "fraud@91ab3c0", "retry", 2, price)
            else:
                emit_run(st, w, r, "fraud-gbm", wl, s, r.u(40, 70) * MIN, "succeeded", metric, f"txns-{day_tag(s)}",
                         "fraud@91ab3c0", "schedule", 2, price)
        self.book.add_benign("single_failure_retry", "fraud-gbm", wl["id"])

        # --- benign: somebody debugging a new model by hand (new code each time), then it works
        wl = workload("nlp/prototype-ner", "training", "nlp")
        t = self.at(8 * HOUR)
        for _ in range(r.i(3, 5)):
            f = r.u(1, 10) * MIN
            emit_run(st, w, r, "ner-prototype", wl, t, f, "failed", None, "ner-data-v1", f"ner@{r.hexid(7)}", "manual",
                     1, price)
            t += f + r.u(20, 90) * MIN
        emit_run(st, w, r, "ner-prototype", wl, t, r.u(1, 3) * HOUR, "succeeded",
                 {"name": "f1", "value": round(r.u(0.7, 0.85), 4), "higher_is_better": True}, "ner-data-v1",
                 f"ner@{r.hexid(7)}", "manual", 1, price)
        self.book.add_benign("manual_debugging", "ner-prototype", wl["id"])

        # --- benign: ad-hoc runs of other models, a third of them unsuccessful (Philly)
        for name in ("seg-unet", "tts-fastspeech", "gnn-link", "clip-ft")[: r.i(2, 4)]:
            team = r.pick(("vision", "speech", "recsys", "research"))
            wl = workload(f"{team}/{name}", "training", team)
            t = w.gpu_start + r.u(0, 6) * HOUR
            while t < w.end:
                ok = r.p(0.67)
                dur = r.lognorm(1.5 * HOUR, 1.0, 5 * MIN, 12 * HOUR) if ok else r.u(2, 30) * MIN
                emit_run(st, w, r, name, wl, t, dur, "succeeded" if ok else r.pick(("failed", "cancelled")),
                         {"name": "val_loss", "value": round(r.u(0.2, 0.8), 4), "higher_is_better": False} if ok
                         else None, f"{name}-data-v{r.i(1, 4)}", f"{name}@{r.hexid(7)}", "manual", r.pick((1, 2, 4, 8)),
                         price)
                t += dur + r.u(3, 16) * HOUR
            self.book.add_benign("adhoc_runs", name, wl["id"])


def build_training(seed: int, win: Window, book: Book, stream: Stream) -> None:
    TrainingBuilder(seed, win, book, stream).build()
