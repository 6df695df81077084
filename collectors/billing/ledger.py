"""The billing ledger: each dollar published once, by the content of the row, not the file it came in.

State (SQLite, one file; default ``<state dir>/billing.sqlite``, see collectors/state.py):

- ``rows``: one entry per billing row identity (``RowValue.rkey``): its current amount in its own
  currency, that amount in USD (NULL while no rate converts it: *held*, never dropped), its
  quantity and the *line* it is counted on.
- ``lines``: one entry per published line (period, workload, service, resource, SKU, charge
  category): its event template and the net USD already published for it.
- ``files``: the content digest of every export applied, so an identical copy (also a ``.csv.gz``
  of the same bytes) or an older export given again is not re-applied.

Applying rows (one run, :meth:`Ledger.apply`):

- a new row is added to its line; an unchanged row does nothing; a row whose amount changed (a
  *restatement*, up or down) updates its line;
- a row whose attribution changed (tags or mapping now give another workload) stays on its old
  line unless ``reattribute``: then it moves, so the old line publishes a reversal and the new
  line the amount (never both silently);
- held rows (no exchange rate) are converted as soon as a rate is configured;
- per touched line, ``delta = sum(rows in USD) - published``. The line's first delta is a charge
  (``cost_usd = delta``) when it is spend (usage, purchase, tax) and >= 0; every other delta is an
  adjustment: ``cost_usd: 0`` plus the signed ``adjustment_usd`` and ``adjustment_reason``
  (``charge``: the line's own amount, e.g. a credit; ``restatement``; ``reattribution``).

So ``sum(cost_usd) + sum(adjustment_usd)`` downstream always equals the ledger's net total.
Nothing is committed until :meth:`commit`: publish (spool) the events first, then commit, so a
crash in between re-publishes rather than loses (at least once; the worker is idempotent).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from collectors.billing.rows import CHARGE_CATEGORIES_SPEND, RowValue
from spendwatch.errors import ConfigError

SCHEMA_VERSION = "2"
ZERO = Decimal(0)


@dataclass
class ApplyResult:
    """What one :meth:`Ledger.apply` did."""

    events: list[dict[str, Any]] = field(default_factory=list)
    rows_new: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    rows_reattributed: int = 0
    rows_attribution_kept: int = 0
    before_usd: Decimal = ZERO  # what this run's rows were worth in the ledger before (USD)
    after_usd: Decimal = ZERO  # and after (USD; held rows excluded)
    held: dict[str, tuple[int, Decimal]] = field(default_factory=dict)  # currency -> (rows, amount) of this run
    converted_earlier: tuple[int, Decimal] = (0, ZERO)  # held rows of earlier runs converted now (rows, USD)
    reasons: dict[str, int] = field(default_factory=dict)  # events by adjustment_reason ("" = charge)


def _dec(v: Any) -> Decimal:
    return ZERO if v is None else Decimal(str(v))


class Ledger:
    """SQLite state of billing rows, published lines and applied files."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        self.path = p
        self._db = sqlite3.connect(str(p), isolation_level=None, timeout=30)
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "contrib" in tables and "meta" not in tables:
            db.close()
            raise ConfigError(f"billing state {p} was written by an older spendwatch (ledger by file path). "
                              f"Re-applying it could count spend twice: start a new state file (--state or "
                              f"billing.state_path) and, to avoid re-publishing what went out already, point "
                              f"the collector only at exports newer than the last run")
        db.executescript("""
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS rows (source TEXT NOT NULL, rkey TEXT NOT NULL, line TEXT NOT NULL,
                currency TEXT NOT NULL, amount TEXT NOT NULL, usd TEXT, qty REAL, PRIMARY KEY (source, rkey));
            CREATE INDEX IF NOT EXISTS rows_line ON rows (line);
            CREATE INDEX IF NOT EXISTS rows_held ON rows (currency) WHERE usd IS NULL;
            CREATE TABLE IF NOT EXISTS lines (line TEXT PRIMARY KEY, template BLOB NOT NULL,
                published TEXT NOT NULL, published_qty REAL, events INTEGER NOT NULL);
            CREATE TABLE IF NOT EXISTS files (source TEXT NOT NULL, digest TEXT NOT NULL, path TEXT NOT NULL,
                applied_at REAL NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY (source, digest));
        """)
        db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self._in_tx = False

    # --- settings that must not change under a ledger --------------------------------------------
    def check_setting(self, name: str, value: str, hint: str) -> None:
        """Pin ``name`` to ``value`` on first use; a later run with another value is a ConfigError."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        if row is None:
            self._begin()
            self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (name, value))
        elif row[0] != value:
            raise ConfigError(f"billing state {self.path} was built with {name} = {row[0]!r}, this run uses "
                              f"{value!r}: {hint}")

    def setting(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, name: str, value: str) -> None:
        self._begin()
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (name, value))

    def _stored_rates(self) -> dict[str, Decimal]:
        return {str(k)[5:]: Decimal(v) for k, v in
                self._db.execute("SELECT key, value FROM meta WHERE key LIKE 'rate:%'")}

    def rates(self, configured: Mapping[str, Decimal]) -> dict[str, Decimal]:
        """The rates a run uses: configured ones, plus the last rate of every currency converted before
        (so a rate removed from the settings never un-converts what was published)."""
        return {"USD": Decimal(1), **self._stored_rates(), **configured}

    # --- files ------------------------------------------------------------------------------------
    def applied_file(self, source: str, digest: str) -> tuple[str, float] | None:
        """(path, when) of an export with this content digest applied before, or None."""
        row = self._db.execute("SELECT path, applied_at FROM files WHERE source = ? AND digest = ?",
                               (source, digest)).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def mark_file(self, source: str, digest: str, path: str, rows: int) -> None:
        self._begin()
        self._db.execute("INSERT OR IGNORE INTO files (source, digest, path, applied_at, rows) VALUES (?, ?, ?, ?, ?)",
                         (source, digest, path, time.time(), rows))

    # --- rows -------------------------------------------------------------------------------------
    def _begin(self) -> None:
        if not self._in_tx:
            self._db.execute("BEGIN IMMEDIATE")
            self._in_tx = True

    def apply(self, source: str, rows: Iterable[RowValue], rates: Mapping[str, Decimal],
              reattribute: bool = False) -> ApplyResult:
        """Apply this run's rows (one per identity); return the events now due, ordered by ``ts``."""
        self._begin()
        db = self._db
        res = ApplyResult()
        touched: set[str] = set()
        moved: set[str] = set()
        stored = self._stored_rates()
        rates = {**stored, **rates}

        # held rows of earlier runs whose currency has a rate now
        n_conv, usd_conv = 0, ZERO
        for cur, cur_rate in rates.items():
            for rkey, held_line, amount in db.execute("SELECT rkey, line, amount FROM rows WHERE source = ? AND "
                                                      "currency = ? AND usd IS NULL", (source, cur)).fetchall():
                conv = Decimal(amount) * cur_rate
                db.execute("UPDATE rows SET usd = ? WHERE source = ? AND rkey = ?", (str(conv), source, rkey))
                touched.add(held_line)
                n_conv += 1
                usd_conv += conv
        held_now: dict[str, list[Any]] = {}

        for rv in rows:
            line = rv.line
            rate = rates.get(rv.currency)
            old = db.execute("SELECT line, currency, amount, usd, qty FROM rows WHERE source = ? AND rkey = ?",
                             (source, rv.rkey)).fetchone()
            if rate is not None and rv.currency not in stored:
                db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (f"rate:{rv.currency}", str(rate)))
                stored[rv.currency] = rate
            if old is None:
                new_usd = None if rate is None else rv.amount * rate
                db.execute("INSERT INTO rows (source, rkey, line, currency, amount, usd, qty) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)",
                           (source, rv.rkey, line, rv.currency, str(rv.amount),
                            None if new_usd is None else str(new_usd), rv.qty))
                res.rows_new += 1
                touched.add(line)
                self._ensure_line(line, rv.template)
                if new_usd is None:
                    h = held_now.setdefault(rv.currency, [0, ZERO])
                    h[0] += 1
                    h[1] += rv.amount
                else:
                    res.after_usd += new_usd
                continue
            old_line, old_cur, old_amount, old_usd, old_qty = old
            old_amount_d = Decimal(old_amount)
            old_usd_d = None if old_usd is None else Decimal(old_usd)
            if old_usd_d is not None:
                res.before_usd += old_usd_d
            target = old_line
            if line != old_line:
                if reattribute:
                    target = line
                    res.rows_reattributed += 1
                    moved.update((old_line, line))
                    self._ensure_line(line, rv.template)
                else:
                    res.rows_attribution_kept += 1
            changed = rv.currency != old_cur or rv.amount != old_amount_d or rv.qty != old_qty
            usd: Decimal | None
            if rv.currency != old_cur or old_usd_d is None or rate is None:
                usd = None if rate is None else rv.amount * rate
            else:  # convert only the change: what was published does not move with exchange rates
                usd = old_usd_d + (rv.amount - old_amount_d) * rate
            if changed or target != old_line:
                db.execute("UPDATE rows SET line = ?, currency = ?, amount = ?, usd = ?, qty = ? "
                           "WHERE source = ? AND rkey = ?",
                           (target, rv.currency, str(rv.amount), None if usd is None else str(usd), rv.qty,
                            source, rv.rkey))
                touched.update((old_line, target))
                if changed:
                    res.rows_changed += 1
            if not changed and target == old_line:
                res.rows_unchanged += 1
            if usd is None:
                h = held_now.setdefault(rv.currency, [0, ZERO])
                h[0] += 1
                h[1] += rv.amount
            else:
                res.after_usd += usd
        res.held = {k: (int(v[0]), v[1]) for k, v in held_now.items()}
        res.converted_earlier = (n_conv, usd_conv)

        for line in sorted(touched):
            total_s = db.execute("SELECT usd FROM rows WHERE line = ? AND usd IS NOT NULL", (line,)).fetchall()
            total = sum((Decimal(r[0]) for r in total_s), ZERO)
            qty_row = db.execute("SELECT SUM(qty), COUNT(qty) FROM rows WHERE line = ?", (line,)).fetchone()
            qty = float(qty_row[0]) if qty_row[1] else None
            prev = db.execute("SELECT template, published, published_qty, events FROM lines WHERE line = ?",
                              (line,)).fetchone()
            template = orjson.loads(prev[0])
            published, pub_qty, n_events = Decimal(prev[1]), prev[2], int(prev[3])
            delta = total - published
            if delta == 0:
                continue
            ev = self._event(template, delta, qty, pub_qty, first=n_events == 0,
                             reason="reattribution" if line in moved else "restatement")
            res.events.append(ev)
            reason = ev.get("adjustment_reason") or ""
            res.reasons[reason] = res.reasons.get(reason, 0) + 1
            db.execute("INSERT OR REPLACE INTO lines (line, template, published, published_qty, events) "
                       "VALUES (?, ?, ?, ?, ?)",
                       (line, orjson.dumps(template), str(total), qty if qty is not None else pub_qty,
                        n_events + 1))
        res.events.sort(key=lambda e: (e["ts"], e["period_start"], e["workload"]["id"]))
        return res

    def _ensure_line(self, line: str, template: Mapping[str, Any]) -> None:
        self._db.execute("INSERT OR IGNORE INTO lines (line, template, published, published_qty, events) "
                         "VALUES (?, ?, '0', NULL, 0)", (line, orjson.dumps(template)))

    @staticmethod
    def _event(template: Mapping[str, Any], delta: Decimal, qty: float | None, pub_qty: float | None,
               first: bool, reason: str) -> dict[str, Any]:
        ev: dict[str, Any] = {"type": "billing_delta", "ts": template["period_end"]}
        ev.update(template)
        ev["workload"] = dict(template["workload"])
        if "labels" in template["workload"]:
            ev["workload"]["labels"] = dict(template["workload"]["labels"])
        for k in [k for k, v in ev.items() if v is None]:
            del ev[k]
        spend = str(template.get("charge_category") or "usage") in CHARGE_CATEGORIES_SPEND
        if first and spend and delta > 0:
            ev["cost_usd"] = float(delta)
            if qty is not None and qty > 0:
                ev["usage_quantity"] = round(qty, 9)
            else:
                ev.pop("usage_unit", None)
        else:
            ev["cost_usd"] = 0.0
            ev["adjustment_usd"] = float(delta)
            ev["adjustment_reason"] = "charge" if first else reason
            dq = (qty or 0.0) - (pub_qty or 0.0)
            if qty is not None and dq > 1e-12:
                ev["usage_quantity"] = round(dq, 9)
            else:
                ev.pop("usage_unit", None)
        return ev

    # --- totals (tests and the report) -------------------------------------------------------------
    def published_total(self) -> Decimal:
        return sum((Decimal(r[0]) for r in self._db.execute("SELECT published FROM lines")), ZERO)

    def held_rows(self, source: str) -> dict[str, tuple[int, Decimal]]:
        out: dict[str, tuple[int, Decimal]] = {}
        for cur, amount in self._db.execute("SELECT currency, amount FROM rows WHERE source = ? AND usd IS NULL",
                                            (source,)):
            n, a = out.get(cur, (0, ZERO))
            out[cur] = (n + 1, a + Decimal(amount))
        return out

    def commit(self) -> None:
        if self._in_tx:
            self._db.execute("COMMIT")
            self._in_tx = False

    def rollback(self) -> None:
        if self._in_tx:
            self._db.execute("ROLLBACK")
            self._in_tx = False

    def close(self) -> None:
        self.rollback()
        self._db.close()
