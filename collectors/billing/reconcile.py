"""The reconciliation every billing run prints: what was in the input, what was published, and why
they differ, so a FinOps user can check the numbers against the invoice in one look.

The check, in USD (cost column for FOCUS):

    rows accepted
      - rows seen again in a later file of this run (counted once)
      - rows of files whose content was applied before (not applied again)
      - what the ledger already had published for the rest (earlier runs)
      - rows held because no exchange rate converts their currency (kept in the ledger)
      = published now, net of earlier held rows converted now

``unexplained`` is what is left of that equation; it is 0 unless something is wrong. Skipped
rows (with the reason and the first few of each) are listed with the amounts that could be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

ZERO = Decimal(0)
EXAMPLES = 3


@dataclass
class Bucket:
    """Rows set aside for one reason: how many, the amounts that could be read, and a few examples."""

    rows: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)  # currency -> amount (rows whose amount was readable)
    unknown_amount: int = 0  # rows whose amount could not be read
    examples: list[str] = field(default_factory=list)

    def add(self, message: str | None = None, currency: str | None = None, amount: Decimal | None = None) -> None:
        self.rows += 1
        if amount is None:
            self.unknown_amount += 1
        else:
            cur = currency or "?"
            self.amounts[cur] = self.amounts.get(cur, ZERO) + amount
        if message is not None and len(self.examples) < EXAMPLES:
            self.examples.append(message)

    def usd(self, rates: dict[str, Decimal]) -> Decimal:
        return sum((a * rates[c] for c, a in self.amounts.items() if c in rates), ZERO)

    def to_json(self) -> dict[str, Any]:
        return {"rows": self.rows, "amounts": {c: float(a) for c, a in sorted(self.amounts.items())},
                "amount_unknown_rows": self.unknown_amount, "examples": self.examples,
                "more": max(0, self.rows - len(self.examples))}


@dataclass
class InputTotal:
    """One (charge category, currency) of the input: rows and their amounts per cost column."""

    rows: int = 0
    columns: dict[str, Decimal] = field(default_factory=dict)  # cost column -> sum of readable values
    unreadable: dict[str, int] = field(default_factory=dict)  # cost column -> rows whose value was unreadable


@dataclass
class FileNote:
    path: str
    kind: str  # csv, csv.gz, parquet, json, http
    rows: int = 0
    status: str = "applied"  # applied, already applied, seen earlier in this run, dry run, rejected
    note: str = ""


@dataclass
class Reconciliation:
    """Everything one billing run saw and did."""

    source: str
    cost_column: str = ""
    state: str = ""
    mode: str = "publish"  # publish, stdout, dry-run
    rates: dict[str, Decimal] = field(default_factory=lambda: {"USD": Decimal(1)})
    files: list[FileNote] = field(default_factory=list)
    rows_read: int = 0
    inputs: dict[tuple[str, str], InputTotal] = field(default_factory=dict)
    skipped: dict[str, Bucket] = field(default_factory=dict)
    warnings: dict[str, Bucket] = field(default_factory=dict)
    accepted: Bucket = field(default_factory=Bucket)
    seen_again: Bucket = field(default_factory=Bucket)
    already_applied: Bucket = field(default_factory=Bucket)
    before_usd: Decimal = ZERO
    held: dict[str, tuple[int, Decimal]] = field(default_factory=dict)
    converted_earlier: tuple[int, Decimal] = (0, ZERO)
    rows_new: int = 0
    rows_changed: int = 0
    rows_unchanged: int = 0
    rows_reattributed: int = 0
    rows_attribution_kept: int = 0
    events: int = 0
    cost_usd: Decimal = ZERO
    adjustment_usd: Decimal = ZERO
    published_by_category: dict[str, Decimal] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    delivered: bool | None = None
    ts_range: tuple[float, float] | None = None  # event time (ts) of the first and last event published

    # --- filling in ---------------------------------------------------------------------------------
    def skip(self, reason: str, message: str, currency: str | None = None, amount: Decimal | None = None) -> None:
        self.skipped.setdefault(reason, Bucket()).add(message, currency, amount)

    def warn(self, reason: str, message: str) -> None:
        self.warnings.setdefault(reason, Bucket()).add(message, None, ZERO)

    def input_row(self, category: str, currency: str, values: dict[str, Decimal | None]) -> None:
        t = self.inputs.setdefault((category, currency), InputTotal())
        t.rows += 1
        for col, v in values.items():
            if v is None:
                t.unreadable[col] = t.unreadable.get(col, 0) + 1
            else:
                t.columns[col] = t.columns.get(col, ZERO) + v

    def published(self, events: list[dict[str, Any]]) -> None:
        if events:
            self.ts_range = (min(e["ts"] for e in events), max(e["ts"] for e in events))
        for e in events:
            self.events += 1
            c = Decimal(repr(e["cost_usd"]))
            a = Decimal(repr(e.get("adjustment_usd") or 0.0))
            self.cost_usd += c
            self.adjustment_usd += a
            cat = str(e.get("charge_category") or "usage")
            self.published_by_category[cat] = self.published_by_category.get(cat, ZERO) + c + a

    # --- the check ----------------------------------------------------------------------------------
    @property
    def net_usd(self) -> Decimal:
        return self.cost_usd + self.adjustment_usd

    @property
    def held_usd_rows(self) -> int:
        return sum(n for n, _a in self.held.values())

    def unexplained(self) -> Decimal:
        """accepted - seen again - already applied - held - before - (published now - converted earlier)."""
        r = self.rates  # held rows are in currencies without a rate: in none of these USD sums
        return (self.accepted.usd(r) - self.seen_again.usd(r) - self.already_applied.usd(r) - self.before_usd
                - (self.net_usd - self.converted_earlier[1]))

    def rows_skipped(self) -> int:
        return sum(b.rows for b in self.skipped.values())

    # --- output -------------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "cost_column": self.cost_column or None, "state": self.state, "mode": self.mode,
            "files": [vars(f) for f in self.files],
            "rows": {"read": self.rows_read, "accepted": self.accepted.rows, "skipped": self.rows_skipped()},
            "input": [{"charge_category": cat, "currency": cur, "rows": t.rows,
                       **{col: float(v) for col, v in sorted(t.columns.items())},
                       "unreadable": dict(sorted(t.unreadable.items()))}
                      for (cat, cur), t in sorted(self.inputs.items())],
            "skipped": {k: b.to_json() for k, b in sorted(self.skipped.items())},
            "warnings": {k: b.to_json() for k, b in sorted(self.warnings.items())},
            "check_usd": {
                "accepted": float(self.accepted.usd(self.rates)),
                "seen_again_in_this_run": float(self.seen_again.usd(self.rates)),
                "in_files_applied_before": float(self.already_applied.usd(self.rates)),
                "published_before": float(self.before_usd),
                "held_without_rate": {c: {"rows": n, "amount": float(a)} for c, (n, a) in sorted(self.held.items())},
                "converted_from_earlier_runs": float(self.converted_earlier[1]),
                "published_now": float(self.net_usd),
                "unexplained": float(self.unexplained()),
            },
            "published": {"events": self.events, "cost_usd": float(self.cost_usd),
                          "adjustment_usd": float(self.adjustment_usd), "net_usd": float(self.net_usd),
                          "by_charge_category": {k: float(v) for k, v in sorted(self.published_by_category.items())},
                          "by_reason": dict(sorted(self.reasons.items()))},
            "ledger_rows": {"new": self.rows_new, "changed": self.rows_changed, "unchanged": self.rows_unchanged,
                            "reattributed": self.rows_reattributed,
                            "attribution_changed_kept": self.rows_attribution_kept},
            "event_time": None if self.ts_range is None else {"first_ts": self.ts_range[0],
                                                              "last_ts": self.ts_range[1]},
            "delivered": self.delivered, "notes": self.notes,
        }

    def render(self) -> str:
        out: list[str] = []
        w = out.append
        col = f"; cost column {self.cost_column}" if self.cost_column else ""
        w(f"spendwatch billing {self.source}: reconciliation ({self.mode}{col}; state {self.state})")
        for f in self.files:
            note = f" - {f.note}" if f.note else ""
            w(f"  file {f.path} ({f.kind}): {f.rows} rows, {f.status}{note}")
        w(f"  rows: {self.rows_read} read, {self.accepted.rows} accepted, {self.rows_skipped()} skipped")
        if self.inputs:
            cols = sorted({c for t in self.inputs.values() for c in t.columns} | {c for t in self.inputs.values()
                                                                                  for c in t.unreadable})
            w("  in the input, by charge category and currency (net, readable values):")
            w("    " + f"{'category':<12}{'currency':<9}{'rows':>7}" + "".join(f"{c:>18}" for c in cols))
            totals: dict[str, dict[str, Decimal]] = {}
            for (cat, cur), t in sorted(self.inputs.items()):
                cells = "".join(f"{t.columns.get(c, ZERO):>18.6f}" for c in cols)
                w(f"    {cat:<12}{cur:<9}{t.rows:>7}{cells}")
                for c in cols:
                    totals.setdefault(cur, {})[c] = totals.get(cur, {}).get(c, ZERO) + t.columns.get(c, ZERO)
                bad = {c: n for c, n in t.unreadable.items() if n}
                if bad:
                    w("      unreadable: " + ", ".join(f"{c} in {n} rows" for c, n in sorted(bad.items())))
            for cur, by_col in sorted(totals.items()):
                n = sum(t.rows for (_c, cu), t in self.inputs.items() if cu == cur)
                w(f"    {'total':<12}{cur:<9}{n:>7}" + "".join(f"{by_col.get(c, ZERO):>18.6f}" for c in cols))
        w(f"  published now: {self.events} billing_delta events, cost_usd {self.cost_usd:+.6f}, "
          f"adjustment_usd {self.adjustment_usd:+.6f}, net {self.net_usd:+.6f} USD")
        if self.ts_range:
            first, last = (datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M") for t in self.ts_range)
            w(f"    event time (ts = end of each charge period, UTC): {first} .. {last}, in ts order")
        if self.published_by_category:
            w("    by charge category: " + ", ".join(f"{k} {v:+.6f}" for k, v in
                                                       sorted(self.published_by_category.items())))
        if self.reasons:
            names = {"": "charges (cost_usd)", "charge": "signed charges (credits, refunds, negative rows)",
                     "restatement": "restatements", "reattribution": "reattributions (reversal + new workload)"}
            w("    events: " + ", ".join(f"{n} {names.get(k, k)}" for k, n in sorted(self.reasons.items())))
        w(f"    ledger rows: {self.rows_new} new, {self.rows_changed} restated, {self.rows_unchanged} unchanged, "
          f"{self.rows_reattributed} reattributed, {self.rows_attribution_kept} with a changed attribution kept "
          f"on their old workload")
        r = self.rates
        w(f"  check (USD{', ' + self.cost_column if self.cost_column else ''}):")
        w(f"      rows accepted                              {self.accepted.usd(r):>+16.6f}  "
          f"({self.accepted.rows} rows)")
        w(f"    - seen again in a later file of this run     {self.seen_again.usd(r):>+16.6f}  "
          f"({self.seen_again.rows} rows, counted once)")
        w(f"    - in files applied before (same content)     {self.already_applied.usd(r):>+16.6f}  "
          f"({self.already_applied.rows} rows)")
        w(f"    - already published for these rows           {self.before_usd:>+16.6f}")
        held = ", ".join(f"{c} {a:+.6f} in {n} rows" for c, (n, a) in sorted(self.held.items())) or "none"
        w(f"    - held: no exchange rate to USD              {held}")
        conv_n, conv = self.converted_earlier
        w(f"    + held rows of earlier runs converted now    {conv:>+16.6f}  ({conv_n} rows)")
        w(f"    = published now                              {self.net_usd:>+16.6f}  "
          f"unexplained {self.unexplained():+.6f}")
        if self.skipped:
            w("  skipped rows, by reason (not published; amounts where readable):")
            for reason, b in sorted(self.skipped.items(), key=lambda kv: -kv[1].rows):
                amounts = ", ".join(f"{c} {a:+.6f}" for c, a in sorted(b.amounts.items()))
                unk = f", amount unreadable in {b.unknown_amount}" if b.unknown_amount else ""
                w(f"    {reason}: {b.rows} rows{(' (' + amounts + ')') if amounts else ''}{unk}")
                for ex in b.examples:
                    w(f"      {ex}")
                if b.rows > len(b.examples):
                    w(f"      ... {b.rows - len(b.examples)} more")
        else:
            w("  skipped rows: none")
        for reason, b in sorted(self.warnings.items(), key=lambda kv: -kv[1].rows):
            w(f"  warning {reason}: {b.rows} rows (published)")
            for ex in b.examples:
                w(f"      {ex}")
            if b.rows > len(b.examples):
                w(f"      ... {b.rows - len(b.examples)} more")
        for note in self.notes:
            w(f"  note: {note}")
        return "\n".join(out)
