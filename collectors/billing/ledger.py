"""The billing ledger: what has been published, so re-running over exports publishes only what is new.

Rows are aggregated into *lines*, one per billing key (period, workload, service, resource,
SKU, charge category, model). Each line gets its cost from one or more *units*: a FOCUS export
file, one OpenAI cost bucket result, one LiteLLM request. The ledger stores every unit's
contribution per key, and per key the cost already published (a high-water mark):

- applying a unit replaces its earlier contributions (a re-read file, a re-fetched bucket);
- per touched key, ``delta = sum(contributions) - published``; a delta > 0 is published as a
  ``billing_delta`` for the key's period and the mark moves up;
- running twice over the same exports gives delta 0 everywhere: nothing is published
  (unchanged files are not even re-read: their SHA-256 is remembered);
- a *restated* row (the provider re-issues a file with a different cost) publishes only the
  difference when it went up. When it went down, nothing is published (``cost_usd`` must be
  ≥ 0 in the contract): the decrease is logged and counted, and the mark stays, so a later
  increase publishes only what exceeds what was already published. Credits and refunds
  (negative rows) are skipped and counted the same way.

``billing_delta.ts`` is the line's ``period_end``, so detectors see spend in event time,
restatements included.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

_EPS = 1e-9


@dataclass
class Line:
    """Aggregated spend for one billing key within one unit."""

    template: dict[str, Any]  # billing_delta fields except cost_usd / usage_quantity
    cost: float = 0.0
    qty: float | None = None

    def add(self, cost: float, qty: float | None) -> None:
        self.cost += cost
        if qty is not None:
            self.qty = (self.qty or 0.0) + qty


def line_key(template: Mapping[str, Any]) -> str:
    """A stable fingerprint of a line's identity (not of its cost)."""
    parts = [template.get(k) for k in ("period_start", "period_end", "source", "service", "resource_id", "sku",
                                       "model", "usage_unit", "charge_category")]
    parts.append(template["workload"]["id"])
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:32]


@dataclass
class LedgerStats:
    published: int = 0
    restated_up: int = 0
    restated_down: int = 0
    unchanged: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, n: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + n


class Ledger:
    """SQLite state of published billing lines and per-unit contributions."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        self._db = sqlite3.connect(str(p))
        self._db.executescript("""
            CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, sha256 TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS contrib (unit TEXT NOT NULL, key TEXT NOT NULL, cost REAL NOT NULL,
                                                qty REAL, PRIMARY KEY (unit, key));
            CREATE INDEX IF NOT EXISTS contrib_key ON contrib (key);
            CREATE TABLE IF NOT EXISTS lines (key TEXT PRIMARY KEY, template BLOB NOT NULL,
                                              published_cost REAL NOT NULL, published_qty REAL);
        """)

    @staticmethod
    def digest(path: str | Path) -> str:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def file_unchanged(self, path: str | Path, sha256: str) -> bool:
        row = self._db.execute("SELECT sha256 FROM files WHERE path = ?", (str(Path(path).resolve()),)).fetchone()
        return row is not None and row[0] == sha256

    def mark_file(self, path: str | Path, sha256: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO files (path, sha256) VALUES (?, ?)",
                         (str(Path(path).resolve()), sha256))

    def apply(self, units: Mapping[str, Mapping[str, Line]], stats: LedgerStats | None = None,
              ts_now: float | None = None) -> list[dict[str, Any]]:
        """Replace each unit's contributions; return the ``billing_delta`` events now due.

        Nothing is committed until :meth:`commit`: publish (spool) the events first, then commit,
        so a crash in between re-publishes rather than loses (at least once).
        """
        stats = stats or LedgerStats()
        db = self._db
        touched: dict[str, dict[str, Any] | None] = {}
        for unit, lines in units.items():
            for (key,) in db.execute("SELECT key FROM contrib WHERE unit = ?", (unit,)):
                touched.setdefault(key, None)
            db.execute("DELETE FROM contrib WHERE unit = ?", (unit,))
            db.executemany("INSERT INTO contrib (unit, key, cost, qty) VALUES (?, ?, ?, ?)",
                           [(unit, k, ln.cost, ln.qty) for k, ln in lines.items()])
            for k, ln in lines.items():
                touched[k] = ln.template
        events: list[dict[str, Any]] = []
        for key, template in touched.items():
            total, qty = db.execute("SELECT COALESCE(SUM(cost), 0), SUM(qty) FROM contrib WHERE key = ?",
                                    (key,)).fetchone()
            row = db.execute("SELECT template, published_cost, published_qty FROM lines WHERE key = ?",
                             (key,)).fetchone()
            pub_cost, pub_qty = (row[1], row[2]) if row else (0.0, None)
            if template is None:
                if row is None:
                    continue
                template = orjson.loads(row[0])
            assert template is not None
            delta = total - pub_cost
            if delta > _EPS:
                ev = dict(template)
                ev["workload"] = dict(template["workload"])
                ev.pop("charge_category", None)
                ev["type"], ev["ts"] = "billing_delta", template["period_end"]
                ev["cost_usd"] = round(delta, 10)
                if qty is not None and qty - (pub_qty or 0.0) > _EPS:
                    ev["usage_quantity"] = round(qty - (pub_qty or 0.0), 6)
                else:
                    ev.pop("usage_unit", None)
                events.append(ev)
                if row is not None:
                    stats.restated_up += 1
                stats.published += 1
                db.execute("INSERT OR REPLACE INTO lines (key, template, published_cost, published_qty) "
                           "VALUES (?, ?, ?, ?)", (key, orjson.dumps(template), total,
                                                   max(qty or 0.0, pub_qty or 0.0) if qty is not None else pub_qty))
            elif delta < -_EPS:
                stats.restated_down += 1
                log.warning("billing line restated downward by %.6f USD (%s, %s, period %s): not published "
                            "(billing_delta cost is never negative); the published amount stays the mark",
                            -delta, template["workload"]["id"], template.get("service"), template["period_start"])
            else:
                stats.unchanged += 1
        return events

    def commit(self) -> None:
        self._db.commit()

    def rollback(self) -> None:
        self._db.rollback()

    def close(self) -> None:
        self._db.close()


def aggregate(rows: Iterable[tuple[dict[str, Any], float, float | None]]) -> dict[str, Line]:
    """Sum (template, cost, qty) rows into lines by key."""
    out: dict[str, Line] = {}
    for template, cost, qty in rows:
        k = line_key(template)
        ln = out.get(k)
        if ln is None:
            ln = out[k] = Line(template)
        else:
            ln.template = template  # the last row's attribution wins (tags can change)
        ln.add(cost, qty)
    return out
