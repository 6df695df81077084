"""Hourly usage facts for ``spendwatch report`` (``sw_usage_hourly``): what was spent, held, idle and served.

The anomaly history says what was *lost*; the report also needs what was *spent* (showback by
team, workload, model and service), how much GPU time each team held and left idle (the idle
cost view), how many predictions each served model made (unit costs) and what training cost per
model. :class:`UsageRollup` adds those up by UTC hour from the validated input events a driver
sees; :meth:`UsageLedger.write` replaces the rows of every key it covers, so writing the same
run twice changes nothing.

Metrics (``metric`` column; ``dim`` names what the value is split by):

==================  ==========================================  ======================
metric              value                                       dim
==================  ==========================================  ======================
``spend``           billed dollars (``cost_usd`` + adjustment)  service (``''`` none)
``spend_model``     billed dollars of rows that name a model    the billed model
``gpu_hours``       GPU-hours sampled (allocated or not)        ``''``
``gpu_idle_hours``  ... of them idle (activity below 2 %)       ``''``
``gpu_usd``         their dollars (sample price, else the       ``''``
                    last seen, else the price table)
``gpu_idle_usd``    ... of the idle ones                        ``''``
``predictions``     values served (a batch's longest array)     model id
``training_usd``    cost of finished training runs              model id
``training_runs``   finished training runs                      model id
==================  ==========================================  ======================

GPU metrics for GPUs allocated to nobody have workload and team ``''``. MIG slices count as
their share of a GPU-hour in dollars, as one stream in hours.

Who feeds it: ``spendwatch demo`` and ``spendwatch replay --history`` (they see every input
event). The stream worker does not yet (like ``sw_spend_hourly``): a deployment's report then
has the anomaly and insight sections and says that its usage sections are empty.

Examples
--------
>>> r = UsageRollup()
>>> r.add({"type": "billing_delta", "period_start": 7200.0, "cost_usd": 3.0, "service": "S3",
...        "workload": {"id": "data/lake", "team": "data"}})
>>> r.add({"type": "gpu_sample", "ts": 7260.0, "node": "n", "gpu_uuid": "G", "interval_s": 60.0,
...        "util_gpu_pct": 0.0, "price_per_hour_usd": 3.0, "workload": {"id": "ml/x", "team": "ml"}})
>>> sorted((k[1], k[2], k[3], k[4], round(v, 3)) for k, v in r.totals.items())  # doctest: +NORMALIZE_WHITESPACE
[('gpu_hours', 'ml', 'ml/x', '', 0.017), ('gpu_idle_hours', 'ml', 'ml/x', '', 0.017),
 ('gpu_idle_usd', 'ml', 'ml/x', '', 0.05), ('gpu_usd', 'ml', 'ml/x', '', 0.05),
 ('spend', 'data', 'data/lake', 'S3', 3.0)]
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from spendwatch.contract import BILLING_DELTA, GPU_SAMPLE, MODEL_OBSERVATION, TRAINING_RUN
from spendwatch.history import schema
from spendwatch.prices import PriceTable

HOUR = 3600.0
IDLE_BELOW_PCT = 2.0  # as the idle detectors' default
METRICS = ("spend", "spend_model", "gpu_hours", "gpu_idle_hours", "gpu_usd", "gpu_idle_usd", "predictions",
           "training_usd", "training_runs")

Key = tuple[float, str, str, str, str]  # hour, metric, team, workload id, dim


class UsageRollup:
    """Hourly usage totals, fed validated input events of any type."""

    def __init__(self, prices: PriceTable | None = None) -> None:
        self.totals: dict[Key, float] = {}
        self.prices = prices or PriceTable()
        self._last_ts: dict[str, float] = {}
        self._last_price: dict[str, float] = {}
        self._runs: set[str] = set()

    def _put(self, hour: float, metric: str, wl: Mapping[str, Any] | None, dim: str, value: float) -> None:
        wl = wl or {}
        key = (hour, metric, str(wl.get("team") or ""), str(wl.get("id") or ""), dim)
        self.totals[key] = self.totals.get(key, 0.0) + value

    def add(self, event: Mapping[str, Any]) -> None:
        etype = event.get("type")
        if etype == GPU_SAMPLE:
            self._gpu(event)
        elif etype == BILLING_DELTA:
            wl = event.get("workload")
            cost = float(event.get("cost_usd") or 0.0) + float(event.get("adjustment_usd") or 0.0)
            hour = math.floor(float(event["period_start"]) / HOUR) * HOUR
            self._put(hour, "spend", wl, str(event.get("service") or ""), cost)
            if event.get("model"):
                self._put(hour, "spend_model", wl, str(event["model"]), cost)
        elif etype == MODEL_OBSERVATION:
            values = event.get("values") or {}
            n = max((len(v) for v in values.values()), default=0)
            self._put(math.floor(float(event["ts"]) / HOUR) * HOUR, "predictions", event.get("workload"),
                      str(event.get("model_id") or ""), float(n))
        elif etype == TRAINING_RUN and event.get("status") in ("succeeded", "failed", "cancelled"):
            rid = str(event.get("run_id"))
            if rid in self._runs:
                return
            self._runs.add(rid)
            given = event.get("cost_usd")
            if given is not None:
                cost = float(given)
            else:
                labels = (event.get("workload") or {}).get("labels") or {}
                cost = float(event.get("gpu_hours") or 0.0) * self.prices.training_gpu_per_hour(labels.get("gpu_model"))
            hour = math.floor(float(event.get("ended_at") or event["ts"]) / HOUR) * HOUR
            self._put(hour, "training_usd", event.get("workload"), str(event.get("model_id") or ""), cost)
            self._put(hour, "training_runs", event.get("workload"), str(event.get("model_id") or ""), 1.0)

    def _gpu(self, event: Mapping[str, Any]) -> None:
        key = f"{event.get('node')}/{event.get('mig_uuid') or event.get('gpu_uuid')}"
        ts = float(event["ts"])
        last = self._last_ts.get(key)
        if last is not None and ts <= last:
            return
        self._last_ts[key] = ts
        hours = float(event["interval_s"]) / HOUR
        given = event.get("price_per_hour_usd")
        if given is not None:
            price = self._last_price[key] = float(given)
        elif key in self._last_price:
            price = self._last_price[key]
        else:
            price = self.prices.gpu_sample_per_hour(event)
        sm = event.get("sm_active_pct")
        activity = sm if sm is not None else event.get("util_gpu_pct", 0.0)
        hour = math.floor(ts / HOUR) * HOUR
        wl = event.get("workload")
        self._put(hour, "gpu_hours", wl, "", hours)
        self._put(hour, "gpu_usd", wl, "", hours * float(price))
        if activity < IDLE_BELOW_PCT:
            self._put(hour, "gpu_idle_hours", wl, "", hours)
            self._put(hour, "gpu_idle_usd", wl, "", hours * float(price))

    def add_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        for e in events:
            self.add(e)


class UsageLedger:
    """The ``sw_usage_hourly`` table of a history database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def write(self, rollup: UsageRollup) -> int:
        """Replace the stored value of every key in ``rollup``; returns rows written."""
        t = schema.usage_hourly
        now = time.time()
        clean = schema.clean_text  # NUL in a team or workload id: PostgreSQL refuses it in text
        rows: dict[tuple[float, str, str, str, str], float] = {}
        for (hour, metric, team, wid, dim), value in rollup.totals.items():
            key = (hour, clean(metric), clean(team), clean(wid), clean(dim))
            rows[key] = rows.get(key, 0.0) + value
        if not rows:
            return 0
        params = [{"h": h, "m": m, "t": tm, "w": w, "d": d} for h, m, tm, w, d in rows]
        delete = t.delete().where(t.c.hour == sa.bindparam("h"), t.c.metric == sa.bindparam("m"),
                                  t.c.team == sa.bindparam("t"), t.c.workload_id == sa.bindparam("w"),
                                  t.c.dim == sa.bindparam("d"))
        with self.engine.begin() as conn:  # two batched statements: row by row took seconds on PostgreSQL
            conn.execute(delete, params)
            conn.execute(t.insert(), [{"hour": h, "metric": m, "team": tm, "workload_id": w, "dim": d,
                                       "value": round(v, 6), "updated_at": now}
                                      for (h, m, tm, w, d), v in rows.items()])
        return len(rows)

    def rows(self, from_ts: float | None = None, to_ts: float | None = None,
             metrics: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Rows (hour, metric, team, workload_id, dim, value) with ``from_ts <= hour < to_ts``, oldest first."""
        t = schema.usage_hourly
        stmt = sa.select(t.c.hour, t.c.metric, t.c.team, t.c.workload_id, t.c.dim, t.c.value)
        if from_ts is not None:
            stmt = stmt.where(t.c.hour >= math.floor(from_ts / HOUR) * HOUR)
        if to_ts is not None:
            stmt = stmt.where(t.c.hour < to_ts)
        if metrics:
            stmt = stmt.where(t.c.metric.in_(list(metrics)))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt.order_by(t.c.hour, t.c.metric, t.c.team,
                                                                         t.c.workload_id, t.c.dim))]

    def first_hour(self, metric: str) -> float | None:
        """The earliest hour with a row of ``metric`` (when the history's spend begins)."""
        t = schema.usage_hourly
        with self.engine.connect() as conn:
            v = conn.execute(sa.select(sa.func.min(t.c.hour)).where(t.c.metric == metric)).scalar()
        return None if v is None else float(v)
