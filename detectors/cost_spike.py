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
    The baseline (:class:`~detectors.spend_baseline.SeasonalBaseline`) models log spend as level
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
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from river import stats

from detectors.base import Detector
from detectors.spend_baseline import DAY, SeasonalBaseline
from spendwatch.anomaly import Finding
from spendwatch.events import BILLING_DELTA

KIND = "cost_spike"
_CANONICAL_PERIODS = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0, 21600.0, 43200.0,
                      86400.0, 604800.0)
_INF = float("inf")
# Contributor key: (service, sku, resource_id, model, usage_unit)
Contributor = tuple[str | None, str | None, str | None, str | None, str | None]


@dataclass(frozen=True)
class CostConfig:
    """``cost`` section; see the module docstring for the reasoning behind each default."""

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


class _Period:
    """Rows of one period of one workload, summed while the period is open."""

    __slots__ = ("start", "total", "deadline", "alert_usd", "rows", "by_contrib", "by_model")

    def __init__(self, start: float, deadline: float, alert_usd: float) -> None:
        self.start = start
        self.total = 0.0
        self.deadline = deadline
        self.alert_usd = alert_usd
        self.rows: set[tuple[Any, ...]] = set()
        self.by_contrib: dict[Contributor, float] = {}
        self.by_model: dict[str, list[float]] = {}  # model -> [token usd, tokens]


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

    def __init__(self, key: str, config: CostConfig, context: Any) -> None:
        super().__init__(key, config, context)
        self.workload: dict[str, Any] = {"id": key}
        self.period: float = 0.0  # inferred on the first row
        self.baseline: SeasonalBaseline | None = None
        self.cold_median: stats.Quantile | None = stats.Quantile(0.5)
        self.pending: dict[float, _Period] = {}
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

    @staticmethod
    def key_of(event: dict[str, Any]) -> str | None:
        workload = event.get("workload")
        return workload["id"] if workload else None

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
            per = _Period(start, max(start + p + cfg.lateness_s, ts + cfg.settle_s), self._alert_usd(start))
            self.pending[start] = per
            self.workload = event["workload"]
        elif ts + self.config.settle_s > per.deadline:
            per.deadline = ts + self.config.settle_s
        service, sku, resource_id, model, unit = (event.get("service"), event.get("sku"), event.get("resource_id"),
                                                  event.get("model"), event.get("usage_unit"))
        cost = event["cost_usd"]
        qty = event.get("usage_quantity")
        row = (event["period_end"], service, sku, resource_id, model, unit, qty, cost, event.get("source"))
        if row in per.rows:
            self.duplicate_rows += 1
            return out
        per.rows.add(row)
        per.total += cost
        ckey: Contributor = (service, sku, resource_id, model, unit)
        per.by_contrib[ckey] = per.by_contrib.get(ckey, 0.0) + cost
        if qty and unit and "token" in unit.lower():
            m = per.by_model.get(model or "?")
            if m is None:
                per.by_model[model or "?"] = [cost, float(qty)]
            else:
                m[0] += cost
                m[1] += qty
        if per.deadline < self.next_close:
            self.next_close = per.deadline
        if per.total >= per.alert_usd:
            self.wants_tick = True  # close it on time: it would alert
        return out

    def _init_period(self, event: dict[str, Any]) -> None:
        dur = event["period_end"] - event["period_start"]
        if dur <= 0:
            self.period = self.config.default_period_s
            return
        best = min(_CANONICAL_PERIODS, key=lambda c: abs(math.log(dur / c)))
        self.period = best if abs(math.log(dur / best)) < 0.1 else max(60.0, round(dur / 60.0) * 60.0)

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
    def _evaluate(self, per: _Period, now: float) -> list[Finding]:
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
        for key, usd in per.by_contrib.items():
            c = a.contrib.get(key)
            exp_c = self.shares.get(key, 0.0) * expected
            if c is None:
                if len(a.contrib) >= 4 * cfg.max_contributors:
                    continue
                a.contrib[key] = [usd, exp_c]
            else:
                c[0] += usd
                c[1] += exp_c
        for key, share in self.shares.items():  # usual contributors that did not show up
            if key not in per.by_contrib and key in a.contrib:
                a.contrib[key][1] += share * expected
        for model, (usd, tok) in per.by_model.items():
            mm = a.models.get(model)
            if mm is None:
                if len(a.models) < 2 * cfg.max_models:
                    a.models[model] = [usd, tok]
            else:
                mm[0] += usd
                mm[1] += tok
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
    def _learn(self, per: _Period) -> None:
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
        shares, by_contrib = self.shares, per.by_contrib
        keep, inv = 1.0 - g, g / y
        if by_contrib.keys() == shares.keys():  # the usual case: the same SKUs as always
            for key, usd in by_contrib.items():
                shares[key] = shares[key] * keep + inv * usd
            by_contrib = {}
        else:
            for key in shares:
                shares[key] *= keep
        for key, usd in by_contrib.items():
            add = inv * usd
            if key in shares:
                shares[key] += add
            elif len(shares) < cfg.max_contributors:
                shares[key] = add
            else:
                low = min(shares, key=shares.__getitem__)
                if shares[low] < add:
                    del shares[low]
                    shares[key] = add
        if per.by_model:
            usd_all = tok_all = 0.0
            for v in per.by_model.values():
                usd_all += v[0]
                tok_all += v[1]
            if usd_all > 0 and tok_all > 0:
                lc = math.log(usd_all / tok_all)
                self.cpt_log = lc if self.cpt_log is None else self.cpt_log + g * (lc - self.cpt_log)
                for m in self.model_share:
                    self.model_share[m] *= keep
                for m, (usd, tok) in per.by_model.items():
                    if tok <= 0 or usd <= 0:
                        continue
                    lm = math.log(usd / tok)
                    if m in self.model_cpt:
                        self.model_cpt[m] += g * (lm - self.model_cpt[m])
                        self.model_share[m] += g * usd / usd_all
                    elif len(self.model_cpt) < cfg.max_models:
                        self.model_cpt[m] = lm
                        self.model_share[m] = g * usd / usd_all

    # -------------------------------------------------------------- findings
    def _finding(self, at: float, active: bool, reason: str = "", anomaly: _Open | None = None) -> Finding:
        a = anomaly or self.anomaly
        assert a is not None and self.baseline is not None
        cfg, p = self.config, self.period
        ppd = DAY / p
        rate = max(0.0, a.excess_rate) * ppd  # severity keeps the problem's size on resolution too
        daily = rate if active or reason == "accepted_as_new_normal" else 0.0
        pattern = "level_shift" if a.periods >= cfg.level_shift_periods else "spike"
        last = a.last
        ranked = sorted(a.contrib.items(), key=lambda kv: kv[1][1] - kv[1][0])[: cfg.top_contributors]
        contributors: list[dict[str, Any]] = [
            {"service": k[0], "sku": k[1], "resource_id": k[2], "model": k[3], "usage_unit": k[4],
             "observed_usd": round(v[0], 2), "expected_usd": round(v[1], 2), "excess_usd": round(v[0] - v[1], 2),
             "new": k not in self.shares}
            for k, v in ranked]
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
        cpt = self._cost_per_token(a)
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
        return Finding(kind=KIND, resource=str(wid), workload=self.workload, started_at=a.started_at, at=at,
                       active=active, severity=self.context.severity(rate), waste_usd=max(0.0, a.waste),
                       projected_daily_usd=daily, summary=head, evidence=evidence)

    def _cost_per_token(self, a: _Open) -> dict[str, Any] | None:
        if not a.models:
            return None
        usd = sum(v[0] for v in a.models.values())
        tok = sum(v[1] for v in a.models.values())
        if usd <= 0 or tok <= 0:
            return None
        observed = usd / tok
        out: dict[str, Any] = {"observed_usd_per_mtok": round(observed * 1e6, 4)}
        models = []
        grown = []
        for m, (musd, mtok) in sorted(a.models.items(), key=lambda kv: -kv[1][0]):
            share = musd / usd
            base_share = self.model_share.get(m)
            base_cpt = self.model_cpt.get(m)
            row = {"model": m, "usd": round(musd, 2), "tokens": int(mtok), "share": round(share, 3),
                   "usd_per_mtok": round(musd / mtok * 1e6, 4) if mtok else None,
                   "baseline_share": None if base_share is None else round(base_share, 3),
                   "baseline_usd_per_mtok": None if base_cpt is None else round(math.exp(base_cpt) * 1e6, 4)}
            models.append(row)
            ratio_cap = self.config.cpt_change_ratio
            pricier = base_cpt is not None and mtok > 0 and musd / mtok >= ratio_cap * math.exp(base_cpt)
            new_or_grown = share >= 0.1 if base_share is None else share - base_share >= 0.2
            if new_or_grown or pricier:
                grown.append(m)
        out["models"] = models[: self.config.top_contributors]
        if self.cpt_log is not None:
            expected = math.exp(self.cpt_log)
            out["expected_usd_per_mtok"] = round(expected * 1e6, 4)
            out["ratio"] = round(observed / expected, 3)
            out["changed"] = observed >= self.config.cpt_change_ratio * expected
            if out["changed"]:
                out["models_grown"] = grown
        return out


def _period_name(p: float) -> str:
    return {900.0: "15 min", 1800.0: "30 min", 3600.0: "h", 86400.0: "day", 604800.0: "week"}.get(p, f"{p:g} s")
