"""Spend per hour, team and workload (``sw_spend_hourly``), for the dashboard's spend plots.

The anomaly history says what was *lost*; to draw it against what was *spent* the history keeps
hourly spend totals from the ``billing_delta`` events a driver saw. :class:`SpendRollup` adds up
``cost_usd`` (plus ``adjustment_usd``, which may be negative) by the UTC hour of ``period_start``,
team (``''`` when none) and ``workload.id``; :meth:`SpendLedger.write` replaces the rows for the
hours it covers, so writing the same run twice changes nothing.

Who feeds it: ``spendwatch demo`` and ``spendwatch replay --history`` (they see every input
event). The stream worker does not yet (its consumer is outside this module); until it does a
deployment's spend plots stay empty and the dashboard says so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from spendwatch.contract import BILLING_DELTA
from spendwatch.history import schema

HOUR = 3600.0


class SpendRollup:
    """Hourly spend totals, fed validated input events (other types are ignored)."""

    def __init__(self) -> None:
        self.totals: dict[tuple[float, str, str], float] = {}

    def add(self, event: Mapping[str, Any]) -> None:
        if event.get("type") != BILLING_DELTA:
            return
        wl = event.get("workload") or {}
        cost = float(event.get("cost_usd") or 0.0) + float(event.get("adjustment_usd") or 0.0)
        hour = math.floor(float(event["period_start"]) / HOUR) * HOUR
        key = (hour, schema.clean_text(str(wl.get("team") or "")), schema.clean_text(str(wl.get("id") or "")))
        self.totals[key] = self.totals.get(key, 0.0) + cost

    def add_many(self, events: Iterable[Mapping[str, Any]]) -> None:
        for e in events:
            self.add(e)


class SpendLedger:
    """The ``sw_spend_hourly`` table of a history database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def write(self, rollup: SpendRollup) -> int:
        """Replace the stored totals of every (hour, team, workload) in ``rollup``; returns rows written."""
        t = schema.spend_hourly
        now = time.time()
        rows = [{"hour": hour, "team": team, "workload_id": wid, "cost_usd": round(cost, 6), "updated_at": now}
                for (hour, team, wid), cost in rollup.totals.items()]
        if not rows:
            return 0
        with self.engine.begin() as conn:  # two batched statements, not two round trips a row
            conn.execute(t.delete().where(t.c.hour == sa.bindparam("b_hour"), t.c.team == sa.bindparam("b_team"),
                                          t.c.workload_id == sa.bindparam("b_wid")),
                         [{"b_hour": r["hour"], "b_team": r["team"], "b_wid": r["workload_id"]} for r in rows])
            conn.execute(t.insert(), rows)
        return len(rows)

    def rows(self, from_ts: float | None = None, to_ts: float | None = None,
             teams: Iterable[str] = ()) -> list[dict[str, Any]]:
        """Hourly rows (hour, team, workload_id, cost_usd) in ``[from_ts, to_ts]``, oldest first."""
        t = schema.spend_hourly
        stmt = sa.select(t.c.hour, t.c.team, t.c.workload_id, t.c.cost_usd)
        if from_ts is not None:
            stmt = stmt.where(t.c.hour >= math.floor(from_ts / HOUR) * HOUR)
        if to_ts is not None:
            stmt = stmt.where(t.c.hour <= to_ts)
        teams = list(teams)
        if teams:
            stmt = stmt.where(t.c.team.in_(teams))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt.order_by(t.c.hour, t.c.team, t.c.workload_id))]
