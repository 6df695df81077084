"""Unit costs: cost per 1,000 predictions per served model, and ``unit_cost_rise`` (an insight, not a page).

The join
    A model's cost per prediction needs two streams keyed differently: its traffic
    (``model_observation``, keyed by ``model_id``; predictions = the batch size, the longest
    value array of the batch) and its workload's spend (``billing_delta``, keyed by
    ``workload.id``). One detector class takes both; an instance per key records into two small
    ledgers the Engine shares (:meth:`~detectors.base.DetectorContext.state`, snapshotted):

    - per workload id: hourly spend (with its services and SKUs) and hourly predictions of all
      its models (a workload serving several models splits its spend by their traffic), and
      the models it serves, learnt from the observations' ``workload.id``;
    - per model: hourly predictions and batches, and its lifecycle.

    An hour's unit cost is computed once the billing of the next hour begins to arrive (so every
    row of the hour is in; rows land minutes after the hour, and its traffic is complete by
    then). State: the hourly figures for ``keep_hours`` (8 days) per workload and per model,
    with a workload's spend by service and SKU: about 9 KiB per workload, pickled (``python -m
    bench insights``), less for a workload that bills one SKU only (its spend by SKU is its spend,
    so no per-hour split is kept until a second SKU appears). A billing row seen again is counted
    once: the workload's duplicate filter (its last 512 rows, about 16 KiB) is shared with the
    budgets detector (:mod:`detectors.stats.seen_rows`).

    Partitions: replay and the demo see both sides. In a stream worker a model's observations and
    its workload's billing are in one partition only when ``model_id`` and ``workload.id`` hash
    alike; where they do not, the detector has no unit cost for the model (it misses, it never
    invents one) and ``spendwatch report`` computes unit costs from the history store instead.

What it flags (kind ``unit_cost_rise``, resource = ``model_id``)
    The cost per 1,000 predictions of the last ``window_hours`` (pooled) against the model's own
    baseline: the median hourly unit cost of the hours before it, over up to ``baseline_hours``,
    the same hours of the day when a day or more is known (a median, so the first dearer hours
    do not raise the bar they are judged against). It opens when the unit cost is ``rise_ratio`` times the
    baseline or more while the traffic per hour stays within ``traffic_band`` of the baseline's
    (the same traffic: a pricier instance or model, a bigger fleet, lost batching), worth
    ``min_daily_usd`` a day; and it resolves below ``resolve_ratio``. While open the baseline
    does not learn from the risen hours. The evidence lists the contributors: spend by service
    and SKU before and now, traffic and the batch size before and now.

Examples
--------
An endpoint at $9 an hour serving 3,000 predictions an hour moves to an instance twice the
price, for the same traffic:

>>> from detectors.engine import Engine
>>> from spendwatch.events import validate
>>> engine = Engine(detector_classes=[UnitCostDetector])
>>> wl = {"id": "ads/ctr-serving", "kind": "inference", "team": "ads"}
>>> out = []
>>> for m in range(24 * 60):
...     t = 1_774_310_400.0 + m * 60
...     out += engine.process(validate({"type": "model_observation", "ts": t + 30, "model_id": "ctr",
...                                     "workload": wl, "values": {"p": [0.5] * 50}}))
...     if m % 60 == 59:
...         h = t - 3540
...         sku, cost = ("ml.g5.2xlarge", 9.0) if m < 12 * 60 else ("ml.g5.12xlarge", 18.0)
...         out += engine.process(validate({"type": "billing_delta", "ts": h + 3600 + 300, "period_start": h,
...                                         "period_end": h + 3600, "cost_usd": cost, "sku": sku, "workload": wl}))
>>> [(a["type"], a["kind"], a["resource"], a["state"], a["evidence"]["ratio"]) for a in out[:2]]
[('insight', 'unit_cost_rise', 'ctr', 'open', 1.67), ('insight', 'unit_cost_rise', 'ctr', 'open', 2.0)]
>>> len({a["id"] for a in out}), out[-1]["waste_usd"]  # one insight, updated as the excess grows
(1, 81.0)
>>> latest = out[-1]["evidence"]
>>> latest["unit_cost_usd_per_1k"], latest["baseline_usd_per_1k"], latest["predictions_per_hour"]
(6.0, 3.0, 3000.0)
>>> [c["name"] for c in latest["contributors"]]
['ml.g5.12xlarge', 'ml.g5.2xlarge']

It opened with the second dearer hour (two of the three pooled hours), before the rise was complete.

References
----------
- FinOps Foundation, "Unit Economics" capability (FinOps Framework): cost per unit of business
  value (here, per prediction) as the number engineering and finance share.
- J. Hellerstein et al., "Serverless computing: one step forward, two steps back", CIDR 2019,
  and C. Olston et al., "TensorFlow-Serving", 2017: batching as the main lever on the cost of
  a prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, DetectorContext
from detectors.stats.seen_rows import SEEN_ROWS, SeenRows
from spendwatch.anomaly import Finding
from spendwatch.contract import BILLING_DELTA, MODEL_OBSERVATION, kafka_key

HOUR = 3600.0
_WORKLOADS = "unit_cost.workload"
_MODELS = "unit_cost.model"


@dataclass(frozen=True)
class UnitCostConfig:
    """``unit_cost`` section.

    Parameters
    ----------
    window_hours
        Hours pooled into the current unit cost (3).
    baseline_hours
        Hours before the window the baseline may use (168: a week).
    min_baseline_hours
        Joined hours (spend and traffic) the baseline needs (2).
    rise_ratio
        Current over baseline unit cost that opens ``unit_cost_rise`` (1.5) ...
    resolve_ratio
        ... and below which it resolves (1.2).
    traffic_band
        The traffic per hour must stay within this factor of the baseline's (1.5): a unit cost
        that rises because traffic fell is an idle fleet, not a pricier prediction.
    min_daily_usd
        The excess (unit cost above the baseline x predictions a day) must be worth this (10).
    keep_hours
        Hours of spend and traffic kept per workload and model (192).
    """

    window_hours: int = 3
    baseline_hours: int = 168
    min_baseline_hours: int = 2
    rise_ratio: float = 1.5
    resolve_ratio: float = 1.2
    traffic_band: float = 1.5
    min_daily_usd: float = 10.0
    keep_hours: int = 192


class _WorkloadLedger:
    """Hourly spend (and by service/SKU) and hourly predictions of every model of one workload."""

    def __init__(self) -> None:
        self.cost: dict[int, float] = {}
        # spend by SKU or service per hour: most workloads bill one part only, so while there is one its
        # name is all that is kept (its hours are ``cost``); a second part makes the per-hour dicts
        self.part: str | None = None
        self.parts: dict[int, dict[str, float]] | None = None
        self.predictions: dict[int, float] = {}
        self.models: dict[str, None] = {}
        self.newest_hour = -1  # the latest hour a billing period started in: the hours before it are complete
        # duplicate rows: the workload's shared filter (detectors.stats.seen_rows), not one of its own

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "part" not in state:  # a snapshot from before the one-part form: its per-hour dicts stay as they are
            state["part"] = None
        self.__dict__.update(state)

    def parts_at(self, hour: int) -> dict[str, float] | None:
        """Spend by part (SKU or service) in ``hour``; None where the hour has no row."""
        if self.parts is not None:
            return self.parts.get(hour)
        usd = self.cost.get(hour)
        return None if usd is None or self.part is None else {self.part: usd}


class _ModelLedger:
    """Hourly predictions and batches of one model, and its lifecycle."""

    def __init__(self) -> None:
        self.predictions: dict[int, float] = {}
        self.batches: dict[int, int] = {}
        self.workload: dict[str, Any] | None = None
        self.last_ts = float("-inf")
        self.open_since: int | None = None  # first hour of the window that opened it
        self.baseline: tuple[float, float, int] | None = None  # frozen while open: $/1k, predictions/h, hours
        self.last: tuple[float, float, dict[str, Any]] = (0.0, 0.0, {})
        self.started_at = 0.0
        self.evaluated_hour = -1


class UnitCostDetector(Detector):
    """A workload's spend (billing keys) or a model's traffic (model keys), joined through shared ledgers."""

    name = "unit_cost"
    event_types = (BILLING_DELTA, MODEL_OBSERVATION)
    kinds = ("unit_cost_rise",)
    insight_kinds = kinds
    config_cls = UnitCostConfig
    config: UnitCostConfig

    def __init__(self, key: str, config: UnitCostConfig, context: DetectorContext) -> None:
        super().__init__(key, config, context)
        # a billing key's workload ledger and duplicate filter: shared state, looked up once (not pickled)
        self._wlg: _WorkloadLedger | None = None
        self._seen: SeenRows | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_wlg", None)  # shared state: the Engine snapshots it once, with the others
        state.pop("_seen", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self._wlg = self._seen = None

    def restored(self) -> None:
        wlg = self.context.states.get((_WORKLOADS, self.key))
        legacy = wlg.__dict__.pop("rows", None) if wlg is not None else None  # a snapshot from before
        if wlg is not None:                                                     # the filter was shared
            wlg.__dict__.pop("row_set", None)
        if legacy:
            self.context.state(SEEN_ROWS, self.key, SeenRows).absorb(legacy)

    key_of = staticmethod(kafka_key)  # workload.id for billing, model_id for observations

    def process(self, event: dict[str, Any]) -> list[Finding]:
        if event["type"] == MODEL_OBSERVATION:
            self._observe(event)
            return []
        return self._bill(event)

    # ----------------------------------------------------------------- ledgers
    def _observe(self, event: dict[str, Any]) -> None:
        ml: _ModelLedger = self.context.state(_MODELS, event["model_id"], _ModelLedger)
        ts = event["ts"]
        if ts <= ml.last_ts:
            return  # a duplicate or late batch: counted already
        ml.last_ts = ts
        n = float(max((len(v) for v in event["values"].values()), default=0))
        hour = int(ts // HOUR)
        ml.predictions[hour] = ml.predictions.get(hour, 0.0) + n
        ml.batches[hour] = ml.batches.get(hour, 0) + 1
        wl = event["workload"]
        ml.workload = wl
        wlg: _WorkloadLedger = self.context.state(_WORKLOADS, wl["id"], _WorkloadLedger)
        wlg.predictions[hour] = wlg.predictions.get(hour, 0.0) + n
        if event["model_id"] not in wlg.models:
            wlg.models[event["model_id"]] = None
        keep = self.config.keep_hours
        if len(ml.predictions) > keep + 24:
            _prune(hour - keep, ml.predictions, ml.batches)
            _prune(hour - keep, wlg.predictions)

    def _bill(self, event: dict[str, Any]) -> list[Finding]:
        # per row: sums into the hour's ledger; the unit costs are worked out once an hour is complete
        seen = self._seen
        if seen is None:
            seen = self._seen = self.context.state(SEEN_ROWS, self.key, SeenRows)
        if not seen.first_time(event, self.name):
            return []  # the same row again
        wlg = self._wlg
        if wlg is None:
            wlg = self._wlg = self.context.state(_WORKLOADS, self.key, _WorkloadLedger)
        get = event.get
        cost = float(event["cost_usd"]) + float(get("adjustment_usd") or 0.0)
        a, b = float(event["period_start"]), float(event["period_end"])
        first = int(a // HOUR)
        last = int((b - 1e-6) // HOUR)
        if last < first:
            last = first
        if last - first > 48:
            return []  # a monthly or weekly row says nothing about hours
        part = str(get("sku") or get("service") or "(unspecified)")
        share = cost / (last - first + 1)
        cost_h, parts_h = wlg.cost, wlg.parts
        if parts_h is None:
            if wlg.part is None:
                wlg.part = part
            elif part != wlg.part:  # a second part: every hour so far was the first one's alone
                parts_h = wlg.parts = {h: {wlg.part: usd} for h, usd in cost_h.items()}
        for h in range(first, last + 1):
            cost_h[h] = cost_h.get(h, 0.0) + share
            if parts_h is not None:
                parts = parts_h.get(h)
                if parts is None:
                    parts_h[h] = {part: share}
                else:
                    parts[part] = parts.get(part, 0.0) + share
        if len(cost_h) > self.config.keep_hours + 24:
            _prune(last - self.config.keep_hours, cost_h)
            if parts_h is not None:
                _prune(last - self.config.keep_hours, parts_h)
        if first <= wlg.newest_hour:
            return []
        # a period of a new hour began: the hours before it have all their rows (an hour's token spend
        # comes as several rows, seconds apart)
        wlg.newest_hour = first
        out: list[Finding] = []
        for model in wlg.models:
            out.extend(self._evaluate(model, wlg, first - 1, event["ts"]))
        return out

    # ---------------------------------------------------------------- deciding
    def _evaluate(self, model: str, wlg: _WorkloadLedger, hour: int, now: float) -> list[Finding]:
        cfg = self.config
        ml: _ModelLedger | None = self.context.states.get((_MODELS, model))
        if ml is None or hour <= ml.evaluated_hour:
            return []
        ml.evaluated_hour = hour

        def joined(h: int) -> tuple[float, float] | None:
            p, total, c = ml.predictions.get(h, 0.0), wlg.predictions.get(h, 0.0), wlg.cost.get(h)
            if p <= 0 or total <= 0 or c is None:
                return None
            return c * p / total, p

        window = range(hour - cfg.window_hours + 1, hour + 1)
        cur = [j for j in (joined(h) for h in window) if j is not None]
        if len(cur) < cfg.window_hours:
            return []
        cur_cost, cur_pred = sum(c for c, _ in cur), sum(p for _, p in cur)
        unit = 1000.0 * cur_cost / cur_pred
        base = ml.baseline if ml.open_since is not None else None
        if base is None:
            base = self._baseline(ml, wlg, window.start, joined)
            if base is None:
                return []
        base_unit, base_rate, base_hours = base
        ratio = unit / base_unit if base_unit > 0 else float("inf")
        rate = cur_pred / len(cur)
        same_traffic = 1.0 / cfg.traffic_band <= rate / base_rate <= cfg.traffic_band if base_rate > 0 else False
        excess_daily = (unit - base_unit) / 1000.0 * rate * 24.0
        if ml.open_since is None:
            if not (ratio >= cfg.rise_ratio and same_traffic and excess_daily >= cfg.min_daily_usd):
                return []
            ml.open_since, ml.baseline = window.start, base
            ml.started_at = window.start * HOUR
        elif ratio < cfg.resolve_ratio:
            waste, daily, evidence = ml.last
            ml.open_since, ml.baseline = None, None
            return [self._finding(model, ml, False, now, waste, daily, evidence)]
        contributors = self._contributors(wlg, ml, window, base_hours)
        hours_open = hour - ml.open_since + 1
        risen = [j for j in (joined(h) for h in range(ml.open_since, hour + 1)) if j is not None]
        waste = max(0.0, sum(c - base_unit / 1000.0 * p for c, p in risen))
        batch_now = cur_pred / max(1, sum(ml.batches.get(h, 0) for h in window))
        evidence = {"model_id": model, "workload_id": (ml.workload or {}).get("id"),
                    "unit_cost_usd_per_1k": round(unit, 4), "baseline_usd_per_1k": round(base_unit, 4),
                    "ratio": round(ratio, 2), "predictions_per_hour": round(rate, 1),
                    "baseline_predictions_per_hour": round(base_rate, 1), "window_hours": cfg.window_hours,
                    "baseline_hours": base_hours, "hours_risen": hours_open,
                    "batch_size_now": round(batch_now, 1), "contributors": contributors,
                    "action": "undo what made a prediction dearer (the contributors: an instance type, a model, "
                              "more replicas, smaller batches) or accept it as the new unit cost"}
        ml.last = (waste, excess_daily, evidence)
        return [self._finding(model, ml, True, now, waste, excess_daily, evidence)]

    def _baseline(self, ml: _ModelLedger, wlg: _WorkloadLedger, before: int,
                  joined: Any) -> tuple[float, float, int] | None:
        cfg = self.config
        hours = [h for h in range(before - cfg.baseline_hours, before) if joined(h) is not None]
        if len(hours) < cfg.min_baseline_hours:
            return None
        span = hours[-1] - hours[0] + 1
        if span >= 24:  # a day or more: compare like hours of the day with like
            of_day = {(before + k) % 24 for k in range(cfg.window_hours)}
            like = [h for h in hours if h % 24 in of_day]
            if len(like) >= cfg.min_baseline_hours:
                hours = like
        pairs = [joined(h) for h in hours]
        # the median hour: the first dearer hours (before a rise is confirmed) do not move it
        units = sorted(1000.0 * c / p for c, p in pairs)
        mid = len(units) // 2
        median = units[mid] if len(units) % 2 else 0.5 * (units[mid - 1] + units[mid])
        return median, sum(p for _c, p in pairs) / len(pairs), len(pairs)

    def _contributors(self, wlg: _WorkloadLedger, ml: _ModelLedger, window: range,
                      base_hours: int) -> list[dict[str, Any]]:
        """Spend by SKU or service per hour now (the window) against before the rise."""
        start = ml.open_since if ml.open_since is not None else window.start
        before_hours = [h for h in range(start - self.config.baseline_hours, start) if h in wlg.cost]
        now: dict[str, float] = {}
        was: dict[str, float] = {}
        for h in window:
            for k, v in (wlg.parts_at(h) or {}).items():
                now[k] = now.get(k, 0.0) + v / len(window)
        for h in before_hours:
            for k, v in (wlg.parts_at(h) or {}).items():
                was[k] = was.get(k, 0.0) + v / len(before_hours)
        rows: list[dict[str, Any]] = [{"name": k, "usd_per_hour_now": round(now.get(k, 0.0), 4),
                 "usd_per_hour_before": round(was.get(k, 0.0), 4),
                 "change_usd_per_hour": round(now.get(k, 0.0) - was.get(k, 0.0), 4)} for k in set(now) | set(was)]
        rows.sort(key=lambda r: (-abs(float(r["change_usd_per_hour"])), str(r["name"])))
        return rows[:5]

    def _finding(self, model: str, ml: _ModelLedger, active: bool, at: float, waste: float, daily: float,
                 evidence: dict[str, Any]) -> Finding:
        top = evidence.get("contributors") or []
        why = ", ".join(f"{c['name']} {'+' if c['change_usd_per_hour'] >= 0 else ''}${c['change_usd_per_hour']:.2f}/h"
                        for c in top[:2])
        verb = "costs" if active else "cost"
        summary = (f"{model} {verb} ${evidence.get('unit_cost_usd_per_1k', 0):.2f} per 1,000 predictions, "
                   f"{evidence.get('ratio')}x its ${evidence.get('baseline_usd_per_1k', 0):.2f} for the same traffic "
                   f"({evidence.get('predictions_per_hour', 0):,.0f}/h): +${daily:,.0f}/day; {why or '-'}")
        return Finding(kind="unit_cost_rise", resource=model, workload=ml.workload, started_at=ml.started_at,
                       at=at, active=active, waste_usd=waste, projected_daily_usd=daily, summary=summary,
                       evidence=dict(evidence))


def _prune(before: int, *ledgers: dict[int, Any]) -> None:
    for ledger in ledgers:
        for h in [h for h in ledger if h < before]:
            del ledger[h]
