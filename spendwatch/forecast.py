"""Month-end spend forecasts from daily totals, budgets, and the ``budgets`` settings section.

Shared by the ``budget_forecast`` / ``spend_growth`` detector (:mod:`detectors.budget_forecast`,
in event time, from the billing stream) and ``spendwatch report`` (from the history store's
hourly spend), so both say the same thing about the same days.

The model (:func:`forecast_month`)
    A log-linear fit of the last ``fit_days`` complete days: ``log(spend) = a + b*day``, plus
    day-of-week effects once two weeks are known (weekend lows), fitted by least squares and
    refitted without the days it fits worst (beyond 3 robust standard deviations, at most a
    fifth of them: a spike day must not tilt a month's forecast). The trend is carried forward
    *damped* (``damping`` per day, Gardner and McKenzie's damped trend): a creep keeps pushing
    for a week or two, a recent ramp is not extrapolated for a whole month. The month-end total
    is the month's spend so far plus the fitted spend of each remaining day (with the log-normal
    mean correction), and its interval comes from the delta method: the residual variance of
    each remaining day plus the uncertainty of the fitted coefficients. ``growth_pct_week`` is
    ``exp(7b) - 1``: a storage bill creeping up 3 % a week is a trend the forecast carries on,
    which a spike detector (rightly) never calls a spike.

Examples
--------
A bill of $1,000 a day growing 3 % a week, three weeks into March, against a $32,000 budget:

>>> import math
>>> days = [19_417 + i for i in range(21)]  # 2023-03-01 .. 2023-03-21 (day numbers since 1970)
>>> spend = [1000.0 * math.exp(math.log(1.03) / 7 * i) for i in range(21)]
>>> f = forecast_month(days, spend, budget=32_000.0)
>>> round(f.growth_pct_week, 1), f.month
(3.0, '2023-03')
>>> f.forecast_usd > 32_000.0, f.crossing_day, round(f.p_over, 2)
(True, '2023-03-31', 1.0)
>>> flat = forecast_month(days, [1000.0] * 21, budget=32_000.0)
>>> round(flat.forecast_usd), flat.crossing_day, flat.p_over < 0.5
(31000, None, True)
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

DAY = 86400.0
_Z80 = 1.2816  # the 80 % two-sided interval


@dataclass(frozen=True)
class BudgetsConfig:
    """``budgets`` section: monthly budgets and how forecasts are made and judged.

    Parameters
    ----------
    teams, workloads, models
        Monthly budgets in USD by team (``workload.team``), by workload id, and by billed model
        (``billing_delta.model``, e.g. an LLM), e.g. ``teams: {search: 25000}``. Empty: no budget
        is judged (``spend_growth`` still is).
    fit_days
        Complete days the forecast is fitted on (28).
    trend_damping
        Each further day ahead keeps this share of the trend's daily effect (0.9: the trend adds
        at most about nine days' worth of growth).
    min_days
        Complete days a forecast needs (7).
    alert_probability
        ``budget_forecast`` opens when the chance that the month ends over budget is at least this (0.8) ...
    min_over_pct
        ... and the forecast is over the budget by at least this share of it (1 %).
    resolve_probability
        ... and resolves when that chance falls below this (0.5) or the month ends.
    settle_s
        A day is forecast from once its billing is in: this long after it ends (3600 s).
    growth_min_pct_week
        ``spend_growth``: sustained growth of at least this much a week (1.5 %) ...
    growth_max_pct_week
        ... and at most this (15 %: faster is a ramp or a shift, which the spike detector and
        the budget see) ...
    growth_min_days
        ... over at least this many complete days (8) ...
    growth_min_t
        ... with a trend at least this many standard errors from zero (6: storage and other
        accumulating bills are smooth; a noisy bill cannot show a slow creep anyway) ...
    growth_half_ratio
        ... growing clearly (two standard errors) in both halves of the window, neither half's
        rate more than this many times the other's (3): creep, not a step ...
    growth_min_monthly_usd
        ... and adding at least this much over the next 30 days compared with spend staying
        at today's level (50).
    """

    teams: dict[str, float] = field(default_factory=dict)
    workloads: dict[str, float] = field(default_factory=dict)
    models: dict[str, float] = field(default_factory=dict)
    fit_days: int = 28
    trend_damping: float = 0.9
    min_days: int = 7
    alert_probability: float = 0.8
    min_over_pct: float = 1.0
    resolve_probability: float = 0.5
    settle_s: float = 3600.0
    growth_min_pct_week: float = 1.5
    growth_max_pct_week: float = 15.0
    growth_min_days: int = 8
    growth_min_t: float = 6.0
    growth_half_ratio: float = 3.0
    growth_min_monthly_usd: float = 50.0


@dataclass(frozen=True)
class Forecast:
    """A month-end forecast for one scope (a team, a workload, a model)."""

    month: str  # YYYY-MM of the month forecast (the month of the day after the last complete day)
    month_to_date_usd: float
    forecast_usd: float  # month-end total, point forecast
    low_usd: float  # 80 % interval
    high_usd: float
    budget_usd: float | None
    p_over: float  # chance the month ends over budget (0 without one)
    crossing_day: str | None  # YYYY-MM-DD the cumulative spend crosses the budget (forecast or actual)
    growth_pct_week: float
    growth_t: float  # the trend's t statistic
    level_usd_day: float  # fitted spend of the last complete day
    days_fitted: int
    days_left: int
    daily: list[float] = field(default_factory=list)  # the forecast spend of each remaining day
    estimated_days: int = 0  # days of the month before the spend was known, estimated from the fit


def day_number(ts: float) -> int:
    """Days since 1970-01-01 (UTC) of an epoch time."""
    return int(ts // DAY)


def day_label(day: int) -> str:
    return datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")


def month_days(day: int) -> tuple[int, int, str]:
    """(first day, last day, 'YYYY-MM') of the month of ``day``."""
    d = datetime.fromtimestamp(day * DAY, UTC)
    first = day - (d.day - 1)
    last = first + calendar.monthrange(d.year, d.month)[1] - 1
    return first, last, d.strftime("%Y-%m")


def seasonal_mode(days: Sequence[int], spend: Sequence[float]) -> str:
    """``"dow"`` (a day-of-week effect each) from two weeks on, ``"weekend"`` (one weekend effect)
    for shorter series whose weekends differ from their weekdays, else ``"none"``."""
    if len(days) >= 14:
        return "dow"
    return "weekend" if len(days) >= 7 and _weekly_shape(days, spend) else "none"


def fit_trend(days: Sequence[int], spend: Sequence[float], weekly: str | None = None,
              robust: bool = True) -> tuple[np.ndarray, np.ndarray, float, str, float]:
    """Least-squares fit of ``log(spend)`` on the day and the week's shape (``weekly``: see
    :func:`seasonal_mode`, its default), refitted without the worst-fitting days when ``robust``.
    Returns (coefficients, their covariance, residual variance, the weekly mode, the log offset
    added before the log)."""
    d = np.asarray(days, dtype=float)
    y = np.asarray(spend, dtype=float)
    offset = max(1e-6, 0.01 * float(np.mean(y)) if len(y) else 1e-6)
    ly = np.log(np.maximum(y, 0.0) + offset)
    if weekly is None:
        weekly = seasonal_mode(days, spend)
    x = _design(d, d[-1] if len(d) else 0.0, weekly)
    beta, *_ = np.linalg.lstsq(x, ly, rcond=None)
    resid = ly - x @ beta
    if robust and len(d) >= x.shape[1] + 5:
        mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        worst = np.argsort(-np.abs(resid))[: max(1, len(d) // 5)]
        drop = [i for i in worst if abs(resid[i]) > max(3.0 * mad, 0.02)]
        if drop:
            keep = np.ones(len(d), dtype=bool)
            keep[drop] = False
            x, ly = x[keep], ly[keep]
            beta, *_ = np.linalg.lstsq(x, ly, rcond=None)
            resid = ly - x @ beta
    dof = max(1, len(ly) - x.shape[1])
    s2 = float(resid @ resid) / dof
    xtx_inv = np.linalg.pinv(x.T @ x)
    return beta, s2 * xtx_inv, s2, weekly, offset


def _design(d: np.ndarray, ref: float, weekly: str) -> np.ndarray:
    cols = [np.ones_like(d), (d - ref) / 7.0]  # the slope is per week
    dow = (d.astype(int) + 3) % 7  # 1970-01-01 was a Thursday: Monday = 0
    if weekly == "dow":
        for k in range(1, 7):
            cols.append((dow == k).astype(float) - 1.0 / 7.0)
    elif weekly == "weekend":
        cols.append((dow >= 5).astype(float) - 2.0 / 7.0)
    return np.column_stack(cols)


def forecast_month(days: Sequence[int], spend: Sequence[float], budget: float | None = None,
                   month_to_date: float | None = None, fit_days: int = 28, known_from: int | None = None,
                   damping: float = 0.9) -> Forecast:
    """The month-end forecast after the last of ``days`` (complete UTC days, ascending, with their
    spend). ``month_to_date``: the month's spend so far when ``days`` do not cover the whole of
    it (default: the sum of the given days in the month). ``known_from``: the first day whose
    spend is known (monitoring began mid-month); the month's days before it are estimated from
    the fit, not taken as zero."""
    if not days:
        raise ValueError("forecast_month needs at least one day of spend")
    days, spend = list(days)[-fit_days:], list(spend)[-fit_days:]
    last = days[-1]
    first, month_last, label = month_days(last + 1)
    if month_to_date is None:
        month_to_date = float(sum(s for dd, s in zip(days, spend, strict=True) if dd >= first))
    beta, cov, s2, weekly, offset = fit_trend(days, spend)
    growth_t = float(beta[1] / math.sqrt(cov[1, 1])) if cov[1, 1] > 0 else (math.inf if beta[1] > 0 else 0.0)
    growth = math.exp(beta[1]) - 1.0
    if abs(growth_t) < 2.0:  # a slope within noise is not a trend to carry forward
        beta = beta.copy()
        beta[1] = 0.0
        cov = cov.copy()
        cov[1, :] = cov[:, 1] = 0.0
    ref = float(days[-1])
    remaining = np.arange(last + 1, month_last + 1, dtype=float)
    before = np.arange(first, known_from, dtype=float) if known_from is not None and known_from > first \
        else np.zeros(0)
    if len(before):  # the month began before its spend was known: estimate those days too
        remaining = np.concatenate([before, remaining])
    level = float(math.exp(float(_design(np.array([ref]), ref, weekly)[0] @ beta)) - offset)
    if len(remaining):
        xr = _design(remaining, ref, weekly)
        ahead = remaining > ref
        h = (remaining[ahead] - ref).astype(int)
        # damped trend: day h ahead carries phi + phi^2 + ... + phi^h days of the daily slope
        carried = np.array([sum(damping ** k for k in range(1, int(n) + 1)) for n in h]) if len(h) else h
        xr[ahead, 1] = carried / 7.0
        # days before the spend was known: the first known days' level (no trend run backwards)
        xr[remaining < float(days[0]), 1] = (float(days[0]) - ref) / 7.0
        mean_log = xr @ beta
        pred = np.maximum(np.exp(mean_log + s2 / 2.0) - offset, 0.0)
        total = month_to_date + float(pred.sum())
        g = (pred[:, None] * xr).sum(axis=0)  # gradient of the sum with respect to the coefficients
        var = float((pred ** 2).sum() * (math.exp(s2) - 1.0)) + float(g @ cov @ g)
        sd = math.sqrt(max(var, 0.0))
    else:
        pred = np.zeros(0)
        total, sd = month_to_date, 0.0
    if len(before):  # the estimated early days count as spent before the known ones
        month_to_date += float(pred[: len(before)].sum())
        remaining, pred = remaining[len(before):], pred[len(before):]
    p_over = 0.0
    crossing: str | None = None
    if budget is not None and budget > 0:
        if sd > 0:
            p_over = 1.0 - 0.5 * math.erfc(-(budget - total) / (sd * math.sqrt(2.0)))
        else:
            p_over = 1.0 if total > budget else 0.0
        cum = month_to_date
        if cum > budget:
            crossing = day_label(last)  # already over (the day it crossed is in the history)
        else:
            for dd, v in zip(remaining, pred, strict=True):
                cum += float(v)
                if cum > budget:
                    crossing = day_label(int(dd))
                    break
    return Forecast(month=label, month_to_date_usd=month_to_date, forecast_usd=total,
                    low_usd=max(month_to_date, total - _Z80 * sd), high_usd=total + _Z80 * sd,
                    budget_usd=budget, p_over=p_over, crossing_day=crossing, growth_pct_week=100.0 * growth,
                    growth_t=growth_t,
                    level_usd_day=max(level, 0.0), days_fitted=len(days), days_left=len(remaining),
                    daily=[round(float(v), 2) for v in pred], estimated_days=len(before))


def sustained_growth(days: Sequence[int], spend: Sequence[float], cfg: BudgetsConfig) -> dict[str, float] | None:
    """The figures of a steady creep in ``spend`` (see :class:`BudgetsConfig`, ``growth_*``), or None.

    >>> import math
    >>> days = list(range(19_400, 19_421))
    >>> creep = sustained_growth(days, [500 * math.exp(math.log(1.03) / 7 * i) for i in range(21)], BudgetsConfig())
    >>> round(creep["growth_pct_week"], 1)
    3.0
    >>> step = [500.0] * 14 + [900.0] * 7  # a level shift is not a creep
    >>> sustained_growth(days, step, BudgetsConfig()) is None
    True
    """
    days, spend = list(days)[-cfg.fit_days:], list(spend)[-cfg.fit_days:]
    n = len(days)
    if n < cfg.growth_min_days or min(spend) <= 0:
        return None
    weekly = "weekend" if _weekly_shape(days, spend) else "none"  # one weekend effect: few parameters, honest t
    beta, cov, _s2, _w, _off = fit_trend(days, spend, weekly)
    se = math.sqrt(max(cov[1, 1], 0.0))
    rate = math.exp(beta[1]) - 1.0
    t = beta[1] / se if se > 0 else (math.inf if beta[1] > 0 else 0.0)
    if not (cfg.growth_min_pct_week <= 100 * rate <= cfg.growth_max_pct_week and t >= cfg.growth_min_t):
        return None
    half = n // 2
    rates = []
    for a, b in ((0, half), (n - half, n)):
        bh, ch, *_ = fit_trend(days[a:b], spend[a:b], "weekend" if weekly != "none" else "none")
        se_h = math.sqrt(max(ch[1, 1], 0.0))
        if bh[1] <= 0 or (se_h > 0 and bh[1] / se_h < 2.0):
            return None  # a half that does not grow: a step or a ramp that stopped, not a creep
        rates.append(math.exp(bh[1]) - 1.0)
    if max(rates) / min(rates) > cfg.growth_half_ratio:
        return None
    level = spend[-1] if weekly == "none" else float(np.mean(spend[-7:]))
    extra = sum(level * ((1.0 + rate) ** (k / 7.0) - 1.0) for k in range(1, 31))
    if extra < cfg.growth_min_monthly_usd:
        return None
    return {"growth_pct_week": 100 * rate, "growth_t": float(t), "first_half_pct_week": 100 * rates[0],
            "second_half_pct_week": 100 * rates[1], "level_usd_day": level, "extra_next_30d_usd": extra,
            "days": float(n)}


def _weekly_shape(days: Sequence[int], spend: Sequence[float]) -> bool:
    """Whether weekends differ from weekdays by more than 15 % (then day-of-week effects are fitted)."""
    dow = [(int(d) + 3) % 7 for d in days]
    we = [s for s, k in zip(spend, dow, strict=True) if k >= 5]
    wd = [s for s, k in zip(spend, dow, strict=True) if k < 5]
    if not we or not wd:
        return False
    return abs(float(np.mean(we)) / max(float(np.mean(wd)), 1e-9) - 1.0) > 0.15
