"""Cost spikes and level shifts in a workload's spend, from ``billing_delta`` rows.

What it flags
    ``cost_spike``: a workload whose spend in a billing period is well above what its own
    history expects for that hour of the day and day of the week, by enough dollars to matter.
    One anomaly per problem, with ``evidence.pattern``:

    - ``spike``: a few periods far above the band, then back (a runaway agent loop, a retry
      storm, a batch job fanned out by mistake);
    - ``level_shift``: the excess persists for ``level_shift_periods`` periods or more (a
      bigger instance pool, a pricier model, a job that never scaled back down). It stays
      open while the excess persists and resolves when spend returns to the band.

    Not flagged: daily and weekly cycles, slow growth, heavy-tailed noise, one outlier, a new
    workload (it has no baseline to exceed), a workload that stops spending (a drop is never a
    spike, and zero periods are not learned as the new level).

The series
    Rows of the same workload and period are summed (input and output tokens, several SKUs).
    The period is inferred from the rows (``period_end - period_start``, snapped to 5 min,
    15 min, 30 min, 1 h, ... 1 day, 1 week; ``default_period_s`` when rows carry none). A period
    is *closed*, and only then evaluated, once event time has passed ``period_end +
    lateness_s`` and no row for it has come for ``settle_s`` (a bulk export that lands a day
    late still gets summed whole). Rows for a period that is already closed are late: they are
    counted (``evidence.late_rows``) but never re-open or re-score a period. An exact duplicate
    row (same period, sku, resource, model, unit, quantity and cost) is counted once.

Scoring, then deciding, then learning
    The baseline (:class:`~detectors.stats.spend_baseline.SeasonalBaseline`) models log spend as level
    + hour-of-day + day-of-week, with a robust scale (EWMA of clipped absolute residuals). A
    period's score is the robust z of its log spend. A period is *anomalous* when all hold:

    - ``z >= z_open`` (4.5: log-normal noise crosses it about once in 300,000 periods; at 4.0 a
      sigma-0.5 log-normal series gave one false alarm in 30 three-week runs),
    - observed >= ``min_ratio`` x expected (1.5: a smooth series' 20 % wobble is not a spike),
    - excess >= ``min_period_excess_usd`` ($1) and excess x periods/day >=
      ``min_daily_excess_usd`` ($25): tiny series never alert.

    A shift too small for one period to clear ``z_open`` in noisy spend (1.8x with 30 % noise)
    is caught by a one-sided CUSUM of the z scores (``cusum_k`` = 1 subtracted per period, alarm
    at ``cusum_h`` = 8, so a 2-sigma shift alarms in ~8 periods and pure noise practically never)
    when the run as a whole passes ``min_ratio`` and the dollar floors; the anomaly then starts
    at the run's first period. Periods of a running CUSUM (up to ``cusum_hold_periods``, 24) are
    held back from the baseline until the run falls back to zero, so a slow shift is not learned
    away before it adds up.

    While an anomaly is open a period keeps it open at the lower bar ``z >= z_stay`` (2.5) and
    ``ratio >= stay_ratio`` (1.2) with the same dollar floors (hysteresis, so a noisy plateau
    does not flap); it resolves once ``resolve_periods`` (2) periods in a row miss that bar and
    together spend less than ``stay_ratio`` x expected, and a downward CUSUM against the
    anomaly's own level agrees (``cusum_h``): right away after a spike in smooth spend, after
    several periods in noisy spend, where a shifted series dips below the bar now and then.
    Nothing is learned while an anomaly is open: a spike does not teach the baseline that spikes
    are normal. Other periods are learned with residuals clipped at 2.5 scales.

Cold start
    Before the baseline is trusted (``trust_after_s`` = 3 days of history and
    ``trust_min_periods`` = 24 periods) only a very large jump alerts: spend at least
    ``cold_ratio`` (10x) the median spend seen so far and ``cold_min_daily_excess_usd`` ($1000)
    a day above it. A new workload is never an anomaly for being new.

A persistent level shift
    The baseline does not learn during an open anomaly, so a shift stays open while it lasts.
    After ``accept_after_s`` (7 days) we take it as the new normal: the anomaly resolves with
    ``evidence.accepted_as_new_normal = true`` and the level is re-based onto the shifted spend.
    A FinOps owner wants a budget-moving change visible for the whole first week (it usually
    needs a decision: a bigger commitment, a cheaper model, a rollback), not re-alerted for ever.
    A workload with an open anomaly that sends no rows for ``stale_periods`` periods is resolved
    at its last period (it stopped spending).

Money
    ``waste_usd``: the sum of (observed - expected) over the anomaly's periods so far.
    ``projected_daily_usd``: the recent excess per period (EWMA) x periods per day. Severity by
    that daily figure (engine thresholds). Evidence: expected value and band, observed, score,
    the contributors ranked by excess dollars (service, sku, resource_id, model, usage_unit, each
    against its usual share of the spend), and for token-priced rows the cost per token against
    its baseline, naming the models whose share grew (a switch to a pricier model).

Examples
--------
Four days of about $11 an hour, then two hours at $80, then back to $10:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[CostSpikeDetector])
>>> def bill(hour, usd):
...     start = hour * 3600.0
...     return validate({"type": "billing_delta", "ts": start + 3600.0, "period_start": start,
...                      "period_end": start + 3600.0, "cost_usd": usd, "service": "OpenAI API",
...                      "workload": {"id": "ml/agent", "team": "search"}})
>>> spend = [10.0 + h % 3 for h in range(96)] + [80.0, 80.0] + [10.0] * 4
>>> out = [a for h, usd in enumerate(spend) for a in engine.process(bill(h, usd))]
>>> [(a["state"], a["evidence"]["pattern"], a["severity"], round(a["waste_usd"])) for a in out]
[('open', 'spike', 'critical', 70), ('open', 'spike', 'critical', 139), ('resolved', 'spike', 'critical', 137)]
>>> out[0]["summary"]  # doctest: +NORMALIZE_WHITESPACE
'ml/agent: spend $80.00/h vs $10.00 expected (8.0x) - spike for 1 period; $70 over baseline so far,
 $1,680/day if it continues; mostly OpenAI API (+$70)'

References
----------
- E. S. Page, "Continuous inspection schemes", *Biometrika* 41 (1954), 100-115: the one-sided
  CUSUM (``cusum_k``, ``cusum_h``).
- P. J. Huber, "Robust estimation of a location parameter", *Annals of Mathematical
  Statistics* 35 (1964), 73-101: residuals clipped at ``clip_k`` scales before they are learned.
- P. J. Rousseeuw and C. Croux, "Alternatives to the median absolute deviation", *Journal of
  the American Statistical Association* 88 (1993), 1273-1283: robust scale estimates (here
  the mean absolute deviation of clipped log residuals, x 1.2533 for a normal).
- FinOps Foundation, *FOCUS specification* 1.0 (2024): the billing columns (``BilledCost``,
  ``EffectiveCost``, ``ServiceName``, ``SkuId``) the contributors are read from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from river import stats

from detectors.base import Detector, DetectorContext
from detectors.stats.contributors import (
    attribute_period,
    cost_per_token,
    learn_shares,
    learn_token_prices,
    rank_contributors,
)
from detectors.stats.spend_baseline import DAY, SeasonalBaseline
from detectors.stats.spend_periods import Contributor, SpendPeriod, infer_period
from spendwatch.anomaly import Finding
from spendwatch.contract import BILLING_DELTA, billing_delta_key

KIND = "cost_spike"
_INF = float("inf")


@dataclass(frozen=True)
class CostConfig:
    """``cost`` section; see the module docstring for the reasoning behind each default.

    Parameters
    ----------
    default_period_s
        Period of a series whose rows carry no duration (1 h).
    lateness_s, settle_s
        A period closes once event time passed its end + ``lateness_s`` (30 min) and no row
        came for ``settle_s`` (10 min); later rows are counted as late, never re-scored.
    z_open, min_ratio
        A period opens an anomaly at robust z >= ``z_open`` (4.5) and observed >= ``min_ratio``
        x expected (1.5).
    z_stay, stay_ratio
        The lower bar that keeps an open anomaly open (2.5, 1.2): hysteresis.
    min_period_excess_usd, min_daily_excess_usd
        Dollar floors: excess per period ($1) and per day at that rate ($25).
    cusum_k, cusum_h
        One-sided CUSUM of the z scores: slack subtracted per period (1) and the alarm level (8),
        for shifts too small for one period to clear ``z_open``.
    cusum_hold_periods
        Periods of a running CUSUM held back from the baseline (24).
    resolve_periods
        Periods in a row back in the band that resolve an anomaly (2).
    level_shift_periods
        Anomalous periods after which the pattern is ``level_shift``, not ``spike`` (6).
    accept_after_s
        A shift open this long is accepted as the new normal and the level re-based (7 days).
    stale_periods
        An open anomaly with no rows for this many periods resolves: spend stopped (3).
    trust_after_s, trust_min_periods
        History (3 days) and periods learned (24) before the baseline is trusted.
    cold_ratio, cold_min_daily_excess_usd
        Before then, only spend >= ``cold_ratio`` x the median so far (10x) and that many
        dollars a day above it ($1000) alert.
    level_halflife_s, hod_halflife_days, dow_halflife_days, scale_halflife_s
        Half-lives of the baseline's level (3 days), hour-of-day (7 days) and day-of-week
        (14 days) profiles and robust scale (3 days).
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
    lateness_s: float = 1800.0
    settle_s: float = 600.0
    z_open: float = 4.5
    z_stay: float = 2.5
    min_ratio: float = 1.5
    stay_ratio: float = 1.2
    min_period_excess_usd: float = 1.0
    min_daily_excess_usd: float = 25.0
    cusum_k: float = 1.0
    cusum_h: float = 8.0
    cusum_hold_periods: int = 24
    resolve_periods: int = 2
    level_shift_periods: int = 6
    accept_after_s: float = 7 * DAY
    stale_periods: int = 3
    trust_after_s: float = 3 * DAY
    trust_min_periods: int = 24
    cold_ratio: float = 10.0
    cold_min_daily_excess_usd: float = 1000.0
    level_halflife_s: float = 3 * DAY
    hod_halflife_days: float = 7.0
    dow_halflife_days: float = 14.0
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

    __slots__ = ("started_at", "opened_at", "periods", "waste", "excess_rate", "clear", "clear_since", "clear_obs",
                 "clear_exp", "log_excess", "down", "last", "contrib", "models", "last_end")

    def __init__(self, started_at: float, opened_at: float) -> None:
        self.started_at = started_at
        self.opened_at = opened_at
        self.periods = 0  # anomalous periods
        self.waste = 0.0
        self.excess_rate = 0.0  # EWMA of excess per period
        self.clear = 0  # periods in a row back in the band
        self.clear_since = started_at  # start of the first of them
        self.clear_obs = 0.0  # their observed and expected spend
        self.clear_exp = 0.0
        self.log_excess = 0.0  # EWMA of log(observed/expected): the anomaly's level, for re-basing on acceptance
        self.down = 0.0  # downward CUSUM of z against that level: evidence that spend came back
        self.last: dict[str, float] = {}
        self.contrib: dict[Contributor, list[float]] = {}  # key -> [observed, expected]
        self.models: dict[str, list[float]] = {}  # model -> [token usd, tokens]
        self.last_end = started_at


class CostSpikeDetector(Detector):
    """One workload's spend series: sums rows per period, scores closed periods, reports."""

    name = "cost"
    event_types = (BILLING_DELTA,)
    config_cls = CostConfig
    config: CostConfig

    def __init__(self, key: str, config: CostConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.workload: dict[str, Any] = {"id": key}
        self.period: float = 0.0  # inferred on the first row
        self.baseline: SeasonalBaseline | None = None
        self.cold_median: stats.Quantile | None = stats.Quantile(0.5)
        self.pending: dict[float, SpendPeriod] = {}
        self.next_close = _INF
        self.last_closed = -_INF  # start of the latest closed period
        self.last_row_ts = -_INF
        self.last_active_end = -_INF  # end of the latest period with spend
        self.late_rows = 0
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

    key_of = staticmethod(billing_delta_key)  # the contract's Kafka key: workload.id

    # ------------------------------------------------------------------ rows
    def process(self, event: dict[str, Any]) -> list[Finding]:
        ts = event["ts"]
        out = self._close_due(ts) if ts >= self.next_close else []
        if ts > self.last_row_ts:
            self.last_row_ts = ts
        if not self.period:
            self._init_period(event)
        p = self.period
        start = (event["period_start"] // p) * p
        per = self.pending.get(start)
        if per is None:
            if start <= self.last_closed:
                self.late_rows += 1
                return out
            cfg = self.config
            per = SpendPeriod(start, max(start + p + cfg.lateness_s, ts + cfg.settle_s), self._alert_usd(start))
            self.pending[start] = per
            self.workload = event["workload"]
        elif ts + self.config.settle_s > per.deadline:
            per.deadline = ts + self.config.settle_s
        if not per.add(event):
            self.duplicate_rows += 1
            return out
        if per.deadline < self.next_close:
            self.next_close = per.deadline
        if per.total >= per.alert_usd:
            self.wants_tick = True  # close it on time: it would alert
        return out

    def _init_period(self, event: dict[str, Any]) -> None:
        self.period = infer_period(event["period_end"] - event["period_start"], self.config.default_period_s)

    def _new_baseline(self) -> SeasonalBaseline:
        c = self.config
        return SeasonalBaseline(self.period, c.level_halflife_s, c.hod_halflife_days, c.dow_halflife_days,
                                c.scale_halflife_s, c.min_scale, c.clip_k)

    def _alert_usd(self, start: float) -> float:
        """Spend above which the period would (about) alert: then it is worth closing on time."""
        b = self.baseline
        if self.anomaly is not None:
            return 0.0
        if b is None or b.n == 0:
            return _INF
        cfg = self.config
        exp_usd = math.exp(b.expected_log(start))
        if not self._trusted(start):
            return exp_usd * cfg.cold_ratio * 0.5
        # the plain scale (not the slot-widened one): a lower bar only means ticking a little more
        return 0.8 * max(exp_usd * math.exp(cfg.z_open * b.scale), exp_usd * cfg.min_ratio,
                         exp_usd + cfg.min_period_excess_usd)

    def _trusted(self, t: float) -> bool:
        b, cfg = self.baseline, self.config
        return b is not None and b.n >= cfg.trust_min_periods and b.span_s(t) >= cfg.trust_after_s

    # ----------------------------------------------------------------- ticks
    def tick(self, now: float) -> list[Finding]:
        out = self._close_due(now) if now >= self.next_close else []
        a = self.anomaly
        if a is not None and now >= a.last_end + self.config.stale_periods * self.period + self.config.lateness_s \
                and now >= self.last_row_ts + self.config.stale_periods * self.period:
            out.append(self._finding(a.last_end, active=False, reason="spend_stopped"))
            self.anomaly = None
        self._update_wants_tick()
        return out

    def _update_wants_tick(self) -> None:
        self.wants_tick = self.anomaly is not None or any(
            per.total >= per.alert_usd for per in self.pending.values())

    def _close_due(self, now: float) -> list[Finding]:
        pending = self.pending
        out: list[Finding] = []
        if len(pending) == 1:  # the usual case: the one period in flight
            ((s, per),) = pending.items()
            if per.deadline > now:
                self.next_close = per.deadline
                return out
            del pending[s]
            self.last_closed = s
            out = self._evaluate(per, now)
            self.next_close = _INF
        else:
            for s in sorted(s for s, per in pending.items() if per.deadline <= now):
                self.last_closed = s
                out.extend(self._evaluate(pending.pop(s), now))
            self.next_close = min((per.deadline for per in pending.values()), default=_INF)
        self._update_wants_tick()
        return out

    # -------------------------------------------------------------- deciding
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
        excess = y - expected
        ratio = y / expected if expected > 0 else _INF
        floors = excess >= cfg.min_period_excess_usd and excess * ppd >= cfg.min_daily_excess_usd
        run: tuple[float, int, float, float] | None = None  # (start, periods, excess, log ratio): CUSUM alarm
        if a is None:
            if self._trusted(t):
                flagged = z >= cfg.z_open and ratio >= cfg.min_ratio and floors
                if not flagged and not zero:
                    run = self._cusum(t, y, expected, z)
                    flagged = run is not None
            else:
                ref = self.cold_median.get() if self.cold_median is not None and b.n >= 3 else None
                flagged = (ref is not None and ref > 0 and y >= cfg.cold_ratio * ref
                           and (y - ref) * ppd >= cfg.cold_min_daily_excess_usd)
                if flagged and ref is not None:
                    expected, excess = ref, y - ref
            if not flagged:
                if not zero:
                    self._learn(per)
                return []
            self.cusum = self.cusum_n = 0
            self.cusum_obs = self.cusum_exp = 0.0
            if run is None:  # periods held back before a one-period spike were normal ones
                for held in self.held:
                    b.learn(*held)
            self.held.clear()  # after a CUSUM alarm they are the start of the problem
            a = self.anomaly = _Open(t if run is None else run[0], now)
            if run is not None:  # the run's earlier periods count towards the problem's money
                a.periods, a.waste = run[1] - 1, run[2] - excess
                a.excess_rate, a.log_excess = run[2] / run[1], run[3]
        else:
            stay = z >= cfg.z_stay and ratio >= cfg.stay_ratio and floors
            # a downward CUSUM against the anomaly's own level: has spend really come back down?
            # (in noisy spend a shifted series dips below the bar now and then)
            a.down = max(0.0, a.down + a.log_excess / b.scale_at(t) - z - cfg.cusum_k)
            if not stay:
                # back in the band, maybe: resolve once `resolve_periods` such periods in a row are,
                # together, below `stay_ratio` of expected (in noisy spend a shifted series dips
                # below the bar now and then; that is not the end of the shift). Nothing is learned
                # while the anomaly is open.
                if a.clear == 0:
                    a.clear_since, a.clear_obs, a.clear_exp = t, 0.0, 0.0
                a.clear += 1
                a.clear_obs += y
                a.clear_exp += expected
                a.waste += excess
                a.last_end = t + p
                if a.clear >= cfg.resolve_periods and a.clear_obs < cfg.stay_ratio * a.clear_exp \
                        and a.down >= cfg.cusum_h:
                    self.anomaly = None
                    return [self._finding(a.clear_since, active=False, reason="back_in_band",
                                          anomaly=a)]
                return []
            a.clear = 0
        # an anomalous period: account for it, never learn from it
        a.periods += 1
        a.waste += excess
        a.excess_rate = excess if a.periods == 1 else 0.5 * a.excess_rate + 0.5 * excess
        # (a CUSUM run starts with periods > 1 and its own mean: the EWMAs go on from there)
        lx = math.log(ratio) if ratio < _INF else 0.0
        a.log_excess = lx if a.periods == 1 else a.log_excess + 0.2 * (lx - a.log_excess)
        a.last_end = t + p
        lo_band, hi_band = (math.exp(b.expected_log(t) + k * cfg.z_open * b.scale_at(t)) for k in (-1, 1))
        a.last = {"period_start": t, "observed_usd": y, "expected_usd": expected, "band_low_usd": lo_band,
                  "band_high_usd": hi_band, "score": z, "ratio": ratio}
        attribute_period(a.contrib, a.models, self.shares, per.by_contrib, per.by_model, expected,
                         cfg.max_contributors, cfg.max_models)
        if a.periods == 1 or t - a.started_at < cfg.accept_after_s:
            return [self._finding(now, active=True)]
        # open for accept_after_s: the new normal
        self.anomaly = None
        b.rebase(a.log_excess)
        return [self._finding(now, active=False, reason="accepted_as_new_normal", anomaly=a)]

    def _cusum(self, t: float, y: float, expected: float, z: float) -> tuple[float, int, float, float] | None:
        """One-sided CUSUM of the z scores: a persistent shift too small for one period to clear
        ``z_open`` (a 1.8x step in noisy spend) adds up. Returns (start, periods, excess, log ratio) of the
        run once it alarms and the run as a whole passes the ratio and dollar floors."""
        cfg = self.config
        c = self.cusum + z - cfg.cusum_k
        if c <= 0.0:
            self.cusum = self.cusum_n = 0
            self.cusum_obs = self.cusum_exp = 0.0
            return None
        if self.cusum_n == 0:
            self.cusum_start = t
        self.cusum, self.cusum_n = c, self.cusum_n + 1
        self.cusum_obs += y
        self.cusum_exp += expected
        if c < cfg.cusum_h:
            return None
        n, excess = self.cusum_n, self.cusum_obs - self.cusum_exp
        if self.cusum_obs < cfg.min_ratio * self.cusum_exp or excess / n < cfg.min_period_excess_usd \
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
            # it adds up; learned once the run falls back to zero, dropped if the run alarms (a
            # slot still settling learns at once: holding it back would feed the run its own error)
            self.held.append(point)
            if len(self.held) > cfg.cusum_hold_periods:
                b.learn(*self.held.pop(0))
        else:
            for held in self.held:
                b.learn(*held)
            self.held.clear()
            b.learn(*point)
        self.last_active_end = per.start + self.period
        if self.cold_median is not None:
            self.cold_median.update(y)
            if self._trusted(per.start):
                self.cold_median = None  # only needed before the baseline is trusted
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
        hod_f, dow_f = b.profile_factors(last.get("period_start", a.started_at))
        evidence: dict[str, Any] = {
            "pattern": pattern,
            "period_s": p,
            "periods_anomalous": a.periods,
            "observed_usd": round(last.get("observed_usd", 0.0), 2),
            "expected_usd": round(last.get("expected_usd", 0.0), 2),
            "band_usd": [round(last.get("band_low_usd", 0.0), 2), round(last.get("band_high_usd", 0.0), 2)],
            "score": round(last.get("score", 0.0), 2),
            "ratio": round(last.get("ratio", 0.0), 2) if last.get("ratio", 0.0) < _INF else None,
            "threshold": {"z_open": cfg.z_open, "z_stay": cfg.z_stay, "min_ratio": cfg.min_ratio,
                          "min_period_excess_usd": cfg.min_period_excess_usd,
                          "min_daily_excess_usd": cfg.min_daily_excess_usd},
            "baseline": {"trusted": self._trusted(a.started_at), "periods_learned": b.n,
                         "scale_log": round(b.scale, 4), "hour_of_day_factor": round(hod_f, 3),
                         "day_of_week_factor": round(dow_f, 3)},
            "contributors": contributors,
            "late_rows": self.late_rows,
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


def _period_name(p: float) -> str:
    return {900.0: "15 min", 1800.0: "30 min", 3600.0: "h", 86400.0: "day", 604800.0: "week"}.get(p, f"{p:g} s")
