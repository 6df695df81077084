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

A row is kept as a 64-bit digest of those fields (BLAKE2b of their msgpack encoding, numbers as
floats so 1 and 1.0 are one value, as in a tuple), not as the tuple itself: 512 tuples of 8 fields
cost about 100 KiB a workload in memory, the digests 12 KiB (see :class:`SeenRows`). The digest is
the same in every process (a snapshot restores it elsewhere); two different rows of one workload
share one with a chance of about 1 in 10^14 among 512.

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

from array import array
from hashlib import blake2b
from typing import Any

import msgspec

SEEN_ROWS = "billing.seen_rows"
ROWS_KEPT = 512
_EXACT_INT = 2 ** 53  # integers up to this are floats exactly: 1 and 1.0 are one value, as in a tuple

Row = int  # a row's digest (see row_digest)
_FIRST_ROWS = 16  # a power of two, as ROWS_KEPT is

_encode = msgspec.msgpack.Encoder().encode


def _number(v: Any) -> Any:
    t = type(v)
    if t is float:
        return v + 0.0  # -0.0 == 0.0 in a tuple: one value here too
    if t is int and -_EXACT_INT <= v <= _EXACT_INT:
        return float(v)
    return v


def _digest(normal: tuple[Any, ...]) -> Row:
    return int.from_bytes(blake2b(_encode(normal)).digest()[:8], "little")


def row_digest(fields: tuple[Any, ...]) -> Row:
    """The 64-bit digest of a row's identity fields, the same in every process."""
    return _digest(tuple(_number(v) for v in fields))


def row_identity(event: dict[str, Any]) -> Row:
    """What makes a ``billing_delta`` row the same row again, as a digest (:func:`row_digest`)."""
    get = event.get
    return _digest((_number(event["period_start"]), _number(event["period_end"]), get("service"), get("sku"),
                    get("resource_id"), get("model"), _number(event["cost_usd"]), _number(get("usage_quantity"))))


def _kept(row: Any) -> Row:
    """A row as kept: a digest already, or the tuple an older snapshot kept."""
    return row if type(row) is int else row_digest(tuple(row))


class SeenRows:
    """The last :data:`ROWS_KEPT` distinct billing rows of one workload, and the answer for the event
    being delivered now (not snapshotted: a snapshot is taken between events).

    The digests sit in two flat arrays of 64-bit integers, not in a deque and a set of Python ints
    (about 50 KiB a full filter): a ring of the last rows, oldest first from ``_head``, and an
    open-addressing table of twice as many slots (linear probing, 0 is an empty slot, entries moved
    back on removal), 12 KiB in all when full. Both start at 16 rows and double as rows come (a
    workload with a few rows costs a few hundred bytes)."""

    __slots__ = ("_ring", "_head", "_count", "_table", "_event", "_asked", "_new")

    def __init__(self) -> None:
        self._ring = array("Q", bytes(8 * _FIRST_ROWS))
        self._head = 0  # where the next row goes; the oldest row once the ring is full
        self._count = 0
        self._table = array("Q", bytes(16 * _FIRST_ROWS))
        self._event: dict[str, Any] | None = None
        self._asked: tuple[str, ...] = ()
        self._new = False

    def __len__(self) -> int:
        return self._count

    def __contains__(self, row: Row) -> bool:
        return self._slot(row or 1) is not None

    @property
    def rows(self) -> list[Row]:
        """The rows kept, oldest first."""
        ring, n = self._ring, self._count
        start = self._head if n == ROWS_KEPT else 0
        return [ring[(start + k) % len(ring)] for k in range(n)]

    def first_time(self, event: dict[str, Any], asker: str) -> bool:
        """Whether ``event`` is a row this workload has not had yet; ``asker`` names the detector
        asking (each asks once per delivery)."""
        if event is self._event and asker not in self._asked:
            self._asked += (asker,)
            return self._new
        new = self.add(row_identity(event))
        self._event, self._asked, self._new = event, (asker,), new
        return new

    def _probe(self, row: Row) -> int:
        """The slot that holds ``row``, or the first empty one its probe sequence meets (linear probing)."""
        table = self._table
        mask = len(table) - 1
        i = row & mask
        while True:
            v = table[i]
            if v == row or v == 0:
                return i
            i = (i + 1) & mask

    def _slot(self, row: Row) -> int | None:
        i = self._probe(row)
        return i if self._table[i] == row else None

    def add(self, row: Row) -> bool:
        """Remember ``row``; False when it is one of the rows kept already."""
        row = row or 1  # 0 marks an empty slot
        i = self._probe(row)
        if self._table[i] == row:
            return False
        ring, head = self._ring, self._head
        if self._count == ROWS_KEPT:
            self._remove(ring[head])
            i = self._probe(row)  # the removal may have freed a slot nearer home: lookups stop at the first empty slot
        else:
            if self._count == len(ring):  # not wrapped yet (only a full ring drops rows): double both
                self._grow()
                ring, head = self._ring, self._head
                i = self._probe(row)
            self._count += 1
        self._table[i] = row
        ring[head] = row
        self._head = (head + 1) % len(ring)
        return True

    def _grow(self) -> None:
        n = min(ROWS_KEPT, 2 * len(self._ring))
        self._head = self._count  # the ring was full from 0 (its head had come round to 0)
        self._ring.extend(array("Q", bytes(8 * (n - len(self._ring)))))
        table = self._table = array("Q", bytes(16 * n))
        mask = len(table) - 1
        for k in range(self._count):
            row = self._ring[k]
            i = row & mask
            while table[i] != 0:
                i = (i + 1) & mask
            table[i] = row

    def _remove(self, row: Row) -> None:
        table = self._table
        mask = len(table) - 1
        i = self._slot(row)
        assert i is not None, "a row in the ring is in the table"
        j = i
        while True:  # move back every entry of the run after i that may not sit past the hole
            j = (j + 1) & mask
            v = table[j]
            if v == 0:
                break
            home = v & mask
            if (home <= i < j) or (i < j < home) or (j < home <= i):
                table[i] = v
                i = j
        table[i] = 0

    def absorb(self, rows: Any) -> None:
        """Take the rows of a filter kept by a detector before this one was shared (an older
        snapshot), oldest first; rows already kept are left where they are."""
        for row in rows:
            self.add(_kept(row))

    def __getstate__(self) -> dict[str, list[Row]]:
        return {"rows": self.rows}  # a dict, never empty: pickle calls __setstate__ only for a true state

    def __setstate__(self, state: dict[str, list[Any]]) -> None:
        self.__init__()  # type: ignore[misc]
        for r in state["rows"]:  # tuples: an older snapshot
            self.add(_kept(r))
