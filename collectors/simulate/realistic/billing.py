"""Billing: 40-100 workloads over two to three weeks of ``billing_delta`` rows, with cost problems hidden in them.

Periods of 5 min, 15 min, 1 h and 1 day; rows land minutes to hours after their period (API usage within
minutes, cloud exports in batches a few times a day); several rows per period (input and output tokens, several
SKUs); a few rows re-sent as exact duplicates.

Where the shapes come from (one line each):

- Hourly periods for most cloud rows, daily for some, several SKUs per resource: the FOCUS 1.0 sample export
  (FinOps Foundation, ../shared/data/focus: 949 of 1000 rows hourly, 51 daily; AWS, Azure and OCI rows).
- Exports landing hours after the period, refreshed up to three times a day: AWS Data Exports / CUR docs
  ("RefreshCadence: up to three times daily"); here a refresh every 2-6 h so rows are at most hours late.
- LLM API spend as input- and output-token rows per bucket (1 min / 1 h / 1 d buckets): the OpenAI Usage and
  Costs API (``input_tokens``, ``output_tokens`` per bucket) and Anthropic's usage export; list prices per million
  tokens for the model names used (a price change = the same tokens on a pricier model).
- Heavy-tailed spend, log-normal with sigma 0.5-1.0: per-resource cost dispersion seen in real bills (in the
  FOCUS sample, log costs of one service spread over several natural-log units); hourly noise of the
  ordinary workloads is log-normal with sigma 0.05-0.35.
- Weekly business-hours shapes (weekday ramps, Monday backlog, weekend lows), nightly and weekly batch roll-ups,
  cron bursts at the top of the hour: the usual shapes of interactive, reporting and scheduled workloads in
  cloud billing (FOCUS ChargePeriod granularity; Alibaba PAI's diurnal inference load, Weng et al. NSDI'22).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from collectors.simulate.realistic.common import (
    DAY,
    HOUR,
    MIN,
    WEEK,
    Book,
    Rng,
    Stream,
    Window,
    Workload,
    hour_of_day,
    weekday,
    workload,
)

Shape = Callable[[np.ndarray], np.ndarray]

# model -> ($ per input token, $ per output token), list prices per million tokens / 1e6
LLM_PRICES = {"gpt-4o-mini": (0.15e-6, 0.60e-6), "gpt-4o": (2.5e-6, 10e-6), "claude-3-5-haiku": (0.8e-6, 4e-6),
              "claude-sonnet-4": (3e-6, 15e-6), "claude-opus-4": (15e-6, 75e-6), "gpt-4.1-mini": (0.4e-6, 1.6e-6),
              "gpt-4.1": (2e-6, 8e-6)}
UPGRADES = [("gpt-4o-mini", "gpt-4o"), ("claude-3-5-haiku", "claude-sonnet-4"), ("claude-sonnet-4", "claude-opus-4"),
            ("gpt-4.1-mini", "gpt-4.1")]


@dataclass
class Sku:
    name: str
    share: float
    unit_price: float
    unit: str


@dataclass
class Lag:
    """When a period's rows land: ``api`` = lo..hi seconds after the period ends; ``batch`` = at the first export
    refresh (every ``every`` s from ``offset``) at least lo..hi seconds after the period ends."""

    kind: str
    lo: float
    hi: float
    every: float = 0.0
    offset: float = 0.0


@dataclass
class Excess:
    a: float
    b: float
    mult: float
    scenario: str
    price_only: bool = False
    new_model: str | None = None
    persistent: bool = False


@dataclass
class Spec:
    wl: Workload
    phenomena: list[str]
    period: float
    base: float
    shape: Shape
    noise: str
    sigma: float
    skus: list[Sku]
    fields: dict[str, Any]
    lag: Lag
    start: float
    stop: float | None = None
    zero_rows: bool = True
    dup_share: float = 0.0
    excess: list[Excess] = field(default_factory=list)


def daily(amp: float, peak_h: float, weekend: float = 1.0, tz: float = 0.0) -> Shape:
    def f(t: np.ndarray) -> np.ndarray:
        h = hour_of_day(t, tz)
        m = 1 + amp * np.cos(2 * np.pi * (h - peak_h) / 24)
        return np.asarray(m * np.where(weekday(t, tz) >= 5, weekend, 1.0))
    return f


class BillingBuilder:
    def __init__(self, seed: int, win: Window, scale: float, book: Book) -> None:
        self.r = Rng(seed, "billing")
        self.win, self.book, self.scale = win, book, scale
        self.specs: list[Spec] = []
        self.names: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def name(self, team: str, base: str) -> str:
        wid = f"{team}/{base}"
        k = 2
        while wid in self.names:
            wid = f"{team}/{base}-{k}"
            k += 1
        self.names.add(wid)
        return wid

    def lag(self, kind: str | None = None) -> Lag:
        r = self.r
        kind = kind or r.pick(("api", "api", "meter", "batch"))
        if kind == "api":
            return Lag("api", r.u(1, 4) * MIN, r.u(5, 15) * MIN)
        if kind == "meter":
            return Lag("api", r.u(10, 20) * MIN, r.u(25, 45) * MIN)
        every = r.pick((2, 3, 4, 6)) * HOUR
        return Lag("batch", 15 * MIN, 40 * MIN, every, r.u(0, every))

    def llm_skus(self, model: str) -> list[Sku]:
        pin, pout = LLM_PRICES[model]
        s_in = self.r.u(0.3, 0.6)
        return [Sku("input-tokens", s_in, pin, "tokens"), Sku("output-tokens", 1 - s_in, pout, "tokens")]

    def cloud_skus(self, main: str, unit_price: float, unit: str, extra: bool) -> list[Sku]:
        if not extra:
            return [Sku(main, 1.0, unit_price, unit)]
        s = self.r.u(0.75, 0.92)
        return [Sku(main, s, unit_price, unit), Sku("storage-gb-month", (1 - s) * 0.7, 0.00011, "GB-Hours"),
                Sku("data-transfer-out", (1 - s) * 0.3, 0.09, "GB")]

    def fields(self, source: str, service: str, resource_id: str, model: str | None = None) -> dict[str, Any]:
        f: dict[str, Any] = {"source": source, "service": service, "resource_id": resource_id}
        if model:
            f["model"] = model
        return f

    def llm(self, team: str, base: str, model: str, period: float, usd_h: float, shape: Shape, noise: str,
            sigma: float, phenomena: list[str], lag: Lag | None = None, kind: str = "inference") -> Spec:
        wid = self.name(team, base)
        provider = "OpenAI API" if model.startswith("gpt") else "Anthropic API"
        sp = Spec(workload(wid, kind, team, model=model), phenomena, period, usd_h * period / HOUR, shape, noise,
                  sigma, self.llm_skus(model), self.fields("llm_usage", provider, f"apikey-{base}-{self.r.hexid(4)}",
                                                          model), lag or self.lag("api"), self.win.bill_start)
        self.specs.append(sp)
        return sp

    def cloud(self, team: str, base: str, period: float, usd_h: float, shape: Shape, noise: str, sigma: float,
              phenomena: list[str], lag: Lag | None = None, kind: str | None = None) -> Spec:
        r = self.r
        wid = self.name(team, base)
        src = r.pick(("focus", "focus", "gpu_meter", "custom"))
        if src == "gpu_meter":
            svc, sku, price, unit = "Compute Engine", r.pick(("a3-highgpu-8g", "a2-ultragpu-1g", "g2-standard-8")), \
                r.u(2.5, 11.0), "GPU-hours"
        elif src == "custom":
            svc, sku, price, unit = "Databricks", r.pick(("jobs-compute-photon", "all-purpose-compute")), 0.55, "DBU"
        else:
            svc, sku, price, unit = r.pick((("Amazon SageMaker", "ml.g5.2xlarge-hosting", 1.515, "Hrs"),
                                             ("Amazon Elastic Compute Cloud", "p4d.24xlarge", 32.77, "Hrs"),
                                             ("Azure Machine Learning", "NCasT4_v3", 0.526, "Hrs"),
                                             ("Amazon Bedrock", "model-units", 1.0, "Units"),
                                             ("Vertex AI", "prediction-a100", 3.67, "Hrs")))
        kind = kind or r.pick(("inference", "training", "batch"))
        sp = Spec(workload(wid, kind, team, cost_centre=f"cc-{r.i(1000, 9999)}"), phenomena, period,
                  usd_h * period / HOUR, shape, noise, sigma, self.cloud_skus(sku, price, unit, r.p(0.4)),
                  self.fields(src, svc, f"{svc.split()[-1].lower()}/{base}-{r.hexid(6)}"), lag or self.lag(),
                  self.win.bill_start)
        self.specs.append(sp)
        return sp

    def spot(self, period: float, lo_day: float, hi_before_end: float, length: float = 0.0) -> float:
        """A period-aligned time at least ``lo_day`` days into billing and ``hi_before_end`` days before its end."""
        w = self.win
        a = w.bill_start + lo_day * DAY
        b = max(a, w.end - hi_before_end * DAY - length)
        t = self.r.u(a, b)
        return math.floor(t / period) * period

    # ------------------------------------------------------------------ the workloads
    def build(self) -> list[Spec]:
        r, w = self.r, self.win
        P5, P15, P1h, P1d = 5 * MIN, 15 * MIN, HOUR, DAY

        # --- benign shapes
        amp, peak = r.u(0.3, 0.9), r.u(0, 24)

        def sine(t: np.ndarray) -> np.ndarray:
            return np.asarray(1 + amp * np.sin(2 * np.pi * (t / DAY - peak / 24)))
        sp = self.cloud("serving", "autoscaled-embeddings", P5, r.u(8, 30), sine, "none", 0.0,
                        ["noiseless_daily_sine"], self.lag("api"), "inference")
        on_h, sq_tz = r.i(6, 12), r.pick((0.0, -5.0, 1.0, 5.5))

        def square(t: np.ndarray) -> np.ndarray:
            h = hour_of_day(t, sq_tz)
            return np.asarray(np.where((h >= on_h) & (h < on_h + 8), 1.0, 0.0))
        sp = self.cloud("analytics", "dev-cluster-office-hours", r.pick((P15, P1h)), r.u(10, 40), square, "none", 0.0,
                        ["square_wave"], self.lag("meter"), "batch")
        sp.zero_rows = r.p(0.5)
        burst = r.u(8, 25)

        def cron(t: np.ndarray) -> np.ndarray:
            minute = (t % HOUR) / MIN
            return np.asarray(np.where(minute < 5, burst, 1.0) * daily(0.15, 14)(t))
        self.llm("data", "hourly-summariser-cron", r.pick(("gpt-4o-mini", "gpt-4.1-mini")), P5, r.u(2, 8), cron,
                 "normal", r.u(0.01, 0.04), ["hourly_cron_burst"])
        for team, base in (("support", "copilot-agents"), ("sales", "email-drafting")):
            self.business_hours(team, base)
        roll_day, roll = r.i(0, 6), r.u(5, 15)

        def rollup(t: np.ndarray) -> np.ndarray:
            return np.asarray(np.where(weekday(t) == roll_day, roll, 1.0))
        self.cloud("finance", "weekly-ledger-rollup", P1d, r.u(1, 4), rollup, "lognormal", r.u(0.05, 0.15),
                   ["weekly_rollup"], Lag("api", 1 * HOUR, 5 * HOUR), "batch")
        for lo, hi in ((0.5, 0.7), (0.8, 1.0)):
            self.llm(r.pick(("product", "growth", "marketing")), r.pick(("rag-chat", "doc-qa", "ad-copy")),
                     r.pick(("gpt-4o", "claude-sonnet-4")), P1h, r.u(5, 40), daily(r.u(0.3, 0.6), r.u(13, 19),
                                                                                    r.u(0.5, 0.9)),
                     "lognormal", r.u(lo, hi), ["heavy_tailed"])
        g0, g1, growth = w.bill_start, w.end, r.u(0.3, 0.8)

        def grow(t: np.ndarray) -> np.ndarray:
            return np.asarray((1 + growth * np.clip((t - g0) / (g1 - g0), 0, 1)) * daily(0.3, 15, 0.8)(t))
        self.cloud("search", "vector-db-hosting", P1h, r.u(5, 25), grow, "lognormal", r.u(0.05, 0.15),
                   ["slow_growth"], None, "inference")
        sp = self.cloud("legacy", "xgb-batch-scoring", r.pick((P1h, P1d)), r.u(3, 15), daily(0.5, 3), "lognormal",
                        r.u(0.05, 0.2), ["workload_stops"], None, "batch")
        sp.stop = self.spot(HOUR, 5, 3)
        sp.zero_rows = r.p(0.5)
        sp = self.llm("growth", "onboarding-assistant", r.pick(("gpt-4o-mini", "claude-3-5-haiku")),
                      r.pick((P15, P1h)), r.u(2, 10), daily(0.4, 16, 0.7), "lognormal", r.u(0.1, 0.25),
                      ["newcomer"])
        sp.start = self.spot(HOUR, 6, 3)

        # --- must-catch
        hosts: list[tuple[Spec, float, tuple[float, float], int]] = []
        sp = self.llm("support", "agent-autopilot", r.pick(("gpt-4o", "claude-sonnet-4")), P5, r.u(10, 40),
                      daily(r.u(0.1, 0.3), r.u(13, 18), r.u(0.7, 1.0)), "lognormal", r.u(0.04, 0.1),
                      ["ordinary"])
        hosts.append((sp, P5, (4.0, 10.0), 6))
        sp = self.cloud("recsys", "feature-pipeline", P15, r.u(10, 40), daily(r.u(0.1, 0.3), r.u(8, 20), 0.9),
                        "lognormal", r.u(0.04, 0.1), ["ordinary"], self.lag("meter"))
        hosts.append((sp, P15, (3.0, 6.0), 6))
        sp = self.cloud("ml-platform", "training-cluster", P1h, r.u(40, 200), daily(r.u(0.05, 0.2), r.u(0, 24), 0.95),
                        "lognormal", r.u(0.03, 0.08), ["ordinary"], self.lag("api"), "training")
        hosts.append((sp, P1h, (3.0, 5.0), 4))
        sp = self.cloud("data", "warehouse-etl", P1d, r.u(5, 30), daily(0.0, 0, r.u(0.6, 1.0)), "lognormal",
                        r.u(0.04, 0.1), ["ordinary"], Lag("api", 1 * HOUR, 4 * HOUR), "batch")
        hosts.append((sp, P1d, (3.0, 8.0), 2))
        for sp, per, (lo, hi), most in hosts:
            k = r.i(1, most)
            # after at least 8 days of history (11 for a daily series: a week of days plus a few)
            a = self.spot(per, min(11.0, w.bill_days - 3.0) if per >= DAY else 8.0, 1.5, k * per)
            sp.excess.append(Excess(a, a + k * per, r.u(lo, hi), "spike"))
        sp0 = hosts[2][0]
        if r.p(0.5):   # the same workload spikes again days later
            a = self.spot(HOUR, 8, 1.5)
            if all(abs(a - e.a) > 2 * DAY for e in sp0.excess):
                sp0.excess.append(Excess(a, a + r.i(1, 3) * HOUR, r.u(4, 8), "spike"))
        sp = self.cloud("vision", "batch-inference-export", P1h, r.u(10, 50), daily(r.u(0.1, 0.3), r.u(9, 17)),
                        "lognormal", r.u(0.04, 0.1), ["ordinary", "late_rows"], Lag("batch", 20 * MIN, 50 * MIN,
                                                                                    r.pick((3, 4, 6)) * HOUR,
                                                                                    r.u(0, 3) * HOUR))
        assert sp.lag.every
        sp.lag.offset = r.u(0, sp.lag.every)
        k = r.i(2, 5)
        a = self.spot(HOUR, 8, 2.0, k * HOUR)
        day_start = math.floor(a / DAY) * DAY   # keep the spike in the first half of the day so its rows land that day
        a = day_start + r.i(1, 10) * HOUR
        sp.excess.append(Excess(a, a + k * HOUR, r.u(4, 8), "late_spike"))
        sp = self.cloud("research", "always-on-eval-fleet", P1h, r.u(20, 80), daily(r.u(0.05, 0.2), r.u(0, 24), 0.9),
                        "lognormal", r.u(0.04, 0.1), ["ordinary"], None, "training")
        a = self.spot(HOUR, 9, 2.5)
        sp.excess.append(Excess(a, w.end, r.u(1.7, 3.0), "level_shift", persistent=True))
        cheap, pricey = r.pick(UPGRADES)
        sp = self.llm("support", "ticket-triage", cheap, r.pick((P15, P1h)), r.u(3, 15),
                      daily(r.u(0.2, 0.4), r.u(13, 18), r.u(0.6, 0.9)), "lognormal", r.u(0.04, 0.1), ["ordinary"])
        a = self.spot(HOUR, 9, 2.5)
        ratio = (LLM_PRICES[pricey][0] / LLM_PRICES[cheap][0])
        sp.excess.append(Excess(a, w.end, ratio, "price_change", price_only=True, new_model=pricey, persistent=True))

        # --- ordinary workloads up to 40-100 in all
        n_total = max(len(self.specs) + 5, round(r.i(40, 100) * self.scale))
        teams = ("ads", "search", "speech", "vision", "risk", "growth", "platform", "data", "support", "docs")
        bases = ("ranker", "embeddings", "translator", "summariser", "ocr", "asr", "fraud-scoring", "forecast",
                 "classifier", "chatbot", "reranker", "tts", "captioner", "feature-store", "notebook-fleet")
        while len(self.specs) < n_total:
            per = float(r.pick((P1h,) * 7 + (P1d, P1d, P15)))
            shape = daily(r.u(0.0, 0.6), r.u(0, 24), r.u(0.4, 1.0))
            sigma = r.u(0.05, 0.35)
            if r.p(0.35):
                model = r.pick(tuple(LLM_PRICES))
                self.llm(r.pick(teams), r.pick(bases), model, per, r.lognorm(8, 1.0, 0.5, 200), shape, "lognormal",
                         sigma, ["ordinary"])
            else:
                lag = self.lag()
                self.cloud(r.pick(teams), r.pick(bases), per, r.lognorm(8, 1.0, 0.5, 300), shape, "lognormal", sigma,
                           ["ordinary", "late_rows"] if lag.kind == "batch" else ["ordinary"], lag)
        dups = [s for s in self.specs if not s.excess and s.period >= P15]
        for _ in range(3):
            s = dups[int(r.i(0, len(dups) - 1))]
            s.dup_share = r.u(0.01, 0.05)
            if "duplicate_rows" not in s.phenomena:
                s.phenomena.append("duplicate_rows")
        for s in self.specs:
            if s.lag.kind == "batch" and "late_rows" not in s.phenomena:
                s.phenomena.append("late_rows")
        return self.specs

    def business_hours(self, team: str, base: str) -> Spec:
        r = self.r
        tz = r.pick((-8.0, -5.0, 0.0, 1.0, 5.5, 9.0))
        night, weekend, monday = r.u(0.08, 0.25), r.u(0.1, 0.3), r.u(1.15, 1.5)

        def shape(t: np.ndarray) -> np.ndarray:
            h = hour_of_day(t, tz)
            wd = weekday(t, tz)
            ramp_up = np.clip((h - 7) / 3, 0, 1)
            ramp_down = np.clip((19.5 - h) / 3, 0, 1)
            day = night + (1 - night) * np.minimum(ramp_up, ramp_down)
            mon = np.where((wd == 0) & (h >= 7) & (h < 13), monday, 1.0)   # Monday morning backlog
            return np.asarray(np.where(wd >= 5, weekend * (0.6 + 0.4 * np.minimum(ramp_up, ramp_down)), day * mon))
        return self.llm(team, base, r.pick(("gpt-4o", "claude-sonnet-4", "gpt-4.1")), r.pick((15 * MIN, HOUR)),
                        r.u(5, 30), shape, "lognormal", r.u(0.05, 0.12), ["business_hours_weekly"])


def arrival(lag: Lag, period_end: np.ndarray, g: np.random.Generator) -> np.ndarray:
    ready = period_end + g.uniform(lag.lo, lag.hi, len(period_end))
    if lag.kind == "batch":
        k = np.ceil((ready - lag.offset) / lag.every)
        ready = lag.offset + k * lag.every + g.uniform(0, 120, len(period_end))
    return np.asarray(ready)


def emit_billing(specs: list[Spec], win: Window, seed: int, book: Book, stream: Stream) -> float:
    """Write the rows, record truth and benign entries; returns billing workload-weeks."""
    g = np.random.default_rng([seed, 21])
    weeks = 0.0
    for sp in specs:
        per = sp.period
        first = math.ceil(max(sp.start, win.bill_start) / per) * per
        starts = np.arange(first, win.end, per)
        if not len(starts):
            continue
        mult = sp.base * sp.shape(starts + per / 2)
        if sp.noise == "normal":
            mult = mult * np.maximum(0.05, 1 + g.normal(0, sp.sigma, len(starts)))
        elif sp.noise == "lognormal":
            mult = mult * np.exp(g.normal(0, sp.sigma, len(starts)) - sp.sigma ** 2 / 2)
        if sp.stop is not None:
            mult = np.where(starts >= sp.stop, 0.0, mult)
        usage_mult = mult.copy()
        excess_of = np.full(len(starts), -1)
        for k, e in enumerate(sp.excess):
            sel = (starts >= e.a) & (starts < e.b)
            excess_of[sel] = k
            mult = np.where(sel, mult * e.mult, mult)
            if not e.price_only:
                usage_mult = np.where(sel, usage_mult * e.mult, usage_mult)
        arrive = arrival(sp.lag, starts + per, g)
        last_arrival = [0.0] * len(sp.excess)
        span_end = 0.0
        for j in range(len(starts)):
            cost = float(mult[j])
            if cost <= 0 and not sp.zero_rows:   # an idle meter that sends nothing rather than zeros
                continue
            ts = float(arrive[j])
            if ts >= win.end:
                continue
            k = int(excess_of[j])
            ex = sp.excess[k] if k >= 0 else None
            shares = np.array([s.share for s in sp.skus])
            if sp.noise != "none" and len(shares) > 1:
                shares = shares * np.maximum(0.2, 1 + g.normal(0, 0.03, len(shares)))
                shares = shares / shares.sum()
            rows = []
            for s, share in zip(sp.skus, shares, strict=True):
                part = cost * float(share)
                base_part = float(usage_mult[j]) * float(share)
                unit_price = s.unit_price
                ev: dict[str, Any] = {"type": "billing_delta", "ts": round(ts, 3), "period_start": float(starts[j]),
                                      "period_end": float(starts[j] + per), "cost_usd": round(part, 6),
                                      "workload": sp.wl, **sp.fields, "sku": s.name,
                                      "usage_quantity": round(base_part / unit_price, 3), "usage_unit": s.unit}
                if ex is not None and ex.new_model and "model" in ev:
                    ev["model"] = ex.new_model
                    ev["workload"] = dict(sp.wl, labels=dict(sp.wl.get("labels", {}), model=ex.new_model))
                rows.append(ev)
                ts += float(g.uniform(0.2, 2.0))
            for ev in rows:
                stream.emit(ev)
            if ex is not None:
                last_arrival[k] = max(last_arrival[k], ts)
            elif sp.dup_share and g.random() < sp.dup_share:
                later = float(g.uniform(0.5, 4.0)) * HOUR
                for ev in rows:
                    if ev["ts"] + later < win.end:
                        stream.emit(dict(ev, ts=round(ev["ts"] + later, 3)))
            span_end = float(starts[j] + per)
        weeks += max(0.0, span_end - first) / WEEK
        wid = sp.wl["id"]
        for ph in sp.phenomena:
            more: dict[str, Any] = {"period_s": per}
            if ph == "heavy_tailed":
                more["sigma"] = round(sp.sigma, 3)
            if ph == "late_rows" and sp.lag.kind == "batch":
                more["refresh_h"] = round(sp.lag.every / HOUR, 1)
            if ph == "duplicate_rows":
                more["share"] = round(sp.dup_share, 3)
            book.add_benign(ph, sp.fields.get("resource_id"), wid, **more)
        for k, e in enumerate(sp.excess):
            if e.persistent:
                end = win.end
            else:
                end = last_arrival[k] + per
            more = {"period_s": per, "periods": int(round((min(e.b, win.end) - e.a) / per))}
            if e.new_model:
                more["new_model"] = e.new_model
            if e.scenario == "late_spike":
                more["arrival_lag_h"] = round((last_arrival[k] - e.b) / HOUR, 2)
            book.add_truth("cost", e.scenario, None, wid, e.a, end, e.mult, **more)
    return weeks


def build_billing(seed: int, win: Window, scale: float, book: Book, stream: Stream) -> float:
    specs = BillingBuilder(seed, win, scale, book).build()
    return emit_billing(specs, win, seed, book, stream)
