"""Exact duplicate billing rows: one filter per workload, asked by every billing detector that needs it.

A billing row seen again (a redelivery, an export read twice) must be counted once. The budgets and
unit-cost detectors each used to keep their own filter of a workload's last 512 rows, and each built
and hashed the same row again. :class:`SeenRows` is that filter, kept once per workload as shared
state (:meth:`~detectors.base.DetectorContext.state` under :data:`SEEN_ROWS`, snapshotted with the
Engine), and :meth:`SeenRows.first_time` works out a row's identity once per delivery: the first
detector to ask about an event builds the row and updates the filter, the others asking about the
same event object get the same answer. A detector that asks again about an event it already asked
about is being given the row again (the same dict processed twice), so that is a new delivery.

The identity of a row is :func:`row_identity`: period, service, SKU, resource, model, cost and
quantity (not the adjustment, the unit or the source; the cost detector sums and filters the rows
of each open period on its own, see :mod:`detectors.stats.spend_periods`). The filter remembers
the last :data:`ROWS_KEPT` distinct rows of the workload; a row older than that counts again.

Examples
--------
>>> seen = SeenRows()
>>> row = {"period_start": 0.0, "period_end": 3600.0, "cost_usd": 2.5, "service": "Amazon S3"}
>>> seen.first_time(row, "unit_cost"), seen.first_time(row, "budgets")  # one delivery, two detectors
(True, True)
>>> seen.first_time(dict(row), "unit_cost"), seen.first_time(row, "unit_cost")  # delivered again, twice
(False, False)
>>> len(seen)
1
"""

from __future__ import annotations

from collections import deque
from sys import intern
from typing import Any

SEEN_ROWS = "billing.seen_rows"
ROWS_KEPT = 512

Row = tuple[Any, ...]


def row_identity(event: dict[str, Any]) -> Row:
    """What makes a ``billing_delta`` row the same row again. Its names are interned: the 512 rows of a
    workload then share one copy of each service, SKU, resource and model name (in memory and in a
    snapshot) instead of holding one per row, as each decoded event has its own."""
    service, sku, resource, model = (event.get("service"), event.get("sku"), event.get("resource_id"),
                                     event.get("model"))
    return (event["period_start"], event["period_end"], intern(service) if type(service) is str else service,
            intern(sku) if type(sku) is str else sku, intern(resource) if type(resource) is str else resource,
            intern(model) if type(model) is str else model, event["cost_usd"], event.get("usage_quantity"))


class SeenRows:
    """The last :data:`ROWS_KEPT` distinct billing rows of one workload, and the answer for the event
    being delivered now (not snapshotted: a snapshot is taken between events)."""

    __slots__ = ("rows", "row_set", "_event", "_asked", "_new")

    def __init__(self) -> None:
        self.rows: deque[Row] = deque(maxlen=ROWS_KEPT)
        self.row_set: set[Row] = set()
        self._event: dict[str, Any] | None = None
        self._asked: tuple[str, ...] = ()
        self._new = False

    def __len__(self) -> int:
        return len(self.rows)

    def first_time(self, event: dict[str, Any], asker: str) -> bool:
        """Whether ``event`` is a row this workload has not had yet; ``asker`` names the detector
        asking (each asks once per delivery)."""
        if event is self._event and asker not in self._asked:
            self._asked += (asker,)
            return self._new
        new = self.add(row_identity(event))
        self._event, self._asked, self._new = event, (asker,), new
        return new

    def add(self, row: Row) -> bool:
        """Remember ``row``; False when it is one of the rows kept already."""
        row_set = self.row_set
        if row in row_set:
            return False
        rows = self.rows
        if len(rows) == ROWS_KEPT:
            row_set.discard(rows[0])
        rows.append(row)
        row_set.add(row)
        return True

    def absorb(self, rows: Any) -> None:
        """Take the rows of a filter kept by a detector before this one was shared (an older
        snapshot), oldest first; rows already kept are left where they are."""
        for row in rows:
            self.add(tuple(row))

    def __getstate__(self) -> dict[str, list[Row]]:
        return {"rows": list(self.rows)}  # a dict, never empty: pickle calls __setstate__ only for a true state

    def __setstate__(self, state: dict[str, list[Row]]) -> None:
        self.rows = deque(state["rows"], maxlen=ROWS_KEPT)
        self.row_set = set(self.rows)
        self._event = None
        self._asked = ()
        self._new = False
