"""Period bookkeeping for one spend series (used by :mod:`detectors.cost_spike`).

Billing rows arrive in any order and several at a time (input and output tokens, several SKUs,
an export restated later). The detector scores whole *periods*, so the rows of one period are
summed here while the period is open:

- :func:`infer_period` picks the series' period from a row (``period_end - period_start``,
  snapped to 5 min, 15 min, 30 min, 1 h, ... 1 day, 1 week);
- :class:`SpendPeriod` sums the rows of one period, counts an exact duplicate row once, and
  keeps the per-contributor and per-model figures the attribution
  (:mod:`detectors.stats.contributors`) needs.

Nothing here decides anything or reads the clock.

Examples
--------
>>> infer_period(3590.0, default_s=3600.0)
3600.0
>>> per = SpendPeriod(start=0.0, deadline=5400.0, alert_usd=float("inf"))
>>> row = {"period_start": 0.0, "period_end": 3600.0, "cost_usd": 2.5, "service": "OpenAI API",
...        "model": "gpt-4o", "usage_quantity": 1000, "usage_unit": "tokens"}
>>> per.add(row), per.add(dict(row))  # the same row twice counts once
(True, False)
>>> per.total, per.by_model
(2.5, {'gpt-4o': [2.5, 1000.0]})
"""

from __future__ import annotations

import math
from typing import Any

# Contributor key: (service, sku, resource_id, model, usage_unit)
Contributor = tuple[str | None, str | None, str | None, str | None, str | None]

CANONICAL_PERIODS = (60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 10800.0, 14400.0, 21600.0, 43200.0,
                     86400.0, 604800.0)


def infer_period(duration_s: float, default_s: float) -> float:
    """The series' period from one row's ``period_end - period_start``: the nearest canonical
    period within 10 %, else the duration rounded to whole minutes; ``default_s`` when the row
    has no duration."""
    if duration_s <= 0:
        return default_s
    best = min(CANONICAL_PERIODS, key=lambda c: abs(math.log(duration_s / c)))
    return best if abs(math.log(duration_s / best)) < 0.1 else max(60.0, round(duration_s / 60.0) * 60.0)


class SpendPeriod:
    """Rows of one period of one workload, summed while the period is open.

    Parameters
    ----------
    start
        The period's start (event time, a multiple of the series' period).
    deadline
        Event time at which the period closes (moved later while rows keep coming).
    alert_usd
        Running sum at which the period opens an anomaly before it is judged (inf: it cannot).
    """

    __slots__ = ("start", "total", "deadline", "alert_usd", "rows", "by_contrib", "by_model", "max_delay")

    def __init__(self, start: float, deadline: float, alert_usd: float) -> None:
        self.start = start
        self.total = 0.0
        self.deadline = deadline
        self.alert_usd = alert_usd
        self.rows: set[tuple[Any, ...]] = set()
        self.by_contrib: dict[Contributor, float] = {}
        self.by_model: dict[str, list[float]] = {}  # model -> [token usd, tokens]
        self.max_delay = 0.0  # latest arrival of a row after the period's end (event time)

    def adjust(self, event: dict[str, Any]) -> bool:
        """Apply one restatement row's signed ``adjustment_usd`` to the period (the total never
        goes below zero); False when the same row is already applied."""
        amount = float(event["adjustment_usd"])
        row = ("adjustment", event["period_end"], event.get("service"), event.get("sku"),
               event.get("resource_id"), event.get("model"), amount, event.get("source"))
        if row in self.rows:
            return False
        self.rows.add(row)
        self.total = max(0.0, self.total + amount)
        ckey: Contributor = (event.get("service"), event.get("sku"), event.get("resource_id"),
                             event.get("model"), event.get("usage_unit"))
        if ckey in self.by_contrib:
            self.by_contrib[ckey] = max(0.0, self.by_contrib[ckey] + amount)
        return True

    def add(self, event: dict[str, Any]) -> bool:
        """Sum one ``billing_delta`` row into the period; False (and nothing summed) when the
        same row (period end, service, sku, resource, model, unit, quantity, cost, source) is
        already in it."""
        service, sku, resource_id, model, unit = (event.get("service"), event.get("sku"), event.get("resource_id"),
                                                  event.get("model"), event.get("usage_unit"))
        cost = event["cost_usd"]
        qty = event.get("usage_quantity")
        row = (event["period_end"], service, sku, resource_id, model, unit, qty, cost, event.get("source"))
        if row in self.rows:
            return False
        self.rows.add(row)
        self.total += cost
        ckey: Contributor = (service, sku, resource_id, model, unit)
        self.by_contrib[ckey] = self.by_contrib.get(ckey, 0.0) + cost
        if qty and unit and "token" in unit.lower():
            m = self.by_model.get(model or "?")
            if m is None:
                self.by_model[model or "?"] = [cost, float(qty)]
            else:
                m[0] += cost
                m[1] += qty
        return True
