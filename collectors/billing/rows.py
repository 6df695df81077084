"""What every billing source hands the ledger: one :class:`RowValue` per billing row.

A row has an *identity* (``rkey``: a hash of the columns that say which charge it is, never of
the file it came from) and a *value* (amount in its currency, quantity). Its attribution and
descriptive fields (``template``: period, workload, service, SKU...) decide the *line* it is
published on (``line_key``). Sources differ only in how they read rows; the ledger
(ledger.py) and the reconciliation (reconcile.py) are shared.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from spendwatch.events import MAX_ID_LEN, MAX_TEXT_LEN

# charge categories that are spend (published as cost_usd when >= 0); the others are adjustments
CHARGE_CATEGORIES_SPEND = ("usage", "purchase", "tax")
CHARGE_CATEGORIES = ("usage", "purchase", "tax", "credit", "adjustment", "refund")
MAX_AMOUNT = Decimal("1e15")  # larger is a broken cell, not a charge (and would not survive a float)


@dataclass(slots=True)
class RowValue:
    """One billing row, ready for the ledger."""

    rkey: str  # billing identity (source-specific columns, hashed)
    template: dict[str, Any]  # billing_delta fields except money and quantity
    currency: str  # ISO 4217, upper case
    amount: Decimal  # in ``currency``, signed
    qty: float | None = None
    where: str = ""  # "file:line" of the row, for messages

    @property
    def category(self) -> str:
        return str(self.template.get("charge_category") or "usage")

    @property
    def line(self) -> str:
        return line_key(self.template)


def identity(source: str, parts: list[Any]) -> str:
    """A stable row identity from its identity columns (values normalised by the caller)."""
    return hashlib.sha256(orjson.dumps([source, *parts], default=str)).hexdigest()[:40]


def line_key(template: Mapping[str, Any]) -> str:
    """The line a row is published on: its period, what was charged, its category and its workload id."""
    parts = [template.get(k) for k in ("source", "period_start", "period_end", "service", "resource_id", "sku",
                                       "model", "usage_unit", "charge_category")]
    parts.append(template["workload"]["id"])  # the first row's owner/team/labels are the line's
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()[:40]


def clip_id(v: str | None) -> str | None:
    """Identifiers longer than the contract allows are shortened deterministically (never dropped)."""
    if v is None or len(v) <= MAX_ID_LEN:
        return v
    return v[:MAX_ID_LEN - 18] + "~" + hashlib.sha256(v.encode()).hexdigest()[:17]


def clip_text(v: str | None) -> str | None:
    if v is None or len(v) <= MAX_TEXT_LEN:
        return v
    return v[:MAX_TEXT_LEN - 18] + "~" + hashlib.sha256(v.encode()).hexdigest()[:17]


class InputRejected(Exception):
    """An input the run refuses as a whole (not a FOCUS export, unreadable, an API error): nothing is published."""


class BadValue(ValueError):
    """A cell that cannot be used; ``column`` says which."""

    def __init__(self, column: str, message: str, reason: str = "bad_value") -> None:
        super().__init__(f"column {column}: {message}")
        self.column, self.reason = column, reason


def to_decimal(v: Any, column: str) -> Decimal:
    """A finite decimal from a number or numeric text; BadValue otherwise (nan, inf, text)."""
    if isinstance(v, bool):
        raise BadValue(column, f"{v!r} is not a number", "bad_number")
    if isinstance(v, Decimal):
        d = v
    elif isinstance(v, int | float):
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
    else:
        s = str(v).strip()
        try:
            d = Decimal(s)
        except InvalidOperation:
            raise BadValue(column, f"{_short(s)} is not a number", "bad_number") from None
    if not d.is_finite():
        raise BadValue(column, f"{_short(str(v))} is not a finite number", "bad_number")
    if abs(d) >= MAX_AMOUNT:
        raise BadValue(column, f"{_short(str(v))} is out of range (|x| >= 1e15)", "bad_number")
    return d


def _short(s: str, n: int = 40) -> str:
    return repr(s if len(s) <= n else s[:n] + "...")
