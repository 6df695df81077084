"""FOCUS cost and usage exports (CSV, CSV.gz, Parquet; FOCUS 1.0, 1.1, 1.2) into billing rows.

Columns read (FOCUS column ids; older and newer names in brackets): ``ChargePeriodStart``,
``ChargePeriodEnd``, ``ChargeCategory`` [``ChargeType``, 0.5], ``ChargeClass``,
``ChargeSubcategory`` [1.0-preview: ``Refund``/``Credit``], ``BilledCost``, ``EffectiveCost``
(the published one is ``billing.cost_column``; both are reconciled), ``BillingCurrency``,
``BillingAccountId``, ``BillingPeriodStart``, ``SubAccountId``, ``ProviderName``
[``ServiceProviderName``, 1.3], ``InvoiceIssuerName``, ``ServiceName``, ``SkuId``, ``SkuPriceId``,
``SkuMeter`` [1.1], ``PricingCategory``, ``PricingUnit``, ``ChargeFrequency``,
``ChargeDescription``, ``CommitmentDiscountId``, ``CommitmentDiscountStatus``,
``CapacityReservationId``/``Status`` [1.1], ``RegionId``, ``AvailabilityZone``, ``ResourceId``,
``ConsumedQuantity``/``ConsumedUnit``, ``Tags``. Column names match case-insensitively.

Missing values: the spec's ``NULL`` (the CSV literal ``NULL``), an empty cell and a JSON ``null``
all mean *missing*; a missing optional column is missing in every row. The file is checked up
front (:func:`check_header`): a file without the columns needed is "not a FOCUS export: missing
columns X, Y" and nothing is published. Each bad row is skipped with its file, line, column and
reason (counted in the reconciliation), and never stops the file.

Row identity (what makes a copy, a ``.csv.gz`` of it or an overlapping export count once):
provider, invoice issuer, billing account, sub account, billing period, charge period, charge
category, class and frequency, description, service, SKU, SKU price, SKU meter, pricing category
and unit, consumed unit, commitment discount and capacity reservation (id and status), region,
zone, resource and currency. Not the tags (a changed tag re-attributes, see ledger.py), not the
amounts (a changed amount is a restatement), not ``InvoiceId`` (set once a period is invoiced).

Providers: AWS Data Exports (FOCUS 1.0/1.2, ISO timestamps, ``Tags`` a JSON object or a Parquet
map), Google Cloud (BigQuery FOCUS view: ``2024-05-01 00:00:00 UTC``, ``Tags`` a JSON array of
``{"key", "value"}``), Azure (Cost Management FOCUS export, ``Tags`` sometimes without braces),
Oracle (empty cells for missing values), and the FinOps Foundation's sample data
(``2024-09-18 22:00:00``, ``NULL``).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import orjson

from collectors.billing.reconcile import Reconciliation
from collectors.billing.rows import CHARGE_CATEGORIES, BadValue, RowValue, clip_id, clip_text, identity, to_decimal
from spendwatch.errors import ConfigError

COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
ALIASES: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("ChargeCategory", "ChargeType"),
    "ProviderName": ("ProviderName", "ServiceProviderName", "Provider"),
    "InvoiceIssuerName": ("InvoiceIssuerName", "InvoiceIssuer"),
    "ConsumedQuantity": ("ConsumedQuantity", "UsageQuantity"),
    "ConsumedUnit": ("ConsumedUnit", "UsageUnit"),
    "RegionId": ("RegionId", "Region"),
}
IDENTITY_COLUMNS = ("ProviderName", "InvoiceIssuerName", "BillingAccountId", "SubAccountId", "ChargeClass",
                    "ChargeFrequency", "ChargeDescription", "ServiceName", "SkuId", "SkuPriceId", "SkuMeter",
                    "PricingCategory", "PricingUnit", "ConsumedUnit", "CommitmentDiscountId",
                    "CommitmentDiscountStatus", "CapacityReservationId", "CapacityReservationStatus", "RegionId",
                    "AvailabilityZone", "ResourceId")
csv.field_size_limit(1 << 20)


@dataclass(frozen=True)
class BillingConfig:
    """``billing`` section (every key optional)."""

    state_path: str = ""  # default: <state dir>/billing.sqlite (SPENDWATCH_STATE_DIR, XDG_STATE_HOME, ~/.local/state)
    cost_column: str = "EffectiveCost"  # amortised: purchases spread over the usage they cover
    usd_rates: dict[str, float] = field(default_factory=dict)  # USD per unit of a currency, e.g. {EUR: 1.08}
    workload_tags: list[str] = field(default_factory=lambda: [
        "spendwatch.io/workload", "spendwatch-workload", "workload", "app.kubernetes.io/name",
        "aws:eks:workload-name", "aws:eks:deployment", "k8s-workload", "application", "app", "service", "project"])
    namespace_tags: list[str] = field(default_factory=lambda: [
        "spendwatch.io/namespace", "aws:eks:namespace", "k8s-namespace", "kubernetes.io/namespace"])
    team_tags: list[str] = field(default_factory=lambda: [
        "spendwatch.io/team", "team", "app.kubernetes.io/part-of", "business_unit", "business-unit",
        "businessunit", "department", "cost_center", "cost-center", "costcenter"])
    owner_tags: list[str] = field(default_factory=lambda: [
        "spendwatch.io/owner", "owner", "owner_email", "contact", "created_by", "createdby"])
    kind_tags: list[str] = field(default_factory=lambda: ["spendwatch.io/kind"])
    label_tags: list[str] = field(default_factory=lambda: [
        "environment", "env", "stage", "costcenter", "cost_center", "cost-center", "business_unit",
        "project", "application", "app.kubernetes.io/instance", "app.kubernetes.io/component",
        "app.kubernetes.io/part-of", "app.kubernetes.io/version"])
    unattributed_prefix: str = "unattributed/"
    skip_charge_categories: list[str] = field(default_factory=list)  # e.g. [tax]; skipped rows are reconciled

    def check(self) -> BillingConfig:
        if self.cost_column not in COST_COLUMNS:
            raise ConfigError(f"billing.cost_column: {self.cost_column!r} is not a FOCUS cost column "
                              f"({', '.join(COST_COLUMNS)})")
        for cur, rate in self.usd_rates.items():
            if len(cur) != 3 or not cur.isalpha() or not rate > 0 or rate != rate or rate == float("inf"):
                raise ConfigError(f"billing.usd_rates.{cur}: expected a 3-letter currency code and a positive "
                                  f"rate (USD per unit), got {rate!r}")
        bad = sorted(set(c.lower() for c in self.skip_charge_categories) - set(CHARGE_CATEGORIES))
        if bad:
            raise ConfigError(f"billing.skip_charge_categories: unknown {bad}; known: {', '.join(CHARGE_CATEGORIES)}")
        return self

    def rates(self) -> dict[str, Decimal]:
        return {"USD": Decimal(1), **{c.upper(): Decimal(repr(float(r))) for c, r in self.usd_rates.items()}}


class NotFocus(Exception):
    """A file that is not a FOCUS export (or not readable as one)."""


# --- values --------------------------------------------------------------------------------------------
def missing(v: Any) -> bool:
    """FOCUS null handling: NULL, an empty cell and JSON null all mean missing."""
    if v is None:
        return True
    if isinstance(v, str):
        s = v.strip()
        return s == "" or s.upper() == "NULL"
    return False


def parse_time(v: Any) -> float:
    """Epoch seconds from a FOCUS date/time (ISO 8601 with Z, an offset, `` UTC`` or none = UTC)."""
    if isinstance(v, datetime):
        return (v if v.tzinfo else v.replace(tzinfo=UTC)).timestamp()
    if isinstance(v, date):
        return datetime(v.year, v.month, v.day, tzinfo=UTC).timestamp()
    s = str(v).strip()
    if not s:
        raise ValueError("empty date/time")
    if s.endswith(" UTC"):
        s = s[:-4]
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    if "T" not in s and " " in s:
        s = s.replace(" ", "T", 1)
    dt = datetime.fromisoformat(s)
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()


def parse_tags(v: Any) -> dict[str, str]:
    """FOCUS ``Tags`` in any provider's shape -> a flat str->str dict (missing -> {})."""
    if missing(v):
        return {}
    if isinstance(v, str):
        s = v.strip()
        if s in ("{}", "[]"):
            return {}
        if not s.startswith(("{", "[")):
            s = "{" + s + "}"  # Azure: key/value pairs without the braces
        try:
            v = orjson.loads(s)
        except orjson.JSONDecodeError:
            raise ValueError(f"Tags is not JSON: {v[:80]!r}") from None
        if v is None:
            return {}
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


# --- reading files -------------------------------------------------------------------------------------
class _HashingReader(io.RawIOBase):
    """Passes bytes through and hashes them (the digest of the decompressed content)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.sha = raw, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        self.sha.update(data)
        return n


@dataclass
class FocusFile:
    """One export file: its kind, header and rows."""

    path: Path
    kind: str = ""
    digest: str = ""
    header: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            with open(self.path, "rb") as f:
                head = f.read(4)
        except OSError as exc:
            raise NotFocus(f"cannot read: {exc.strerror}") from None
        self.kind = "csv.gz" if head[:2] == b"\x1f\x8b" else "parquet" if head == b"PAR1" else "csv"

    def _text(self) -> tuple[IO[str], _HashingReader]:
        raw: Any = gzip.open(self.path, "rb") if self.kind == "csv.gz" else open(self.path, "rb")  # noqa: SIM115
        hashing = _HashingReader(raw)
        return io.TextIOWrapper(io.BufferedReader(hashing), encoding="utf-8-sig", errors="replace", newline=""), \
            hashing

    def read_header(self) -> list[str]:
        """The column names (raises NotFocus when the file is not a readable table)."""
        if self.kind == "parquet":
            import pyarrow.parquet as pq

            try:
                self.header = list(pq.ParquetFile(self.path).schema_arrow.names)
            except Exception as exc:  # noqa: BLE001 - pyarrow raises many kinds for a broken file
                raise NotFocus(f"not a readable Parquet file ({type(exc).__name__}: {exc})") from None
            return self.header
        try:
            text, _h = self._text()
            with text:
                first = text.readline()
        except (OSError, EOFError, zlib.error) as exc:
            raise NotFocus(f"not readable as {self.kind} ({type(exc).__name__}: {exc})") from None
        if not first.strip():
            raise NotFocus("empty file (no header row)")
        if "\ufffd" in first or "\x00" in first:
            raise NotFocus("not UTF-8 CSV text (binary data in the header row)")
        try:
            self.header = [h.strip() for h in next(csv.reader([first]))]
        except csv.Error as exc:
            raise NotFocus(f"the header row is not CSV: {exc}") from None
        return self.header

    def rows(self) -> Iterator[tuple[int, dict[str, Any] | str]]:
        """(line number, {column: value}) per data row, or (line, error text) for a row that is not one.

        ``digest`` is set once the rows are exhausted.
        """
        if self.kind == "parquet":
            yield from self._parquet_rows()
            return
        text, hashing = self._text()
        with text:
            reader = csv.reader(text)
            line = 0
            try:
                header = next(reader)
            except (StopIteration, csv.Error):
                return
            n = len(header)
            names = [h.strip() for h in header]
            while True:
                start = reader.line_num + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield reader.line_num, f"not a CSV row: {exc}"
                    continue
                except (OSError, EOFError, zlib.error) as exc:
                    yield start, f"the rest of the file is unreadable ({type(exc).__name__}: {exc})"
                    break
                line = start
                if not cells or (len(cells) == 1 and not cells[0].strip()):
                    continue  # a blank line is not a row
                if len(cells) != n:
                    yield line, f"{len(cells)} fields, the header has {n}"
                    continue
                joined = "".join(cells)
                if "\ufffd" in joined or "\x00" in joined:
                    yield line, "binary data (not UTF-8 text)"
                    continue
                yield line, dict(zip(names, cells, strict=True))
        self.digest = "sha256:" + hashing.sha.hexdigest()

    def _parquet_rows(self) -> Iterator[tuple[int, dict[str, Any] | str]]:
        import pyarrow.parquet as pq

        h = hashlib.sha256()
        with open(self.path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        n = 0
        try:
            for batch in pq.ParquetFile(self.path).iter_batches(batch_size=10_000):
                for row in batch.to_pylist():
                    n += 1
                    yield n, row
        except Exception as exc:  # noqa: BLE001 - a broken row group ends the file, counted
            yield n + 1, f"the rest of the file is unreadable ({type(exc).__name__}: {exc})"
        self.digest = "sha256:" + h.hexdigest()


def check_header(header: list[str], cost_column: str) -> dict[str, str]:
    """Map logical column -> the file's column name; NotFocus naming what is missing."""
    by_lower = {h.strip().lower(): h for h in header}

    def find(name: str) -> str | None:
        for alias in ALIASES.get(name, (name,)):
            if alias.lower() in by_lower:
                return by_lower[alias.lower()]
        return None

    need = ["ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BillingCurrency", cost_column]
    lost = [n for n in need if find(n) is None]
    if lost:
        shown = ", ".join(header[:8]) + (f" ... ({len(header)} columns)" if len(header) > 8 else "")
        hint = ""
        if cost_column not in lost:
            pass
        elif any(find(c) for c in COST_COLUMNS if c != cost_column):
            other = next(c for c in COST_COLUMNS if c != cost_column and find(c))
            hint = f"; it has {other}: set billing.cost_column (or --cost-column) to use it"
        raise NotFocus(f"not a FOCUS export: missing columns {', '.join(lost)} (it has: {shown}){hint}")
    cols = {}
    for name in (*need, *IDENTITY_COLUMNS, *COST_COLUMNS, "BillingPeriodStart", "ChargeSubcategory",
                 "ConsumedQuantity", "Tags"):
        found = find(name)
        if found is not None:
            cols[name] = found
    return cols


# --- rows ------------------------------------------------------------------------------------------
class Attribution:
    """Tags -> workload (id, team, owner, kind, labels) by the configured keys (case-insensitive)."""

    def __init__(self, cfg: BillingConfig) -> None:
        self.cfg = cfg
        low = [[k.lower() for k in keys] for keys in (cfg.workload_tags, cfg.namespace_tags, cfg.team_tags,
                                                      cfg.owner_tags, cfg.kind_tags)]
        self.k_workload, self.k_namespace, self.k_team, self.k_owner, self.k_kind = low
        self.k_labels = [k.lower() for k in cfg.label_tags]
        self.cache: dict[tuple[Any, Any], dict[str, Any]] = {}  # (Tags cell, service) -> workload

    def fingerprint(self) -> str:
        """Changes whenever the mapping does (stored in the ledger, to notice a changed mapping)."""
        c = self.cfg
        return hashlib.sha256(orjson.dumps([c.workload_tags, c.namespace_tags, c.team_tags, c.owner_tags,
                                            c.kind_tags, c.label_tags, c.unattributed_prefix])).hexdigest()[:16]

    @staticmethod
    def _first(tags: Mapping[str, str], keys: list[str]) -> str | None:
        for k in keys:
            v = tags.get(k)
            if v:
                return v
        return None

    def workload(self, tags: Mapping[str, str], fallback: str) -> dict[str, Any]:
        t = {k.strip().lower(): v.strip() for k, v in tags.items() if isinstance(v, str)}
        wid = self._first(t, self.k_workload)
        ns = self._first(t, self.k_namespace)
        if wid and ns and "/" not in wid:
            wid = f"{ns}/{wid}"
        elif not wid:
            wid = f"{ns}/{fallback}" if ns else f"{self.cfg.unattributed_prefix}{fallback}"
        w: dict[str, Any] = {"id": clip_id(wid)}
        for name, keys in (("owner", self.k_owner), ("team", self.k_team), ("kind", self.k_kind)):
            v = self._first(t, keys)
            if v:
                w[name] = clip_id(v) if name != "kind" else v[:64]
        labels = {k: clip_text(t[k]) for k in self.k_labels if t.get(k)}
        if labels:
            w["labels"] = labels
        return w


def _category(raw: Any, sub: Any) -> str | None:
    c = str(raw).strip().lower()
    s = "" if missing(sub) else str(sub).strip().lower()
    if s == "refund":
        return "refund"
    if c in CHARGE_CATEGORIES:
        return c
    return None


def read_focus_file(ff: FocusFile, cols: Mapping[str, str], cfg: BillingConfig, attribution: Attribution,
                    report: Reconciliation) -> tuple[int, list[RowValue]]:
    """(rows read, accepted rows) of one export whose header :func:`check_header` accepted.

    Rows with the same identity within one file are summed (a provider may split a charge).
    """
    skip_cats = {c.lower() for c in cfg.skip_charge_categories}
    by_key: dict[str, RowValue] = {}
    n = 0
    for line, got in ff.rows():
        n += 1
        where = f"{ff.path}:{line}" if ff.kind != "parquet" else f"{ff.path}: row {line}"
        if isinstance(got, str):
            report.skip("malformed_row", f"{where}: {got}")
            continue
        rv = _row(got, cols, cfg, attribution, where, report, skip_cats)
        if rv is None:
            continue
        prev = by_key.get(rv.rkey)
        if prev is None:
            by_key[rv.rkey] = rv
        else:
            prev.amount += rv.amount
            if rv.qty is not None:
                prev.qty = (prev.qty or 0.0) + rv.qty
    report.rows_read += n
    return n, list(by_key.values())


def _row(v: Mapping[str, Any], cols: Mapping[str, str], cfg: BillingConfig, attribution: Attribution, where: str,
         report: Reconciliation, skip_cats: set[str]) -> RowValue | None:
    def get(name: str) -> Any:
        c = cols.get(name)
        x = v.get(c) if c is not None else None
        return None if missing(x) else x

    def text(name: str) -> str | None:
        x = get(name)
        return None if x is None else str(x).strip()

    currency = (text("BillingCurrency") or "").upper()
    raw_cat = get("ChargeCategory")
    category = _category(raw_cat, get("ChargeSubcategory")) if raw_cat is not None else None
    amounts: dict[str, Decimal | None] = {}
    problems: list[BadValue] = []
    for col in ("BilledCost", "EffectiveCost", cfg.cost_column):
        if col in cols and col not in amounts:
            x = get(col)
            if x is None:
                amounts[col] = None
                problems.append(BadValue(col, "missing (NULL or empty)", "missing_cost"))
                continue
            try:
                amounts[col] = to_decimal(x, col)
            except BadValue as exc:
                amounts[col] = None
                problems.append(exc)
    report.input_row(str(raw_cat).strip() if raw_cat is not None else "(missing)", currency or "(missing)", amounts)
    amount = amounts.get(cfg.cost_column)
    cur_or_none = currency or None
    if amount is None:
        p = next(p for p in problems if p.column == cfg.cost_column)
        report.skip(p.reason, f"{where}: {p}")
        return None
    if raw_cat is None:
        report.skip("missing_charge_category", f"{where}: column {cols['ChargeCategory']}: missing (NULL or empty)",
                    cur_or_none, amount)
        return None
    if category is None:
        report.skip("unknown_charge_category", f"{where}: column {cols['ChargeCategory']}: {str(raw_cat)[:40]!r} is "
                    f"not a FOCUS charge category (Usage, Purchase, Tax, Credit, Adjustment)", cur_or_none, amount)
        return None
    if not currency:
        report.skip("missing_currency", f"{where}: column {cols['BillingCurrency']}: missing (NULL or empty)", None,
                    amount)
        return None
    if len(currency) != 3 or not currency.isalpha():
        report.skip("bad_currency", f"{where}: column {cols['BillingCurrency']}: {currency[:20]!r} is not an ISO "
                    f"4217 code", None, amount)
        return None
    try:
        start = _time(get, cols, "ChargePeriodStart")
        end = _time(get, cols, "ChargePeriodEnd")
    except BadValue as exc:
        report.skip(exc.reason, f"{where}: {exc}", currency, amount)
        return None
    if end < start:
        report.skip("period_end_before_start", f"{where}: column {cols['ChargePeriodEnd']}: {get('ChargePeriodEnd')} "
                    f"is before ChargePeriodStart {get('ChargePeriodStart')}", currency, amount)
        return None
    if category in skip_cats:
        report.skip("charge_category_excluded", f"{where}: charge category {category} (billing.skip_charge_categories)",
                    currency, amount)
        return None
    qty: float | None = None
    q = get("ConsumedQuantity")
    if q is not None:
        try:
            qd = to_decimal(q, cols["ConsumedQuantity"])
            qty = float(qd) if qd >= 0 else None
        except BadValue as exc:
            report.warn("bad_quantity", f"{where}: {exc} (published without a quantity)")
    service = clip_text(text("ServiceName"))
    raw_tags = get("Tags")
    cache_key = (raw_tags if isinstance(raw_tags, str) or raw_tags is None else None, service)
    workload = attribution.cache.get(cache_key) if cache_key[0] is not None or raw_tags is None else None
    if workload is None:
        cacheable = cache_key[0] is not None or raw_tags is None
        try:
            tags = parse_tags(raw_tags)
        except ValueError as exc:
            report.warn("tags_unparseable", f"{where}: column {cols.get('Tags', 'Tags')}: {exc} "
                        f"(published unattributed)")
            tags, cacheable = {}, False
        workload = attribution.workload(tags, service or "unknown")
        if cacheable and len(attribution.cache) < 100_000:
            attribution.cache[cache_key] = workload  # rows with the same tags share one workload object
    template: dict[str, Any] = {
        "period_start": start, "period_end": end, "workload": workload,
        "source": "focus", "service": service, "resource_id": clip_id(text("ResourceId")),
        "sku": clip_text(text("SkuId")), "usage_unit": clip_text(text("ConsumedUnit")), "charge_category": category,
    }
    parts: list[Any] = [start, end, category, currency]
    bps = get("BillingPeriodStart")
    try:
        parts.append(None if bps is None else parse_time(bps))
    except ValueError:
        parts.append(str(bps))
    parts.extend(text(c) for c in IDENTITY_COLUMNS)
    report.accepted.add(None, currency, amount)
    return RowValue(identity("focus", parts), template, currency, amount, qty, where)


def _time(get: Any, cols: Mapping[str, str], name: str) -> float:
    x = get(name)
    if x is None:
        raise BadValue(cols[name], "missing (NULL or empty)", "missing_period")
    try:
        t = parse_time(x)
    except (ValueError, TypeError, OverflowError):
        raise BadValue(cols[name], f"{str(x)[:40]!r} is not an ISO 8601 date/time", "bad_period") from None
    if not 0 <= t < 32503680000:  # 1970 .. 3000: outside is a broken value, not a charge
        raise BadValue(cols[name], f"{str(x)[:40]!r} is out of range", "bad_period")
    return t
