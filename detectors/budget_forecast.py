"""Budgets against month-end forecasts, and slow spend growth: insights from the billing stream, not pages.

What it flags
    ``budget_forecast`` (resource ``team:<name>``, ``workload:<id>`` or ``model:<name>``; one insight
    per scope and month): the month-end forecast of a scope with a monthly budget in the
    ``budgets`` settings section crosses it with a chance of at least ``alert_probability``
    (and by ``min_over_pct``). The insight names the day the cumulative spend will cross the
    budget, the forecast with its 80 % interval, and the drivers (the workloads of a team, the
    services and SKUs of a workload, by how much their daily spend grew last week). It is
    updated daily and resolves when the chance stays below ``resolve_probability`` for two days
    in a row, or the month ends; it is dated from the last complete day when it was first
    flagged (a budget that comes back later in the month is a new insight).

    ``spend_growth`` (resource = the workload id): a workload's daily spend creeping up steadily,
    ``growth_min_pct_week`` to ``growth_max_pct_week`` a week, in both halves of the window, with a
    clear trend (``growth_min_t``) worth ``growth_min_monthly_usd`` over the next month: a storage
    bill growing 3 % a week never makes a spike, and is caught here, budget or not. A ramp that
    stopped, a level shift and weekly cycles are not a creep.

The forecast
    :func:`spendwatch.forecast.forecast_month`: a log-linear trend with day-of-week effects over
    the last ``fit_days`` complete UTC days (the learned baseline of daily spend; refitted
    without outlying days such as a spike), carried forward damped (``trend_damping``), the
    month's spend so far plus the fitted spend of each day left, an 80 % interval by the delta
    method.
    A day is judged ``settle_s`` after it ends, once its billing rows are in (they land minutes
    to an hour late). When billing was first seen mid-month, the month's earlier days are
    estimated from the fit (``evidence.estimated_days``), not taken as zero. ``spendwatch
    report`` uses the same function on the history store.

Keys and partitions
    ``billing_delta`` is keyed by ``workload.id``: workload budgets and ``spend_growth`` are exact
    in every driver. Team and model budgets add up many workloads through a small shared ledger
    per team or model in the Engine (:meth:`~detectors.base.DetectorContext.state`, only for
    scopes with a budget). Replay and the demo see every workload; a stream worker's Engine only
    its partition's, so there the team's insight is per partition (resource ``team:<t> @p3``)
    and sees part of the spend: it can open late, never falsely early. ``spendwatch report``
    forecasts every budget from the history store's full spend.

Duplicates and late rows
    A billing row seen again (same period, service, SKU, resource, model and cost) is counted once
    (the workload's last 512 rows, a filter shared with the unit-cost detector:
    :mod:`detectors.stats.seen_rows`).

Money
    Neither kind has lost anything yet: ``waste_usd`` is 0. ``projected_daily_usd`` is the
    forecast over-run spread over the month's remaining days (``budget_forecast``; the over-run
    itself is ``evidence.over_budget_usd``) or what the creep adds a day on average over the
    next 30 days (``spend_growth``).

Examples
--------
A workload spending $1,000 a day, growing 3 % a week, with a $31,000 monthly budget it will cross
near the end of March:

>>> import math
>>> from detectors.engine import Engine
>>> from spendwatch.config import Settings
>>> from spendwatch.events import validate
>>> settings = Settings({"budgets": {"workloads": {"data/lake": 31_000.0}}})
>>> engine = Engine(settings, detector_classes=[BudgetForecastDetector])
>>> t0 = 1_772_323_200.0  # 2026-03-01 00:00 UTC
>>> out = []
>>> for h in range(22 * 24):
...     cost = 1000.0 / 24 * math.exp(math.log(1.03) / 7 * h / 24)
...     out += engine.process(validate({"type": "billing_delta", "ts": t0 + (h + 1) * 3600 + 300,
...         "period_start": t0 + h * 3600, "period_end": t0 + (h + 1) * 3600, "cost_usd": cost,
...         "service": "Amazon S3", "workload": {"id": "data/lake", "team": "data"}}))
>>> sorted({(a["type"], a["kind"], a["state"]) for a in out})
[('insight', 'budget_forecast', 'open'), ('insight', 'spend_growth', 'open')]
>>> budget = [a for a in out if a["kind"] == "budget_forecast"][-1]["evidence"]
>>> budget["budget_usd"], budget["crossing_day"], budget["forecast_usd"] > 31_000
(31000.0, '2026-03-30', True)

References
----------
- R. J. Hyndman and G. Athanasopoulos, *Forecasting: principles and practice*, 3rd ed. (2021),
  ch. 7 (regression with trend and seasonal dummies) and ch. 5.5 (prediction intervals).
- FinOps Foundation, "Budgeting" and "Forecasting" capabilities (FinOps Framework): forecast
  against budget per team, with the drivers of the variance.
- AWS Budgets and AWS Cost Anomaly Detection: budgets alert on forecast crossing; slow growth
  is not an anomaly to a spike detector.
"""

from __future__ import annotations

from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.seen_rows import SEEN_ROWS, SeenRows
from spendwatch.anomaly import Finding
from spendwatch.contract import BILLING_DELTA, billing_delta_key
from spendwatch.forecast import BudgetsConfig, day_label, forecast_month, month_days, sustained_growth

DAY = 86400.0
_HISTORY_DAYS = 40
_TEAMS = "budgets.team"
_MODELS = "budgets.model"


class _Ledger:
    """Daily spend of one scope, with what it is made of (by workload, service, ...)."""

    def __init__(self) -> None:
        self.daily: dict[int, float] = {}
        self.by: dict[int, dict[str, float]] = {}
        self.first_day: int | None = None
        self.first_ts = float("inf")  # the earliest period start seen: a first day begun late is partial
        self.evaluated_day = -1
        self.open_month: str | None = None  # the month of the open budget_forecast insight
        self.open_started = 0.0  # ... and the day it was first flagged (its started_at)
        self.quiet_days = 0  # days in a row its forecast was under the resolve bar
        self.last: tuple[float, float, dict[str, Any]] = (0.0, 0.0, {})  # figures of the latest finding
        self.workload: dict[str, Any] | None = None

    def add(self, day: int, cost: float, part: str, period_start: float) -> None:
        daily = self.daily
        daily[day] = daily.get(day, 0.0) + cost
        if period_start < self.first_ts:
            self.first_ts = period_start
        by = self.by.get(day)
        if by is None:
            self.by[day] = {part: cost}
        else:
            by[part] = by.get(part, 0.0) + cost
        if self.first_day is None or day < self.first_day:
            self.first_day = day
        if len(daily) > _HISTORY_DAYS + 5:
            keep = max(self.daily) - _HISTORY_DAYS
            for d in [d for d in self.daily if d < keep]:
                del self.daily[d]
                self.by.pop(d, None)

    @property
    def first_complete_day(self) -> int | None:
        """The first day whose spend is known in full: the first seen, unless billing began after its first hour."""
        if self.first_day is None:
            return None
        return self.first_day + (1 if self.first_ts - self.first_day * DAY >= 3600.0 else 0)

    def series(self, upto: int) -> tuple[list[int], list[float]]:
        """Complete days from the first complete one (at most the history kept) up to ``upto``, zeros filled in."""
        first = self.first_complete_day
        if first is None or upto < first:
            return [], []
        start = max(first, upto - _HISTORY_DAYS + 1)
        days = list(range(start, upto + 1))
        return days, [self.daily.get(d, 0.0) for d in days]

    def drivers(self, upto: int, top: int = 3) -> list[dict[str, Any]]:
        """What grew most: mean daily spend of the last 7 days against the (up to) 7 before, by part."""
        first = self.first_complete_day if self.first_complete_day is not None else upto
        recent_days = [d for d in range(upto - 6, upto + 1) if d >= first]
        before_days = [d for d in range(upto - 13, upto - 6) if d >= first]
        recent: dict[str, float] = {}
        before: dict[str, float] = {}
        for days, acc in ((recent_days, recent), (before_days, before)):
            for d in days:
                for part, v in self.by.get(d, {}).items():
                    acc[part] = acc.get(part, 0.0) + v
        nr, nb = max(len(recent_days), 1), len(before_days)
        rows: list[dict[str, Any]] = []
        for p in set(recent) | set(before):
            now = recent.get(p, 0.0) / nr
            change = now - before.get(p, 0.0) / nb if nb else 0.0
            rows.append({"name": p, "usd_per_day": round(now, 2), "change_usd_per_day": round(change, 2)})
        rows.sort(key=lambda r: (-float(r["change_usd_per_day"]), -float(r["usd_per_day"]), str(r["name"])))
        return rows[:top]


class BudgetForecastDetector(Detector):
    """One workload's spend: its own budget and growth, and its share of its team's and models' budgets."""

    name = "budgets"
    event_types = (BILLING_DELTA,)
    kinds = ("budget_forecast", "spend_growth")
    insight_kinds = kinds
    config_cls = BudgetsConfig
    config: BudgetsConfig

    def __init__(self, key: str, config: BudgetsConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        self.ledger = _Ledger()
        self._seen: SeenRows | None = None  # the workload's shared duplicate filter (derived, not pickled)
        self.growth_open = False
        self.growth_started = 0.0
        self.growth_misses = 0
        self.growth_last: tuple[float, float, dict[str, Any]] = (0.0, 0.0, {})

    key_of = staticmethod(billing_delta_key)

    def process(self, event: dict[str, Any]) -> list[Finding]:
        # the per-row work is kept small (sums into the day's ledger); the forecast and the growth
        # test run once a day, when a day's billing is in
        seen = self._seen
        if seen is None:
            seen = self._seen = self.context.state(SEEN_ROWS, self.key, SeenRows)
        if not seen.first_time(event, self.name):
            return []  # the same row again (a redelivery, an export read twice)
        cfg = self.config
        get = event.get
        wl = event["workload"]
        led = self.ledger
        led.workload = wl
        cost = float(event["cost_usd"]) + float(get("adjustment_usd") or 0.0)
        start = event["period_start"]
        day = int(start // DAY)  # day_number, inlined
        service, sku = get("service"), get("sku")
        if service:
            part = f"{service} / {sku}" if sku else str(service)
        else:
            part = str(sku) if sku else "(unspecified)"
        led.add(day, cost, part, start)
        if cfg.teams:
            team = wl.get("team")
            if team and team in cfg.teams:
                tl: _Ledger = self.context.state(_TEAMS, team, _Ledger)
                tl.add(day, cost, wl["id"], start)
                if tl.workload is None or tl.workload.get("id") == wl["id"] or cost > 0:
                    tl.workload = {"id": f"team/{team}", "team": team, **({"owner": wl["owner"]} if wl.get("owner")
                                                                         else {})}
        if cfg.models:
            model = get("model")
            if model and model in cfg.models:
                ml: _Ledger = self.context.state(_MODELS, model, _Ledger)
                ml.add(day, cost, wl["id"], start)
                ml.workload = {"id": f"model/{model}", **{k: wl[k] for k in ("team", "owner") if wl.get(k)}}
        # judge the days whose billing is in: up to the last day that ended settle_s ago
        done = int((event["ts"] - cfg.settle_s) // DAY) - 1  # day_number, inlined
        if done <= led.evaluated_day:
            return []
        return self._evaluate(done)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_seen", None)  # shared state: the Engine snapshots it once, with the others
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._seen = None

    def restored(self) -> None:
        legacy = self.__dict__.pop("rows", None)  # a snapshot from before the filter was shared
        self.__dict__.pop("row_set", None)
        if legacy:
            self.context.state(SEEN_ROWS, self.key, SeenRows).absorb(legacy)

    # ---------------------------------------------------------------- deciding
    def _evaluate(self, done: int) -> list[Finding]:
        cfg = self.config
        out: list[Finding] = []
        led = self.ledger
        led.evaluated_day = done
        out.extend(self._growth(done))
        wid = self.key
        if wid in cfg.workloads:
            out.extend(self._budget(led, f"workload:{wid}", cfg.workloads[wid], done, "service"))
        team = (led.workload or {}).get("team")
        if team and team in cfg.teams:
            tl: _Ledger = self.context.state(_TEAMS, team, _Ledger)
            if done > tl.evaluated_day:
                tl.evaluated_day = done
                out.extend(self._budget(tl, self._scoped(f"team:{team}"), cfg.teams[team], done, "workload"))
        for model, budget in cfg.models.items():
            ml: _Ledger | None = self.context.states.get((_MODELS, model))
            if ml is not None and done > ml.evaluated_day:
                ml.evaluated_day = done
                out.extend(self._budget(ml, self._scoped(f"model:{model}"), budget, done, "workload"))
        return out

    def _scoped(self, resource: str) -> str:
        scope = self.context.scope
        return f"{resource} @{scope}" if scope else resource

    def _budget(self, led: _Ledger, resource: str, budget: float, done: int, by: str) -> list[Finding]:
        cfg = self.config
        out: list[Finding] = []
        first, _last, month = month_days(done + 1)
        if led.open_month is not None and led.open_month != month:
            waste, daily, ev = led.last
            out.append(self._budget_finding(led, resource, False, first * DAY - DAY, waste, daily, ev))
            led.open_month = None
        days, spend = led.series(done)
        if len(days) < cfg.min_days:
            return out
        mtd = sum(s for d, s in zip(days, spend, strict=True) if d >= first)
        f = forecast_month(days, spend, budget=budget, month_to_date=mtd, fit_days=cfg.fit_days,
                           known_from=led.first_complete_day, damping=cfg.trend_damping)
        over = f.forecast_usd - budget
        flagged = f.p_over >= cfg.alert_probability and over >= cfg.min_over_pct / 100.0 * budget
        if led.open_month is None and not flagged:
            return out
        if led.open_month is not None and f.p_over < cfg.resolve_probability:
            led.quiet_days += 1
            if led.quiet_days < 2:  # one day's forecast under the bar is not the end of it
                return out
            waste, daily, ev = led.last
            out.append(self._budget_finding(led, resource, False, (done + 1) * DAY, waste, daily, ev))
            led.open_month = None
            return out
        led.quiet_days = 0
        evidence = {"scope": resource.split(" @")[0], "month": f.month, "budget_usd": round(budget, 2),
                    "month_to_date_usd": round(f.month_to_date_usd, 2), "forecast_usd": round(f.forecast_usd, 2),
                    "forecast_low_usd": round(f.low_usd, 2), "forecast_high_usd": round(f.high_usd, 2),
                    "p_over": round(f.p_over, 3), "crossing_day": f.crossing_day,
                    "growth_pct_week": round(f.growth_pct_week, 2), "level_usd_per_day": round(f.level_usd_day, 2),
                    "days_left": f.days_left, "days_fitted": f.days_fitted, "as_of": day_label(done),
                    "estimated_days": f.estimated_days,
                    "drivers_by": by, "drivers": led.drivers(done),
                    "action": "cut or move the drivers' spend, or raise the budget before the crossing day"}
        evidence["over_budget_usd"] = round(max(over, 0.0), 2)
        # a forecast has lost nothing yet: waste 0; per day, the over-run spread over the days left
        waste = 0.0
        daily = max(over, 0.0) / max(f.days_left, 1)
        led.last = (waste, daily, evidence)
        if led.open_month is None:
            led.open_month, led.open_started = month, done * DAY
        out.append(self._budget_finding(led, resource, True, (done + 1) * DAY + cfg.settle_s, waste, daily, evidence))
        return out

    def _budget_finding(self, led: _Ledger, resource: str, active: bool, at: float, waste: float, daily: float,
                        evidence: dict[str, Any]) -> Finding:
        scope = evidence.get("scope", resource)
        drivers = ", ".join(f"{d['name']} {'+' if d['change_usd_per_day'] >= 0 else ''}"
                            f"${d['change_usd_per_day']:,.0f}/day" for d in evidence.get("drivers", [])[:3])
        when = f"crosses it on {evidence.get('crossing_day')}" if evidence.get("crossing_day") else "ends over it"
        verb = "heading over" if active else "was heading over"
        summary = (f"{scope} {verb} its ${evidence.get('budget_usd', 0):,.0f} budget for {evidence.get('month')}: "
                   f"forecast ${evidence.get('forecast_usd', 0):,.0f} (80%: ${evidence.get('forecast_low_usd', 0):,.0f}"
                   f"-${evidence.get('forecast_high_usd', 0):,.0f}) {when}; drivers: {drivers or '-'}")
        return Finding(kind="budget_forecast", resource=resource, workload=led.workload, started_at=led.open_started,
                       at=at, active=active, waste_usd=waste, projected_daily_usd=daily, summary=summary,
                       evidence=dict(evidence))

    def _growth(self, done: int) -> list[Finding]:
        cfg = self.config
        days, spend = self.ledger.series(done)
        g = sustained_growth(days, spend, cfg) if len(days) >= cfg.growth_min_days else None
        at = (done + 1) * DAY + cfg.settle_s
        if g is None:
            if not self.growth_open:
                return []
            self.growth_misses += 1
            if self.growth_misses < 2:
                return []  # one day that does not fit is not the end of a creep
            self.growth_open = False
            waste, daily, ev = self.growth_last
            return [self._growth_finding(False, at, waste, daily, ev)]
        self.growth_misses = 0
        if not self.growth_open:
            self.growth_open = True
            self.growth_started = days[0] * DAY
        evidence = {"growth_pct_week": round(g["growth_pct_week"], 2), "growth_t": round(g["growth_t"], 1),
                    "first_half_pct_week": round(g["first_half_pct_week"], 2),
                    "second_half_pct_week": round(g["second_half_pct_week"], 2),
                    "level_usd_per_day": round(g["level_usd_day"], 2), "days": int(g["days"]),
                    "extra_next_30d_usd": round(g["extra_next_30d_usd"], 2),
                    "first_day": day_label(days[0]), "as_of": day_label(done), "drivers": self.ledger.drivers(done),
                    "action": "find what accumulates (retention, replicas, logs) and set a lifecycle or a budget"}
        grown = spend[-1] - spend[0] if spend else 0.0
        waste = 0.0  # growth is not a loss by itself; per day: what it adds over the next 30 days, on average
        daily = g["extra_next_30d_usd"] / 30.0
        self.growth_last = (waste, daily, {**evidence, "grown_usd_per_day": round(grown, 2)})
        return [self._growth_finding(True, at, waste, daily, self.growth_last[2])]

    def _growth_finding(self, active: bool, at: float, waste: float, daily: float,
                        evidence: dict[str, Any]) -> Finding:
        verb = "is creeping up" if active else "was creeping up"
        summary = (f"{self.key} spend {verb} {evidence.get('growth_pct_week'):.1f}% a week for "
                   f"{evidence.get('days')} days (now ${evidence.get('level_usd_per_day'):,.0f}/day): "
                   f"+${evidence.get('extra_next_30d_usd'):,.0f} over the next 30 days if it goes on")
        return Finding(kind="spend_growth", resource=self.key, workload=self.ledger.workload,
                       started_at=self.growth_started, at=at, active=active, waste_usd=waste,
                       projected_daily_usd=daily, summary=summary, evidence=dict(evidence))

