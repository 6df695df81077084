"""Model observations: served models' input features and predictions, with input drift hidden among daily cycles,
heavy tails and stable models; plus a model retrained on schedule although nothing drifted.

Observation streams start one day before the GPU telemetry window (two to four days in all), one batch of 20-50
values per feature every one or two minutes.

Where the shapes come from (one line each):

- Strong 24-hour cycles in served traffic and in features derived from it (Alibaba PAI inference load follows a
  daily pattern, Weng et al. NSDI'22); the cycle's amplitude here is 1.5-3 within-hour standard deviations.
- Heavy-tailed features as Student-t with 2.5-4 degrees of freedom (financial and ad-bid data are commonly modelled
  this way); amounts log-normal; counts Poisson; probabilities Beta.
- Drift kinds: mean shift of 1-3 std (abrupt or over hours), variance change, a missing-value sentinel (-1 or 0)
  whose share rises (e.g. an upstream join starts failing), a categorical feature whose mix changes; these are the
  covariate-shift cases of Rabanser et al., "Failing Loudly" (NeurIPS'19) and of Evidently / WhyLabs monitors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from collectors.simulate.realistic.common import DAY, HOUR, MIN, Book, Rng, Stream, Window, Workload, workload
from collectors.simulate.realistic.training import emit_run

Gen = Callable[[np.ndarray, int], np.ndarray]   # batch times (B,), values per batch -> (B, n) values


@dataclass
class Model:
    model_id: str
    wl: Workload
    features: dict[str, tuple[Gen, bool]]   # name -> (generator, integer-valued)
    every: float
    n: int


def ramp(t: np.ndarray, a: float, length: float) -> np.ndarray:
    """0 before ``a``, 1 after ``a + length`` (abrupt when ``length`` is 0)."""
    if length <= 0:
        return np.asarray((t >= a).astype(float))
    return np.asarray(np.clip((t - a) / length, 0, 1))


class ObsBuilder:
    def __init__(self, seed: int, win: Window, scale: float, book: Book, stream: Stream) -> None:
        self.r = Rng(seed, "observations")
        self.g = np.random.default_rng([seed, 41])
        self.win, self.scale, self.book, self.stream = win, scale, book, stream
        self.models: list[Model] = []

    def model(self, model_id: str, team: str, features: dict[str, tuple[Gen, bool]]) -> Model:
        r = self.r
        n = max(8, round(r.i(20, 50) * min(1.0, self.scale)))
        m = Model(model_id, workload(f"serving/{model_id}", "inference", team), features,
                  float(r.pick((60, 60, 120))), n)
        self.models.append(m)
        return m

    def onset(self) -> float:
        w = self.win
        return self.r.u(w.obs_start + 1.6 * DAY, w.end - 8 * HOUR)

    def normal(self, mu: float, sd: float) -> Gen:
        g = self.g
        return lambda t, n: g.normal(mu, sd, (len(t), n))

    def cyclic(self, mu: float, sd: float, amp: float, peak_h: float) -> Gen:
        g = self.g

        def f(t: np.ndarray, n: int) -> np.ndarray:
            m = mu + amp * sd * np.cos(2 * np.pi * ((t % DAY) / HOUR - peak_h) / 24)
            return np.asarray(m[:, None] + g.normal(0, sd, (len(t), n)))
        return f

    def student(self, loc: float, scale: float, dof: float) -> Gen:
        g = self.g
        return lambda t, n: loc + scale * g.standard_t(dof, (len(t), n))

    def build(self) -> None:
        r, g = self.r, self.g

        # --- must-catch drift: one model per kind
        k_std, ramp_len = r.u(1.0, 3.0), (0.0 if r.p(0.5) else r.u(1, 6) * HOUR)
        t_mean = self.onset()

        def income(t: np.ndarray, n: int) -> np.ndarray:
            mu = 68 + k_std * 14 * ramp(t, t_mean, ramp_len)
            return np.asarray(mu[:, None] + g.normal(0, 14, (len(t), n)))
        self.model("credit-limit-v3", "fintech", {
            "income_k": (income, False), "utilization": (lambda t, n: g.beta(2, 3, (len(t), n)), False),
            "open_lines": (lambda t, n: g.poisson(5, (len(t), n)), True),
            "pred_p_default": (lambda t, n: g.beta(2, 8, (len(t), n)), False)})
        self.book.add_truth("drift", "mean_shift", "credit-limit-v3", "serving/credit-limit-v3", t_mean, self.win.end,
                            k_std, feature="income_k", ramp_h=round(ramp_len / HOUR, 2))

        sd_ratio, t_var = r.u(2.0, 4.0), self.onset()

        def lag(t: np.ndarray, n: int) -> np.ndarray:
            sd = np.where(t >= t_var, 20 * sd_ratio, 20.0)
            return np.asarray(90 + sd[:, None] * g.standard_normal((len(t), n)))
        self.model("eta-gbm-v12", "logistics", {
            "courier_lag_s": (lag, False), "distance_km": (lambda t, n: g.lognormal(1.4, 0.5, (len(t), n)), False),
            "pred_eta_min": (lambda t, n: g.gamma(6, 4, (len(t), n)), False)})
        self.book.add_truth("drift", "variance_change", "eta-gbm-v12", "serving/eta-gbm-v12", t_var, self.win.end,
                            sd_ratio, feature="courier_lag_s")

        sentinel, share1 = float(r.pick((-1, 0))), r.u(0.2, 0.35)
        t_sen, sen_ramp = self.onset(), (0.0 if r.p(0.5) else r.u(0.5, 3) * HOUR)
        peak = r.u(0, 24)

        def days_since(t: np.ndarray, n: int) -> np.ndarray:
            share = 0.02 + (share1 - 0.02) * ramp(t, t_sen, sen_ramp)
            v = g.gamma(2, 6, (len(t), n))
            miss = g.random((len(t), n)) < share[:, None]
            return np.asarray(np.where(miss, sentinel, np.round(v, 1)))
        self.model("churn-serving-v4", "growth", {
            "days_since_last_order": (days_since, False),
            "active_minutes": (self.cyclic(42, 9, r.u(1.5, 3.0), peak), False),
            "pred_p_churn": (lambda t, n: g.beta(2, 6, (len(t), n)), False)})
        self.book.add_truth("drift", "sentinel_share", "churn-serving-v4", "serving/churn-serving-v4", t_sen,
                            self.win.end, share1, feature="days_since_last_order", sentinel=sentinel,
                            baseline_share=0.02)
        self.book.add_benign("daily_cycle", "churn-serving-v4", "serving/churn-serving-v4", feature="active_minutes")

        cats = r.i(3, 6)
        p = g.dirichlet(np.full(cats, 3.0))
        q = p.copy()
        while 0.5 * float(np.abs(q - p).sum()) < 0.25:
            q = g.dirichlet(np.full(cats, 1.0))
        t_cat = self.onset()

        def channel(t: np.ndarray, n: int) -> np.ndarray:
            out = np.empty((len(t), n))
            before = t < t_cat
            out[before] = g.choice(cats, (int(before.sum()), n), p=p)
            out[~before] = g.choice(cats, (int((~before).sum()), n), p=q)
            return out
        self.model("fraud-txn-v7", "risk", {
            "channel": (channel, True), "amount_usd": (lambda t, n: g.lognormal(3.2, 1.1, (len(t), n)), False),
            "pred_p_fraud": (lambda t, n: g.beta(1, 30, (len(t), n)), False)})
        self.book.add_truth("drift", "categorical_mix", "fraud-txn-v7", "serving/fraud-txn-v7", t_cat, self.win.end,
                            0.5 * float(np.abs(q - p).sum()), feature="channel", categories=cats)

        # --- benign: strong daily cycles, heavy tails, stable models
        peak = r.u(0, 24)
        amp = r.u(1.5, 3.0)
        cyc = self.cyclic(120, 25, amp, peak)
        self.model("demand-hourly-v2", "ops", {
            "orders_last_5m": (lambda t, n: np.maximum(0, np.round(cyc(t, n))), True),
            "basket_value": (self.cyclic(38, 6, r.u(1.5, 2.5), peak + r.u(-2, 2)), False),
            "pred_orders_next_h": (self.cyclic(1450, 240, amp, peak + 1), False)})
        self.book.add_benign("daily_cycle", "demand-hourly-v2", "serving/demand-hourly-v2", amplitude_std=round(amp, 2))
        dof = r.u(2.5, 4.0)
        self.model("ads-ctr-dnn", "ads", {
            "bid_cpm": (self.student(2.1, 0.4, dof), False), "user_age_days": (self.student(400, 90, dof), False),
            "pred_p_click": (lambda t, n: g.beta(1.2, 60, (len(t), n)), False)})
        self.book.add_benign("heavy_tails", "ads-ctr-dnn", "serving/ads-ctr-dnn", dof=round(dof, 2))
        self.model("intent-clf-v6", "product", {
            "text_len": (lambda t, n: np.maximum(1, np.round(g.normal(48, 11, (len(t), n)))), True),
            "pred_confidence": (lambda t, n: g.beta(6, 2, (len(t), n)), False)})
        self.book.add_benign("stable_model", "intent-clf-v6", "serving/intent-clf-v6")
        self.model("search-qc-v3", "search", {
            "query_terms": (lambda t, n: g.poisson(3.2, (len(t), n)), True),
            "click_depth": (self.cyclic(2.4, 0.8, 0.3, r.u(0, 24)), False),
            "pred_relevance": (lambda t, n: g.beta(5, 3, (len(t), n)), False)})
        self.book.add_benign("stable_model", "search-qc-v3", "serving/search-qc-v3")
        self.book.add_benign("mild_daily_cycle", "search-qc-v3", "serving/search-qc-v3", feature="click_depth")

        # --- must-catch nodrift: stable inputs, retrained on schedule on fresh data, metric flat
        self.model("reco-twotower-v5", "recsys", {
            "user_tenure_d": (lambda t, n: g.lognormal(5.0, 0.8, (len(t), n)), False),
            "items_viewed_1h": (lambda t, n: g.poisson(7, (len(t), n)), True),
            "pred_score": (lambda t, n: g.beta(3, 3, (len(t), n)), False)})
        self.book.add_benign("stable_model", "reco-twotower-v5", "serving/reco-twotower-v5")
        w = self.win
        wl = workload("recsys/twotower-retrain", "training", "recsys")
        every = r.u(2, 4) * HOUR
        t = first = w.obs_start + r.u(1.0, 1.5) * DAY
        v0 = r.u(0.3, 0.4)
        rounds = 0
        while t < w.end - 10 * MIN:
            dur = r.u(20, 40) * MIN
            emit_run(self.stream, w, r, "reco-twotower-v5", wl, t, dur, "succeeded",
                     {"name": "recall_at_50", "value": round(v0 + r.u(-6e-4, 6e-4), 5), "higher_is_better": True},
                     "events-" + time.strftime("%m%d-%H%M", time.gmtime(t)), "twotower@5c2e9a1", "schedule", 4, 3.2)
            rounds += 1
            t += every * r.u(0.95, 1.05)
        self.book.add_truth("nodrift", "retrain_without_drift", "reco-twotower-v5", wl["id"], first, w.end,
                            every / HOUR, rounds=rounds)

    def emit(self) -> None:
        w = self.win
        for k, m in enumerate(self.models):
            t = np.arange(w.obs_start + m.every + k * 2.0, w.end, m.every)
            jitter = self.g.uniform(0, 1.5, len(t))
            values = {name: (gen(t, m.n), is_int) for name, (gen, is_int) in m.features.items()}
            for j in range(len(t)):
                vals: dict[str, list[float] | list[int]] = {}
                for name, (arr, is_int) in values.items():
                    row = arr[j]
                    vals[name] = row.astype(np.int64).tolist() if is_int else np.round(row, 4).tolist()
                ts = float(t[j] + jitter[j])
                if ts < w.end:
                    self.stream.emit({"type": "model_observation", "ts": round(ts, 3), "model_id": m.model_id,
                                      "workload": m.wl, "values": vals})


def build_observations(seed: int, win: Window, scale: float, book: Book, stream: Stream) -> None:
    b = ObsBuilder(seed, win, scale, book, stream)
    b.build()
    b.emit()

