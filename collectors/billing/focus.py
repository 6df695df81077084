"""FOCUS cost and usage exports (CSV, CSV.gz, Parquet) into ``billing_delta`` events.

FOCUS (FinOps Open Cost and Usage Specification, 1.0+) columns read: ``ChargePeriodStart``,
``ChargePeriodEnd``, ``BilledCost`` / ``EffectiveCost`` (``cost_column``), ``BillingCurrency``,
``ChargeCategory``, ``ServiceName``, ``SkuId``, ``ResourceId``, ``ConsumedQuantity``,
``ConsumedUnit``, ``Tags``. The providers differ in details this module absorbs:

- AWS (Data Exports, FOCUS 1.0): ISO timestamps, ``Tags`` a JSON object (CSV) or a map (Parquet).
- Google Cloud (BigQuery FOCUS view, exported): timestamps like ``2024-05-01 00:00:00 UTC``,
  ``Tags`` a JSON array of ``{"key": ..., "value": ...}``.
- Azure (Cost Management FOCUS export): ``2024-05-01T00:00:00Z`` timestamps, ``Tags`` a JSON
  object, sometimes without the enclosing braces (``"team": "ml","owner": "a@x"``).

Tags map to the workload by config (``workload_tags``, ``owner_tags``, ``team_tags``,
``kind_tags``, ``label_tags``: the first tag present wins); an untagged row goes to
``unattributed/<ServiceName>``. Rows in another currency, with a negative cost (credits,
refunds) or unparseable are skipped and counted. Idempotence and restatements: see ledger.py.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from collectors.billing.ledger import Ledger, LedgerStats, aggregate
from spendwatch.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BillingConfig:
    """``billing`` section."""

    state_path: str = "/var/lib/spendwatch/billing-state.sqlite"
    cost_column: str = "EffectiveCost"
    currency: str = "USD"
    workload_tags: list[str] = field(default_factory=lambda: ["spendwatch.io/workload", "spendwatch-workload",
                                                                "workload"])
    owner_tags: list[str] = field(default_factory=lambda: ["spendwatch.io/owner", "owner"])
    team_tags: list[str] = field(default_factory=lambda: ["spendwatch.io/team", "team"])
    kind_tags: list[str] = field(default_factory=lambda: ["spendwatch.io/kind"])
    label_tags: list[str] = field(default_factory=list)
    unattributed_prefix: str = "unattributed/"
    skip_charge_categories: list[str] = field(default_factory=lambda: ["Credit"])

    def check(self) -> BillingConfig:
        if self.cost_column not in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost"):
            raise ConfigError(f"billing.cost_column: {self.cost_column!r} is not a FOCUS cost column "
                              f"(BilledCost, EffectiveCost, ListCost or ContractedCost)")
        return self


def parse_time(v: Any) -> float:
    """Epoch seconds from a FOCUS datetime (ISO 8601 with Z/offset/`` UTC``, or a datetime/date)."""
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC).timestamp()
    s = str(v).strip()
    if not s:
        raise ValueError("empty datetime")
    if s.endswith(" UTC"):
        s = s[:-4]
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s.replace(" ", "T", 1) if "T" not in s and " " in s else s)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def parse_tags(v: Any) -> dict[str, str]:
    """FOCUS ``Tags`` in any provider's shape → a flat str→str dict."""
    if v is None or v == "":
        return {}
    if isinstance(v, str):
        s = v.strip()
        if not s or s in ("{}", "[]", "null"):
            return {}
        if not s.startswith(("{", "[")):
            s = "{" + s + "}"  # Azure: key/value pairs without the braces
        try:
            v = orjson.loads(s)
        except orjson.JSONDecodeError:
            raise ValueError(f"Tags is not JSON: {v[:80]!r}") from None
    if isinstance(v, Mapping):
        return {str(k): "" if x is None else str(x) for k, x in v.items()}
    if isinstance(v, list):  # GCP: [{"key": k, "value": v}], Parquet maps: [(k, v)]
        out = {}
        for item in v:
            if isinstance(item, Mapping):
                out[str(item.get("key"))] = "" if item.get("value") is None else str(item.get("value"))
            elif isinstance(item, list | tuple) and len(item) == 2:
                out[str(item[0])] = "" if item[1] is None else str(item[1])
        return out
    raise ValueError(f"Tags has an unexpected shape: {type(v).__name__}")


def read_rows(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of a FOCUS export file as dicts (CSV, CSV.gz or Parquet)."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        table = pq.read_table(p)
        for batch in table.to_batches(max_chunksize=10_000):
            yield from batch.to_pylist()
        return
    opener: Any = gzip.open if name.endswith(".gz") else open
    with opener(p, "rb") as raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        yield from csv.DictReader(text)


def _first(tags: Mapping[str, str], names: list[str]) -> str | None:
    for n in names:
        v = tags.get(n)
        if v:
            return v
    return None


def _num(v: Any) -> float | None:
    if v is None or v == "":
        return None
    return float(v)


def row_to_line(row: Mapping[str, Any], cfg: BillingConfig) -> tuple[dict[str, Any], float, float | None]:
    """(template, cost, quantity) of one FOCUS row; raises ValueError/KeyError when it is unusable."""
    cost = _num(row.get(cfg.cost_column))
    if cost is None:
        raise KeyError(cfg.cost_column)
    tags = parse_tags(row.get("Tags"))
    service = str(row.get("ServiceName") or "") or None
    wid = _first(tags, cfg.workload_tags) or f"{cfg.unattributed_prefix}{service or 'unknown'}"
    workload: dict[str, Any] = {"id": wid[:512]}
    for name, keys in (("owner", cfg.owner_tags), ("team", cfg.team_tags), ("kind", cfg.kind_tags)):
        v = _first(tags, keys)
        if v:
            workload[name] = v
    labels = {k: tags[k] for k in cfg.label_tags if k in tags}
    if labels:
        workload["labels"] = labels
    template: dict[str, Any] = {
        "period_start": parse_time(row["ChargePeriodStart"]), "period_end": parse_time(row["ChargePeriodEnd"]),
        "workload": workload, "source": "focus", "service": service,
        "resource_id": (str(row.get("ResourceId") or "") or None), "sku": (str(row.get("SkuId") or "") or None),
        "usage_unit": (str(row.get("ConsumedUnit") or "") or None),
        "charge_category": row.get("ChargeCategory") or None,
    }
    return template, cost, _num(row.get("ConsumedQuantity"))


def collect_focus(paths: list[str | Path], ledger: Ledger, cfg: BillingConfig,
                  stats: LedgerStats | None = None) -> list[dict[str, Any]]:
    """The ``billing_delta`` events due from these export files (call ``ledger.commit()`` after publishing)."""
    stats = stats or LedgerStats()
    units = {}
    digests = {}
    for path in paths:
        digest = Ledger.digest(path)
        if ledger.file_unchanged(path, digest):
            stats.skip("file_unchanged")
            continue
        digests[path] = digest
        good = []
        for lineno, row in enumerate(read_rows(path), start=2):
            cur = str(row.get("BillingCurrency") or cfg.currency)
            if cur.upper() != cfg.currency.upper():
                stats.skip("currency")
                continue
            if row.get("ChargeCategory") in cfg.skip_charge_categories:
                stats.skip("charge_category")
                continue
            try:
                template, cost, qty = row_to_line(row, cfg)
            except (KeyError, ValueError, TypeError) as exc:
                stats.skip("unparseable")
                if stats.skipped["unparseable"] <= 20:
                    log.warning("%s:%d: skipped FOCUS row: %s: %s", path, lineno, type(exc).__name__, exc)
                continue
            if cost < 0:
                stats.skip("negative_cost")
                continue
            if template["period_end"] < template["period_start"]:
                stats.skip("unparseable")
                continue
            good.append((template, cost, qty))
        units[f"focus:{Path(path).resolve()}"] = aggregate(good)
    events = ledger.apply(units, stats)
    for path, digest in digests.items():
        ledger.mark_file(path, digest)
    return events
