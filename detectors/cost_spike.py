"""Cost spikes and level shifts in a workload's spend, from ``billing_delta`` rows.

What it flags
    ``cost_spike``: a workload whose spend in a billing period is well above what its own
    history expects for that slot of the day and of the week, by enough dollars to matter.
    One anomaly per problem, with ``evidence.pattern``:

    - ``spike``: a few periods far above the band, then back (a runaway agent loop, a retry
      storm, a batch job fanned out by mistake);
    - ``level_shift``: the excess persists for ``level_shift_periods`` periods or more (a
      bigger instance pool, a pricier model, a job that never scaled back down). It stays
      open while the excess persists and is accepted as the new normal after ``accept_after_s``.

    Not flagged: daily, weekly and within-hour shapes (learned at the series' own resolution,
    :mod:`detectors.stats.spend_baseline`), recurring weekly roll-ups, slow growth, heavy-tailed
    noise, a new workload, a workload that stops spending (a drop is never a spike).

The series, lateness and order
    Rows of the same workload and period are summed (input and output tokens, several SKUs).
    The period is inferred from the rows (``period_end - period_start``, snapped to 1, 5, 10,
    15, 30 min, 1 h, ... 1 day, 1 week; ``default_period_s`` when rows carry none). Rows may
    arrive late and in any order: each period is *judged* once event time has passed its end by
    the series' own lateness (1.5 x the largest recent arrival delay, at least ``lateness_s``,
    at most ``max_lateness_s``) and no row came for ``settle_s``; it is judged as of that
    deadline, not as of the row or tick that happened to close it (so how often event time
    ticks, one Engine per partition in the worker or one for the file in replay, changes
    nothing). A row for a period already judged is too late: it is counted
    (``evidence.late_rows`` / ``late_usd`` and the Engine's ``billing_rows_too_late`` counter)
    and makes later periods wait longer. An exact duplicate row is counted once.

Early opens
    Spend only accumulates, so a period whose running sum already clears the open bar opens the
    anomaly at once, before the period is judged (rows that trickle in during the hour, or the
    first of several export rows): ``evidence.detected_on = "partial_period"``.

Scoring, then deciding, then learning
    A period's score is the robust z of its log spend against the baseline, divided by the
    baseline's tail factor (how much heavier than normal its ordinary residuals are). A period
    is *anomalous* when all hold:

    - ``z >= z_open`` (4.5: a normal residual crosses it about once in 300,000 periods),
    - observed >= ``min_ratio`` x expected (1.5: a smooth series' 20 % wobble is not a spike),
    - excess >= ``min_period_excess_usd`` ($1; pro rata for periods under an hour) and excess x
      periods/day >= ``min_daily_excess_usd`` ($25): tiny series never alert.

    A shift too small for one period to clear ``z_open`` is caught by a one-sided CUSUM of the
    (capped) z scores (``cusum_k`` = 1 per period, alarm at ``cusum_h`` = 8) when the run as a
    whole passes ``min_ratio`` and the dollar floors; the anomaly then starts at the run's first
    period. Periods of a running CUSUM are held back from the baseline until the run falls back
    to zero. Nothing is learned while an anomaly is open; other periods are learned with
    residuals clipped at 2.5 scales.

Ending
    An open anomaly ends when a sequential test says spend is back at the baseline rather than
    at the anomaly's own level: a CUSUM of the log-likelihood ratio of "baseline" against
    "baseline + the anomaly's log excess" over the following periods reaches ``resolve_h``
    (right after a spike in smooth spend; after several periods in noisy spend, so a shifted
    series that dips now and then does not flap). A spike of at most ``rhythm_max_periods``
    periods that came back is then folded into the baseline's within-week profile: if it was a
    weekly roll-up, next week's is expected. A shift that lasts ``accept_after_s`` (7 days) is
    accepted as the new normal once: it resolves with ``evidence.accepted_as_new_normal`` and
    the level is re-based onto it. A workload that sends no rows for ``stale_periods`` periods
    resolves at its last period (it stopped spending).

Feedback
    A ``feedback`` event saying "not a problem" resolves the open anomaly (``evidence.resolution``)
    and teaches the series: a level shift becomes its baseline; after a spike, only a period
    ``feedback_margin`` (2) times that spike's ratio pages.

Cold start
    Until the baseline has ``trust_after_s`` (7 days; 14 periods for daily series) of history
    and the period's day slot has been seen, only a jump of ``cold_ratio`` (10x) the largest
    period seen so far and ``cold_min_daily_excess_usd`` ($1000) a day above it alerts: the
    first week shows its own weekly rhythm before anything is called unusual.

Money
    ``waste_usd``: the sum of (observed - expected), where positive, over the anomaly's periods.
    ``projected_daily_usd``: the recent excess per period (EWMA) x periods per day. Severity by
    that daily figure (Engine rules). Evidence: expected value and band, observed, score, the
    contributors ranked by excess dollars (service, sku, resource_id, model, usage_unit, each
    against its usual share), and for token-priced rows the cost per token against its
    baseline, naming the models whose share grew (a switch to a pricier model).

Examples
--------
Two weeks of about $11 an hour, then two hours at $80, then back to $10:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[CostSpikeDetector])
>>> def bill(hour, usd):
...     start = hour * 3600.0
...     return validate({"type": "billing_delta", "ts": start + 3900.0, "period_start": start,
...                      "period_end": start + 3600.0, "cost_usd": usd, "service": "OpenAI API",
...                      "workload": {"id": "ml/agent", "team": "search"}})
>>> spend = [10.0 + h % 3 for h in range(24 * 14)] + [80.0, 80.0] + [10.0] * 4
>>> out = [a for h, usd in enumerate(spend) for a in engine.process(bill(h, usd))]
>>> [(a["state"], round(a["waste_usd"])) for a in out]
[('open', 0), ('open', 139), ('resolved', 139)]
>>> out[0]["evidence"]["detected_on"]  # the hour's first row already clears the bar
'partial_period'

References
----------
- E. S. Page, "Continuous inspection schemes", *Biometrika* 41 (1954), 100-115: the one-sided
  CUSUM (``cusum_k``, ``cusum_h``).
- A. Wald, "Sequential tests of statistical hypotheses", *Annals of Mathematical Statistics* 16
  (1945), 117-186: the resolution test (``resolve_h``), run as a CUSUM of log-likelihood ratios.
- P. J. Huber, "Robust estimation of a location parameter", *Annals of Mathematical
  Statistics* 35 (1964), 73-101: residuals clipped before they are learned.
- J. Pickands, "Statistical inference using extreme order statistics", *Annals of Statistics* 3
  (1975), 119-131: peaks over a threshold, for the baseline's tail factor.
- FinOps Foundation, *FOCUS specification* 1.0 (2024): the billing columns the contributors
  are read from.
"""

from __future__ import annotations

import calendar
import math
import time
from array import array
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.contributors import (
    attribute_period,
    cost_per_token,
    learn_shares,
    learn_token_prices,
    rank_contributors,
)
from detectors.stats.spend_baseline import DAY, SpendBaseline
from detectors.stats.spend_periods import Contributor, SpendPeriod, infer_period
from spendwatch.anomaly import Finding
from spendwatch.contract import BILLING_DELTA, billing_delta_key

KIND = "cost_spike"
_INF = float("inf")
_DELAYS_KEPT = 16
_MONTHLY_KEPT = 12  # periods of short spikes remembered by their day of the month
_MONTHLY_MIN_S, _MONTHLY_MAX_S = 25 * DAY, 100 * DAY  # one to three months earlier
_MONTHLY_SAME_USD = 2.0  # ... with an excess within this factor of the one remembered
_NO_DAY = -100  # the day of the month of a date out of the calendar's range
# Bursts: short spikes that came back (or a trusted period the tail factor alone kept under the bar), as
# (start, end, excess per period). A flagged period whose excess is at most _BURST_SAME_USD x that of
# _BURST_REPEATS bursts of the last _BURST_WINDOW_S is one more of them: batch jobs run at random hours two or
# three times a week, which neither the day nor the week profile can hold (probe bill13_batch_jobs)
_BURSTS_KEPT = 8
_BURST_WINDOW_S = 28 * DAY
_BURST_REPEATS = 3
_BURST_SAME_USD = 2.0
_COARSER = 1.9  # a row spanning this many of the series' periods (and alone for as long) changes the series' period


_Z_OPEN_FOR_PERIOD: dict[tuple[float, float], float] = {}


def z_open_for_period(z_open: float, spans: float) -> float:
    """The bar whose normal upper-tail chance is ``spans`` times that of ``z_open`` (``spans`` > 1:
    a period that covers that many of ``z_open``'s spans), else ``z_open`` itself."""
    if spans <= 1.0:
        return z_open
    key = (z_open, spans)
    z = _Z_OPEN_FOR_PERIOD.get(key)
    if z is None:
        p = 0.5 * math.erfc(z_open / math.sqrt(2.0)) * spans
        z = _Z_OPEN_FOR_PERIOD[key] = NormalDist().inv_cdf(1.0 - min(0.25, p))
    return z


@dataclass(frozen=True)
class CostConfig:
    """``cost`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    default_period_s
        Period of a series whose rows carry no duration (1 h).
    min_period_s
        Shortest period judged (5 min): per-minute or per-request rows are summed into 5-minute
        periods. A minute of an API's bill holds a handful of requests, too few to tell a spike from
        their count's noise (at 1 min, an hour at 8x opened nothing while noise opened level shifts).
    lateness_s, max_lateness_s, max_lateness_periods, settle_s
        A period is judged once event time passed its end by the series' learned lateness (1.5 x
        its largest recent row delay, at least ``lateness_s`` = 30 min, at most ``max_lateness_s``
        = 6 h or ``max_lateness_periods`` = 1.5 periods, whichever is longer: a daily export
        that lands a day late is still summed) and no row came for ``settle_s`` (10 min); rows
        for a judged period are counted.
    z_open, z_open_span_s, min_ratio
        A period opens an anomaly at robust z >= ``z_open`` (4.5, scaled by the baseline's tail
        factor) and observed >= ``min_ratio`` x expected (1.5). ``z_open`` is the bar of a period
        of up to ``z_open_span_s`` (1 h); a longer period's bar has the same chance per hour of a
        normal residual crossing it (a daily series: 3.77, a weekly one: 3.25), so a series billed
        once a day is not 24 times less likely to page for the same excess than an hourly one.
    z_stay, stay_ratio
        A period judged late, from before the anomaly's start, joins it at this lower bar (2.5,
        1.2); ``stay_ratio`` is also the smallest anomaly level the resolution test assumes.
    min_period_excess_usd, min_daily_excess_usd
        Dollar floors: excess per period ($1 for an hour or longer, pro rata for shorter periods:
        8 cents at 5 min) and per day at that rate ($25).
    cusum_k, cusum_h
        One-sided CUSUM of the capped z scores: slack per period (1) and alarm level (8), for
        shifts too small for one period to clear ``z_open``.
    cusum_hold_periods
        Periods of a running CUSUM held back from the baseline (24).
    resolve_h
        Evidence (log-likelihood ratio) that spend is back at the baseline that resolves (8).
    level_shift_periods
        Anomalous periods after which the pattern is ``level_shift``, not ``spike`` (6).
    accept_after_s
        A shift open this long is accepted as the new normal and the level re-based (7 days).
    stale_periods
        An open anomaly with no rows for this many periods resolves: spend stopped (3).
    trust_after_s, trust_min_periods
        History (7 days) and periods learned (14) before the baseline is trusted.
    cold_ratio, cold_min_daily_excess_usd
        Before then, only spend >= ``cold_ratio`` x the largest period so far (10x) and that
        many dollars a day above it ($1000) alert.
    rhythm_max_periods
        A spike of at most this many periods that came back is remembered by its week slot (6).
    feedback_margin
        After a person marks a spike "not a problem", only spend this many times that spike's
        ratio pages (2).
    update_every_s
        An open anomaly's figures are re-reported at most this often in event time (1 h).
    level_halflife_s, day_halflife_days, week_halflife_weeks, scale_halflife_s
        Half-lives of the baseline's level (3 days), day shape (7 visits), week profile (3
        weeks) and robust scale (3 days).
    min_scale
        Floor of the log-scale (0.05): a smooth series does not make tiny moves significant.
    clip_k
        Residuals are clipped at this many scales before they are learned (2.5, Huber-style).
    share_alpha
        EWMA gain of the usual contributor shares and token prices (0.1).
    max_contributors, max_models
        Contributors (8) and LLM models (6) whose usual share is learned.
    cpt_change_ratio
        Cost per token this many times its usual counts as changed (1.25).
    top_contributors
        Contributors and models listed in the evidence (5).
    """

    default_period_s: float = 3600.0
    min_period_s: float = 300.0
    lateness_s: float = 1800.0
    max_lateness_s: float = 6 * 3600.0
    max_lateness_periods: float = 1.5
    settle_s: float = 600.0
    z_open: float = 4.5
    z_open_span_s: float = 3600.0
    z_stay: float = 2.5
    min_ratio: float = 1.5
    stay_ratio: float = 1.2
    min_period_excess_usd: float = 1.0
    min_daily_excess_usd: float = 25.0
    cusum_k: float = 1.0
    cusum_h: float = 8.0
    cusum_hold_periods: int = 24
    resolve_h: float = 8.0
    level_shift_periods: int = 6
    accept_after_s: float = 7 * DAY
    stale_periods: int = 3
    trust_after_s: float = 7 * DAY
    trust_min_periods: int = 14
    cold_ratio: float = 10.0
    cold_min_daily_excess_usd: float = 1000.0
    rhythm_max_periods: int = 6
    feedback_margin: float = 2.0
    update_every_s: float = 3600.0
    level_halflife_s: float = 3 * DAY
    day_halflife_days: float = 7.0
    week_halflife_weeks: float = 3.0
    scale_halflife_s: float = 3 * DAY
    min_scale: float = 0.05
    clip_k: float = 2.5
    share_alpha: float = 0.1
    max_contributors: int = 8
    max_models: int = 6
    cpt_change_ratio: float = 1.25
    top_contributors: int = 5


class _Open:
    """The anomaly being reported (at most one per workload)."""

    __slots__ = ("started_at", "opened_at", "periods", "waste", "excess_rate", "clear_since", "log_excess", "back",
                 "last", "contrib", "models", "last_end", "detected_on", "history", "early_start", "reported_at")

    def __init__(self, started_at: float, opened_at: float, detected_on: str) -> None:
        self.started_at = started_at
        self.opened_at = opened_at
        self.detected_on = detected_on
        self.periods = 0  # anomalous periods judged
        self.waste = 0.0
        self.excess_rate = 0.0  # EWMA of excess per period
        self.clear_since: float | None = None  # start of the run of periods back near the baseline
        self.log_excess = 0.0  # EWMA of log(observed/expected): the anomaly's own level
        self.back = 0.0  # CUSUM of the evidence that spend is back at the baseline
        self.last: dict[str, float] = {}
        self.contrib: dict[Contributor, list[float]] = {}  # key -> [observed, expected]
        self.models: dict[str, list[float]] = {}  # model -> [token usd, tokens]
        self.last_end = started_at
        self.history: list[tuple[float, float]] = []  # (period start, log spend) of its periods, bounded
        self.early_start: float | None = None  # the period that opened it early, not yet judged
        self.reported_at = opened_at  # event time of the latest update published


class CostSpikeDetector(Detector):
    """One workload's spend series: sums rows per period, scores them, reports."""

    name = "cost"
    event_types = (BILLING_DELTA,)
    kinds = (KIND,)
    config_cls = CostConfig
    config: CostConfig

    def __init__(self, key: str, config: CostConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.workload: dict[str, Any] = {"id": key}
        self.period: float = 0.0  # inferred on the first row
        self.phase = 0.0  # where the series' periods start within a period (a weekly export's Monday)
        self.baseline: SpendBaseline | None = None
        self.peak = 0.0  # largest period spend learned (the cold-start reference)
        self.pending: dict[float, SpendPeriod] = {}
        self.next_close = _INF
        # starts of recently judged periods (a few; doubles in an array, not a set of boxed floats)
        self.judged = array("d")
        self.judged_before = -_INF  # every period starting before this counts as judged
        self.delays = array("d")  # recent largest row delays per period, the last _DELAYS_KEPT
        self.last_row_ts = -_INF
        self.late_rows = 0
        self.late_usd = 0.0
        self.duplicate_rows = 0
        self.shares: dict[Contributor, float] = {}
        self.model_cpt: dict[str, float] = {}  # model -> EWMA log(usd per token)
        self.model_share: dict[str, float] = {}  # model -> EWMA share of token spend
        self.cpt_log: float | None = None  # EWMA log(usd per token) over all token rows
        self.anomaly: _Open | None = None
        self.cusum = 0.0  # one-sided CUSUM of z - cusum_k over trusted, unflagged periods
        self.cusum_n = 0
        self.cusum_start = 0.0
        self.cusum_obs = 0.0
        self.cusum_exp = 0.0
        self.held: list[tuple[float, float]] = []  # (period start, log spend) held back during a run
        self.fine_ratio = 1.0  # the largest observed/expected a person marked "not a problem"
        # (period start, excess usd) of short spikes that came back, and of the monthly repeats of one
        self.monthly: list[tuple[float, float]] = []

    # (start, end, excess per period) of recent bursts, see _BURSTS_KEPT; the class's empty tuple until the first
    # (rebound, never mutated in place): most series never burst, and their snapshots carry nothing for it
    bursts: tuple[tuple[float, float, float], ...] = ()
    burst_run = False  # the CUSUM run going on was let pass as a burst (instance value only while it is)

    key_of = staticmethod(billing_delta_key)  # the contract's Kafka key: workload.id

    # ------------------------------------------------------------------ rows
    def process(self, event: dict[str, Any]) -> list[Finding]:
        out = self._row(event)
        # tick() only closes periods (from next_close on) while no anomaly is open: the Engine may skip it until then
        self.tick_due = self.next_close if self.anomaly is None and self.pending else -_INF
        return out

    def _row(self, event: dict[str, Any]) -> list[Finding]:
        ts = event["ts"]
        out = self._close_due(ts) if ts >= self.next_close else []
        previous_row_ts = self.last_row_ts
        if ts > self.last_row_ts:
            self.last_row_ts = ts
        if not self.period:
            self._init_period(event)
        elif event["period_end"] - event["period_start"] >= _COARSER * self.period and \
                ts - previous_row_ts >= event["period_end"] - event["period_start"] and \
                event.get("adjustment_usd") is None and self.anomaly is None and not self.pending:
            self._coarsen(event)
        p, cfg = self.period, self.config
        start = ((event["period_start"] - self.phase) // p) * p + self.phase
        delay = max(0.0, ts - (start + p))
        per = self.pending.get(start)
        if event.get("adjustment_usd") is not None:
            return out + self._adjust(per, event)
        if per is None:
            if self.judged_period(start):
                self.late_rows += 1
                self.late_usd += event["cost_usd"]
                self._add_delay(delay)  # later periods wait longer
                self.context.count("billing_rows_too_late")
                return out
            per = SpendPeriod(start, max(start + p + self._lateness(delay), ts + cfg.settle_s), self._open_usd(start))
            self.pending[start] = per
            self.workload = event["workload"]
        elif ts + cfg.settle_s > per.deadline:
            per.deadline = ts + cfg.settle_s
        if delay > per.max_delay:
            per.max_delay = delay
        if not per.add(event):
            self.duplicate_rows += 1
            return out
        if per.deadline < self.next_close:
            self.next_close = per.deadline
        if self.anomaly is None and per.total >= per.alert_usd and not self._monthly_repeat(per) \
                and not self._burst_so_far(per):
            out.extend(self._open_early(per, ts))
        self.wants_tick = True
        return out

    def _adjust(self, per: SpendPeriod | None, event: dict[str, Any]) -> list[Finding]:
        """An adjustment row (``cost_usd: 0`` plus a signed ``adjustment_usd``, see docs/collectors.md).

        A restatement or reattribution of a period still being summed corrects that period's spend
        (never below zero); anything else (a credit, a refund, a correction of a period already
        judged) is not usage: it is counted, never opens a period and never moves the baseline, so
        a month-end credit neither looks like a drop nor teaches a lower level."""
        if per is not None and event.get("adjustment_reason") in ("restatement", "reattribution"):
            if per.adjust(event):
                self.context.count("billing_adjustments_applied")
            else:
                self.duplicate_rows += 1
            return []
        self.context.count("billing_adjustments_ignored")
        return []

    def _init_period(self, event: dict[str, Any]) -> None:
        cfg = self.config
        duration = event["period_end"] - event["period_start"]
        self.period = max(cfg.min_period_s, infer_period(duration, cfg.default_period_s))
        if abs(duration - self.period) < 0.01 * self.period:
            # periods as the rows have them: weekly rows from Monday, hourly ones from :30 (epoch multiples
            # of a week start on a Thursday); rows shorter than the period are summed on the clock's
            self.phase = float(event["period_start"] % self.period)

    def _coarsen(self, event: dict[str, Any]) -> None:
        """The series' rows became coarser (an export that went from hourly rows to daily ones) and no row
        came for as long as this one spans: its periods are the new rows' from here. Summed into the bucket
        of their start, each daily row paged as a 24-hour spike (probe ``bill13_hourly_to_daily``: 14 false
        opens a seed). The baseline is rebuilt at the new period from what the old one expects (its level,
        day and week shape summed over each new period, over the trust span back from here), with the
        scale back at its wide prior: the new periods' noise is not known yet."""
        old, old_period = self.baseline, self.period
        duration = event["period_end"] - event["period_start"]
        period = infer_period(duration, self.config.default_period_s)
        if period <= old_period:
            return
        self.period = period
        self.phase = float(event["period_start"] % period) if abs(duration - period) < 0.01 * period else 0.0
        self.context.count("cost_period_changes")
        b = self.baseline = self._new_baseline()
        self.peak = 0.0
        start = ((event["period_start"] - self.phase) // period) * period + self.phase
        if old is not None and old.n:
            cfg = self.config
            need = min(cfg.trust_min_periods, max(2, round(cfg.trust_after_s / period)))
            back = math.ceil(max(cfg.trust_after_s, need * period) / period) + 1
            parts = max(1, round(period / old_period))
            for k in range(back, 0, -1):
                t = start - k * period
                total = sum(math.exp(old.expected_log(t + i * old_period)) for i in range(parts))
                b.learn(t, math.log(total + 1e-3))
                self.peak = max(self.peak, total)
            b.reset_scale()
        self.judged, self.judged_before = array("d"), start  # what came before is judged, at the old period
        self.cusum = self.cusum_n = 0
        self.cusum_obs = self.cusum_exp = 0.0
        self.held.clear()
        self.monthly = []
        self.bursts = ()
        if self.burst_run:
            del self.burst_run

    def _add_delay(self, delay: float) -> None:
        delays = self.delays
        delays.append(delay)
        if len(delays) > _DELAYS_KEPT:
            del delays[0]

    def __setstate__(self, state: dict[str, Any]) -> None:
        state.setdefault("phase", 0.0)  # snapshots from before the phase was kept: epoch-aligned periods
        state.setdefault("monthly", [])  # ... and before short spikes were remembered by their day of the month
        super().__setstate__(state)
        # snapshots written before these were arrays held a set and a deque: same values, same meaning
        if not isinstance(self.judged, array):
            self.judged = array("d", sorted(self.judged))
        if not isinstance(self.delays, array):
            self.delays = array("d", self.delays)

    def _lateness(self, delay: float = 0.0) -> float:
        """1.5 x the largest delay of the recent judged periods' rows and of the rows still pending (and
        ``delay``, the row at hand's), within ``lateness_s`` and the most lateness. The pending ones
        count at once: a period opened before the first was judged waited the default 30 min, and a
        daily or weekly export's other SKUs, a day later, were set aside as too late (the first week of
        one was judged on a tenth of its spend, and the baseline learnt that tenth)."""
        cfg = self.config
        pending = max((per.max_delay for per in self.pending.values()), default=0.0)
        largest = max(max(self.delays) if self.delays else 0.0, pending, delay)
        learned = 1.5 * largest
        return min(self._max_lateness(), max(cfg.lateness_s, learned))

    def _max_lateness(self) -> float:
        cfg = self.config
        return max(cfg.max_lateness_s, cfg.max_lateness_periods * self.period)

    def _new_baseline(self) -> SpendBaseline:
        c = self.config
        return SpendBaseline(self.period, c.level_halflife_s, c.day_halflife_days, c.week_halflife_weeks,
                             c.scale_halflife_s, c.min_scale, c.clip_k, z_open=self._z_open())

    def _min_period_excess(self) -> float:
        """The per-period dollar floor: ``min_period_excess_usd`` an hour, pro rata for shorter periods
        (a series of 1-minute periods would otherwise need $1,440 a day of excess to page)."""
        cfg = self.config
        return cfg.min_period_excess_usd * min(1.0, self.period / 3600.0)

    def _z_open(self) -> float:
        """The open bar for this series' period (see ``z_open_span_s``)."""
        cfg = self.config
        return z_open_for_period(cfg.z_open, self.period / cfg.z_open_span_s)

    def _trusted(self, t: float) -> bool:
        b, cfg = self.baseline, self.config
        # periods learned: trust_min_periods, or a week's worth for a daily series (7), whichever is fewer
        need = min(cfg.trust_min_periods, max(2, round(cfg.trust_after_s / self.period)))
        return (b is not None and b.n >= need and b.mature(t)
                and b.span_s(t) >= max(cfg.trust_after_s, need * self.period))

    def _cold_ready(self, t: float) -> bool:
        """Enough history (a day of periods) for the cold-start rule: a new series is never an anomaly."""
        b = self.baseline
        return b is not None and self.peak > 0 and b.n >= self.config.trust_min_periods and b.span_s(t) >= DAY

    def _open_usd(self, start: float) -> float:
        """The running sum at which the period at ``start`` clears the open bar (inf: cannot open early)."""
        b, cfg = self.baseline, self.config
        if b is None or b.n == 0:
            return _INF
        ppd = DAY / self.period
        if not self._trusted(start):
            if not self._cold_ready(start):
                return _INF
            # and above what this slot already learned: a weekly roll-up seen once is not new the
            # second time, although a roll-up that opened is not in the peak
            return max(cfg.cold_ratio * self.peak, self.peak + cfg.cold_min_daily_excess_usd / ppd,
                       math.exp(b.guard_and_scale(start)[0]) * self._min_ratio())
        exp_log, scale = b.guard_and_scale(start)
        exp_log += b.recent_level_gap()  # back at a level it had lately (after a holiday) is no spike yet
        exp_usd = math.exp(exp_log)
        z_usd = math.exp(exp_log + self._z_open() * b.tail_factor * scale) - 1e-3
        return max(z_usd, exp_usd * self._min_ratio(), exp_usd + self._min_period_excess(),
                   exp_usd + cfg.min_daily_excess_usd / ppd)

    def _min_ratio(self) -> float:
        """The ratio a period must reach: ``min_ratio``, or ``feedback_margin`` x a spike a person
        marked "not a problem" (the same pattern does not page again; a clearly bigger one does)."""
        return max(self.config.min_ratio, self.config.feedback_margin * self.fine_ratio if self.fine_ratio > 1.0
                   else 0.0)

    # -------------------------------------------------------------- feedback
    def feedback(self, event: dict[str, Any]) -> list[Finding]:
        """"Not a problem": the spend this anomaly is about is normal for this workload. A level
        shift becomes the baseline (re-based onto it, as after ``accept_after_s``); a spike's ratio
        becomes the least a later period must exceed by ``feedback_margin`` (the same pattern does not
        page again; ten times the dollars still does). The open anomaly resolves now."""
        if event["verdict"] != "not_a_problem":
            return []
        a, b = self.anomaly, self.baseline
        evidence = event.get("evidence") or {}
        ratio = a.last.get("ratio", 0.0) if a is not None else evidence.get("ratio")
        level = a is not None and a.periods >= self.config.level_shift_periods or \
            (a is None and evidence.get("pattern") == "level_shift")
        if level:
            if a is not None and b is not None:
                b.rebase(a.log_excess)
        elif isinstance(ratio, int | float) and math.isfinite(ratio) and ratio > self.fine_ratio:
            self.fine_ratio = float(ratio)
        if a is None:
            return []
        self.anomaly = None
        self.tick_due = self.next_close if self.pending else -_INF
        f = self._finding(event["ts"] if event["ts"] > a.last_end else a.last_end, active=False,
                          reason="marked_not_a_problem", anomaly=a)
        f.evidence["resolution"] = f"marked not a problem by {event['by']}"
        return [f]

    # ----------------------------------------------------------------- ticks
    def tick(self, now: float) -> list[Finding]:
        out = self._close_due(now) if now >= self.next_close else []
        a, cfg = self.anomaly, self.config
        if a is not None and not self.pending and now >= a.last_end + cfg.stale_periods * self.period + \
                self._lateness() and now >= self.last_row_ts + cfg.stale_periods * self.period:
            out.append(self._finding(a.last_end, active=False, reason="spend_stopped"))
            self.anomaly = None
        self.wants_tick = self.anomaly is not None or bool(self.pending)
        self.tick_due = self.next_close if self.anomaly is None and self.pending else -_INF
        return out

    def _close_due(self, now: float) -> list[Finding]:
        """Judge the periods whose deadline ``now`` has passed, each as of its deadline: the decision
        and its date depend on this key's rows alone, not on how often event time ticked (one
        Engine per partition ticks as its own events come; replay ticks with the whole file)."""
        pending = self.pending
        out: list[Finding] = []
        for s in sorted(s for s, per in pending.items() if per.deadline <= now):
            per = pending.pop(s)
            self._mark_judged(s)
            self._add_delay(per.max_delay)
            out.extend(self._evaluate(per, per.deadline))
        self.next_close = min((per.deadline for per in pending.values()), default=_INF)
        return out

    def judged_period(self, start: float) -> bool:
        """Whether the period starting at ``start`` has been judged (its rows are now too late)."""
        return start < self.judged_before or start in self.judged

    def _mark_judged(self, start: float) -> None:
        judged = self.judged
        if start not in judged:
            judged.append(start)
        horizon = start - self._max_lateness() - 2 * self.period
        if len(judged) > 64 or (self.judged_before < horizon and len(judged) > 8):
            self.judged_before = max(self.judged_before, horizon)
            self.judged = array("d", [s for s in judged if s >= horizon])

    # -------------------------------------------------------------- deciding
    def _open_early(self, per: SpendPeriod, now: float) -> list[Finding]:
        """The running sum of a period not yet judged already clears the open bar."""
        b = self.baseline
        assert b is not None
        start = per.start
        if self.cusum >= self.config.cusum_h / 2 and self.cusum_start < start:  # a run was adding up
            start = self.cusum_start
        self.cusum = self.cusum_n = 0
        self.cusum_obs = self.cusum_exp = 0.0
        if self.burst_run:
            del self.burst_run
        held, self.held = self.held, []
        a = self.anomaly = _Open(start, now, "partial_period")
        a.history = held[-self.config.rhythm_max_periods * 4:]
        a.early_start = per.start
        expected, z = b.score(per.start, per.total)
        self._account(a, per, per.total, expected, z / b.tail_factor, count=False)
        return [self._finding(now, active=True)]

    def _back_to_a_recent_level(self, t: float, y: float, expected: float, z: float,
                                run: tuple[float, int, float, float] | None) -> bool:
        """Whether a flagged period (or CUSUM run) is no more than the series' level of the last
        ``RECENT_LEVEL_WEEKS`` weeks explains: measured against that level, it would not be flagged."""
        b = self.baseline
        assert b is not None
        gap = b.recent_level_gap()
        if gap <= 0.0:
            return False
        scale = b.scale_at(t)
        if run is not None:  # the run's mean log excess, less the way back up
            return (run[3] - gap) / scale < self._z_open() / 2.0
        ratio = y / (expected * math.exp(gap)) if expected > 0 else _INF
        return z - gap / (scale * b.tail_factor) < self._z_open() or ratio < self._min_ratio()

    def _monthly_repeat(self, per: SpendPeriod, expected: float | None = None) -> bool:
        """Whether ``per`` is a short spike that came back before, on the same day of the month (counted
        from the month's end for its last four days) one to three months earlier, with about the same
        excess."""
        if not self.monthly:
            return False
        if expected is None:
            assert self.baseline is not None
            expected = self.baseline.score(per.start, per.total)[0]
        excess = per.total - expected
        day = _day_of_month(per.start)
        for start, usd in self.monthly:
            if _MONTHLY_MIN_S <= per.start - start <= _MONTHLY_MAX_S and _day_of_month(start) == day \
                    and usd / _MONTHLY_SAME_USD <= excess <= usd * _MONTHLY_SAME_USD:
                return True
        return False

    def _recurring_burst(self, start: float, end: float, excess: float, run: bool = False) -> bool:
        """Whether spend from ``start`` to ``end`` (the period at hand's end) with ``excess`` a period is one
        more of the series' routine bursts: no more than ``_BURST_SAME_USD`` x the excess of ``_BURST_REPEATS``
        bursts that ended in the last ``_BURST_WINDOW_S`` (a smaller one is routine too: a batch job's first
        hour, begun at :40, is a third of its others; a CUSUM ``run`` must also be at least half as large: a
        small lasting shift is not a burst), and no longer than the longest of them by a period (a lasting
        shift pages once it has outlasted them)."""
        if len(self.bursts) < _BURST_REPEATS:
            return False
        longest, alike, short = 0.0, 0, self.config.rhythm_max_periods * self.period
        for s0, e0, usd in self.bursts:
            if start - _BURST_WINDOW_S <= s0 and e0 < start and e0 - s0 <= short and excess <= usd * _BURST_SAME_USD \
                    and (not run or excess >= usd / _BURST_SAME_USD):
                alike += 1
                longest = max(longest, e0 - s0)
        return alike >= _BURST_REPEATS and end - start <= longest + self.period

    def _burst_so_far(self, per: SpendPeriod) -> bool:
        """Whether the running sum of a period not yet judged is one more routine burst so far."""
        assert self.baseline is not None
        excess = per.total - self.baseline.score(per.start, per.total)[0]
        return self._recurring_burst(self._streak_start(per.start), per.start + self.period, excess)

    def _streak_start(self, t: float) -> float:
        """Where the burst that the period starting at ``t`` continues began (``t`` if none)."""
        bursts = self.bursts
        return bursts[-1][0] if bursts and bursts[-1][1] == t else t

    def _remember_burst(self, start: float, end: float, excess: float) -> None:
        """Keep a burst (one overlapping or adjacent to the latest extends it: a spike's periods were often
        remembered one by one before it resolved)."""
        bursts = self.bursts
        if bursts and bursts[-1][1] >= start and bursts[-1][0] <= end:
            s0, e0, usd = bursts[-1]
            self.bursts = (*bursts[:-1], (min(s0, start), max(e0, end), max(usd, excess)))
        else:
            self.bursts = (*bursts, (start, end, excess))[-_BURSTS_KEPT:]

    def _evaluate(self, per: SpendPeriod, now: float) -> list[Finding]:
        cfg = self.config
        y, t, p = per.total, per.start, self.period
        ppd = DAY / p
        if self.baseline is None:
            self.baseline = self._new_baseline()
        b = self.baseline
        a = self.anomaly
        zero = y <= 1e-9
        if b.n == 0:
            if not zero:
                self._learn(per)
            return []
        expected, z = b.score(t, y)
        z /= b.tail_factor
        excess = y - expected
        ratio = y / expected if expected > 0 else _INF
        floors = excess >= self._min_period_excess() and excess * ppd >= cfg.min_daily_excess_usd
        if a is None:
            run: tuple[float, int, float, float] | None = None  # CUSUM alarm: (start, periods, excess, log ratio)
            detected_on = "closed_period"
            if self._trusted(t):
                flagged = z >= self._z_open() and ratio >= self._min_ratio() and floors
                if not flagged and not zero:
                    if self.burst_run and z < cfg.cusum_k:  # the burst is over: its run with it, and its periods
                        self.cusum = self.cusum_n = 0
                        self.cusum_obs = self.cusum_exp = 0.0
                        self.held.clear()
                        del self.burst_run
                    if z * b.tail_factor >= self._z_open() and ratio >= self._min_ratio() and floors:
                        # a burst the heavy tail explains is still a burst this series has (the tail forgets)
                        self._remember_burst(t, t + p, excess)
                    run = self._cusum(t, y, expected, z)
                    flagged = run is not None
                    detected_on = "cusum"
            else:
                flagged = self._cold_ready(t) and y >= cfg.cold_ratio * self.peak and \
                    (y - self.peak) * ppd >= cfg.cold_min_daily_excess_usd and ratio >= self._min_ratio()
                if not flagged and z * b.tail_factor >= self._z_open() and ratio >= self._min_ratio() and floors:
                    self._remember_burst(t, t + p, excess)  # the first weeks' bursts are the series' too
            if flagged and self._back_to_a_recent_level(t, y, expected, z, run):
                # a level it had in the last four calendar weeks, after a quiet spell (a holiday week
                # taught the baseline a lower level): the series is back, not shifted. Re-based there
                gap = b.recent_level_gap()
                b.rebase(gap)
                self.cusum = self.cusum_n = 0
                self.cusum_obs = self.cusum_exp = 0.0
                self.context.count("cost_level_returns")
                flagged = False
            if not flagged:
                if not zero:
                    self._learn(per)
                return []
            if run is None and self._monthly_repeat(per, expected):
                # the same spike on the same day of an earlier month (a monthly fee, a subscription
                # billed on the 1st): the month's rhythm, which the within-week profile cannot hold.
                # Not learned either: the week slot would expect it again in seven days
                self.monthly = [*self.monthly, (t, excess)][-_MONTHLY_KEPT:]
                self.context.count("cost_monthly_repeats")
                return []
            if self._recurring_burst(self._streak_start(t), t + p, excess) if run is None else \
                    self._recurring_burst(self._streak_start(run[0]), t + p, run[2] / run[1], run=True):
                # one more of the series' routine bursts (batch jobs at random hours): not paged, and not
                # learned either (the day and week slots would expect it at this hour again). A CUSUM run
                # goes on adding up until spend is back (then it is dropped, periods and all): one that
                # outlasts the longest burst pages from its first period
                if run is None:
                    self._remember_burst(t, t + p, excess)
                else:
                    self._remember_burst(run[0], t + p, run[2] / run[1])
                    self.burst_run = True
                self.context.count("cost_recurring_bursts")
                return []
            self.cusum = self.cusum_n = 0
            self.cusum_obs = self.cusum_exp = 0.0
            if self.burst_run:
                del self.burst_run
            if run is None:  # periods held back before a one-period spike were normal ones
                for held in self.held:
                    b.learn(*held)
            else:
                a = _Open(run[0], now, detected_on)
                a.periods, a.waste = run[1] - 1, max(0.0, run[2] - excess)
                a.excess_rate, a.log_excess = run[2] / run[1], run[3]
                a.history = [h for h in self.held][-cfg.rhythm_max_periods * 4:]
            self.held.clear()  # after a CUSUM alarm they are the start of the problem
            if a is None:
                a = _Open(t, now, detected_on)
            self.anomaly = a
            self._account(a, per, y, expected, z)
            return [self._finding(now, active=True)]
        # an anomaly is open: which is this period closer to, the anomaly's level or the baseline?
        # Wald's sequential test, run as a CUSUM of the log-likelihood ratio "baseline" vs "baseline
        # + the anomaly's log excess": it resolves after one period back in smooth spend, after
        # several in noisy spend, and practically never while the shift goes on
        early = a.early_start == t
        if early:
            a.early_start = None
        if t < a.started_at and not early:  # judged late, from before the anomaly began
            if z >= cfg.z_stay and ratio >= cfg.stay_ratio and floors:
                a.started_at = t  # it began earlier than the rows that opened it said
                self._account(a, per, y, expected, z)
            elif not zero:
                self._learn(per)
            return []
        delta = max(a.log_excess, math.log(cfg.stay_ratio))
        sigma = b.scale_at(t)
        e = math.log(y + 1e-3) - b.expected_log(t)  # the model, not last week's guard: back to what?
        if early:  # its running sum opened the anomaly: now its whole spend is known
            a.contrib.clear()
            a.models.clear()
        if early or e > delta / 2.0:
            self._account(a, per, y, expected, z)
        else:
            a.waste += max(0.0, excess)
            a.last_end = t + p
        a.back = max(0.0, a.back + delta * (delta / 2.0 - e) / (sigma * sigma))
        # the anomaly's own level follows every period while it is open (periods near the baseline
        # too: a noisy shift's level is their mean, not the mean of its high periods)
        a.log_excess += max(0.1, 1.0 / (a.periods + 1)) * (e - a.log_excess)
        if a.back == 0.0:
            a.clear_since = None
        elif a.clear_since is None:
            a.clear_since = t
        if a.back >= cfg.resolve_h:
            self.anomaly = None
            if a.periods <= cfg.rhythm_max_periods:
                for ht, hl in a.history:  # a spike that came back: its week slot remembers it
                    b.remember(ht, hl)
                # ... and each of its periods by its day of the month
                n = max(1, a.periods)
                days = [(a.started_at + k * self.period, a.waste / n) for k in range(n)]
                self.monthly = [*self.monthly, *days][-_MONTHLY_KEPT:]
                self._remember_burst(a.started_at, a.last_end, a.waste / n)
            return [self._finding(a.clear_since or t, active=False, reason="back_in_band", anomaly=a)]
        if t - a.started_at >= cfg.accept_after_s:  # open for accept_after_s: the new normal
            self.anomaly = None
            b.rebase(a.log_excess)
            return [self._finding(now, active=False, reason="accepted_as_new_normal", anomaly=a)]
        if now - a.reported_at < cfg.update_every_s:
            return []
        a.reported_at = now
        return [self._finding(now, active=True)]

    def _account(self, a: _Open, per: SpendPeriod, y: float, expected: float, z: float, count: bool = True) -> None:
        """Fold one anomalous period (or the running sum of one, ``count=False``) into the anomaly."""
        cfg, b, t = self.config, self.baseline, per.start
        assert b is not None
        excess = y - expected
        ratio = y / expected if expected > 0 else _INF
        lx = math.log(ratio) if ratio < _INF else 0.0
        if count:
            a.periods += 1
            a.waste += max(0.0, excess)
            a.history.append((t, math.log(y + 1e-3)))
            del a.history[: -cfg.rhythm_max_periods * 4]
            a.last_end = t + self.period
        first = a.periods <= 1
        g = max(0.1, 1.0 / max(1, a.periods))
        a.excess_rate = excess if first else a.excess_rate + g * (excess - a.excess_rate)
        if first and a.detected_on != "cusum":
            a.log_excess = lx
        z_open = self._z_open()
        lo_band, hi_band = (math.exp(b.expected_log(t) + k * z_open * b.tail_factor * b.scale_at(t))
                            for k in (-1, 1))
        a.last = {"period_start": t, "observed_usd": y, "expected_usd": expected, "band_low_usd": lo_band,
                  "band_high_usd": hi_band, "score": z, "ratio": ratio}
        attribute_period(a.contrib, a.models, self.shares, per.by_contrib, per.by_model, expected,
                         cfg.max_contributors, cfg.max_models)

    def _cusum(self, t: float, y: float, expected: float, z: float) -> tuple[float, int, float, float] | None:
        """One-sided CUSUM of the z scores (capped at ``z_open``: one heavy-tailed period cannot
        make a run): a persistent shift too small for one period to clear ``z_open`` adds up."""
        cfg = self.config
        c = self.cusum + min(z, cfg.z_open) - cfg.cusum_k
        if c <= 0.0:
            self.cusum = self.cusum_n = 0
            self.cusum_obs = self.cusum_exp = 0.0
            if self.burst_run:
                del self.burst_run
            return None
        if self.cusum_n == 0:
            self.cusum_start = t
        self.cusum, self.cusum_n = c, self.cusum_n + 1
        self.cusum_obs += y
        self.cusum_exp += expected
        if c < cfg.cusum_h:
            return None
        n, excess = self.cusum_n, self.cusum_obs - self.cusum_exp
        if self.cusum_obs < self._min_ratio() * self.cusum_exp or excess / n < self._min_period_excess() \
                or excess / n * DAY / self.period < cfg.min_daily_excess_usd:
            return None
        return self.cusum_start, n, excess, math.log(self.cusum_obs / self.cusum_exp)

    # -------------------------------------------------------------- learning
    def _learn(self, per: SpendPeriod) -> None:
        b = self.baseline
        assert b is not None
        y, cfg = per.total, self.config
        point = (per.start, math.log(y + 1e-3))
        if self.cusum > 0.0 and b.mature(per.start):
            # inside a CUSUM run: hold the point back, so a slow shift is not learned away before
            # it adds up; learned once the run falls back to zero, dropped if the run alarms
            self.held.append(point)
            if len(self.held) > cfg.cusum_hold_periods:
                b.learn(*self.held.pop(0))
        else:
            for held in self.held:
                b.learn(*held)
            self.held.clear()
            b.learn(*point)
        if y > self.peak:
            self.peak = y
        g = max(cfg.share_alpha, 1.0 / b.n)
        learn_shares(self.shares, per.by_contrib, y, g, cfg.max_contributors)
        self.cpt_log = learn_token_prices(self.model_cpt, self.model_share, self.cpt_log, per.by_model, g,
                                          cfg.max_models)
    # -------------------------------------------------------------- findings
    def _finding(self, at: float, active: bool, reason: str = "", anomaly: _Open | None = None) -> Finding:
        a = anomaly or self.anomaly
        assert a is not None and self.baseline is not None
        cfg, p = self.config, self.period
        ppd = DAY / p
        rate = max(0.0, a.excess_rate) * ppd
        daily = rate if active or reason == "accepted_as_new_normal" else 0.0
        pattern = "level_shift" if a.periods >= cfg.level_shift_periods else "spike"
        last = a.last
        contributors = rank_contributors(a.contrib, self.shares, cfg.top_contributors)
        b = self.baseline
        day_f, week_f = b.profile_factors(last.get("period_start", a.started_at))
        evidence: dict[str, Any] = {
            "pattern": pattern,
            "period_s": p,
            "periods_anomalous": a.periods,
            "observed_usd": round(last.get("observed_usd", 0.0), 2),
            "expected_usd": round(last.get("expected_usd", 0.0), 2),
            "band_usd": [round(last.get("band_low_usd", 0.0), 2), round(last.get("band_high_usd", 0.0), 2)],
            "score": round(last.get("score", 0.0), 2),
            "ratio": round(last.get("ratio", 0.0), 2) if last.get("ratio", 0.0) < _INF else None,
            "threshold": {"z_open": cfg.z_open, "z_open_effective": round(self._z_open() * b.tail_factor, 2),
                          "z_stay": cfg.z_stay, "min_ratio": cfg.min_ratio,
                          "min_period_excess_usd": cfg.min_period_excess_usd,
                          "min_daily_excess_usd": cfg.min_daily_excess_usd},
            "baseline": {"trusted": self._trusted(a.started_at), "periods_learned": b.n,
                         "scale_log": round(b.scale, 4), "tail_factor": round(b.tail_factor, 3),
                         "day_profile_factor": round(day_f, 3), "week_profile_factor": round(week_f, 3),
                         "week_profile_used": b.week_used},
            "contributors": contributors,
            "detected_on": a.detected_on,
            "lateness_s": round(self._lateness(), 1),
            "late_rows": self.late_rows,
            "late_usd": round(self.late_usd, 2),
            "duplicate_rows": self.duplicate_rows,
        }
        cpt = cost_per_token(a.models, self.model_share, self.model_cpt, self.cpt_log, cfg.cpt_change_ratio,
                             cfg.top_contributors)
        if cpt:
            evidence["cost_per_token"] = cpt
        if reason:
            evidence["end_reason"] = reason
        if reason == "accepted_as_new_normal":
            evidence["accepted_as_new_normal"] = True
        wid = self.workload.get("id", self.key)
        unit = _period_name(p)
        if active:
            obs, exp_ = last.get("observed_usd", 0.0), last.get("expected_usd", 0.0)
            head = (f"{wid}: spend ${obs:,.2f}/{unit} vs ${exp_:,.2f} expected ({last.get('ratio', 0.0):.1f}x) - "
                    f"{pattern.replace('_', ' ')} for {a.periods} "
                    f"period{'s' if a.periods != 1 else ''}; ${a.waste:,.0f} over baseline so far, "
                    f"${daily:,.0f}/day if it continues")
        else:
            why = {"back_in_band": "spend back in its usual band", "spend_stopped": "spend stopped",
                   "marked_not_a_problem": "marked not a problem",
                   "accepted_as_new_normal": "the higher level has lasted long enough to be the new normal"}
            head = f"{wid}: {pattern.replace('_', ' ')} over ({why.get(reason, reason)}); ${a.waste:,.0f} over baseline"
        if contributors and contributors[0]["excess_usd"] > 0:
            c = contributors[0]
            what = " / ".join(str(x) for x in (c["service"], c["sku"] or c["model"], c["resource_id"]) if x)
            head += f"; mostly {what} (+${c['excess_usd']:,.0f})"
        if cpt and cpt.get("changed"):
            head += f"; cost per token {cpt['ratio']:.1f}x its usual"
            if cpt.get("models_grown"):
                head += f" (more spend on {', '.join(cpt['models_grown'])})"
        # by dollars (the Engine's rule) while it lasts; once over, the severity keeps the problem's
        # size rather than the $0/day it costs now
        severity = None if daily == rate else self.context.severity(rate)
        return Finding(kind=KIND, resource=str(wid), workload=self.workload, started_at=a.started_at, at=at,
                       active=active, severity=severity, waste_usd=max(0.0, a.waste),
                       projected_daily_usd=daily, summary=head, evidence=evidence)


def _day_of_month(t: float) -> int:
    """The UTC day of the month of ``t``, counted from the month's end for its last four days (-1 the last,
    -2 the one before...): a month-end job bills the last days of a 30- and a 31-day month alike."""
    try:
        tm = time.gmtime(t)
    except (OverflowError, OSError, ValueError):  # a date no calendar holds: no day of the month either
        return _NO_DAY
    last = calendar.monthrange(tm.tm_year, tm.tm_mon)[1]
    return tm.tm_mday - last - 1 if tm.tm_mday > last - 4 else tm.tm_mday


def _period_name(p: float) -> str:
    return {900.0: "15 min", 1800.0: "30 min", 3600.0: "h", 86400.0: "day", 604800.0: "week"}.get(p, f"{p:g} s")
