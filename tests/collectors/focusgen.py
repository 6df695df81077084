"""Small FOCUS 1.0-shaped exports for the billing tests, and an independent truth to check them against.

The rows look like the FinOps Foundation's sample (same columns, the literal ``NULL`` for missing
values, ``YYYY-MM-DD HH:MM:SS`` times, JSON tags or NULL): usage, tax, credit, purchase and
negative usage rows. ``truth`` sums a cost column per charge category or per workload with
nothing but ``csv`` and ``Decimal``, never with the collector's code.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
import sys
from decimal import Decimal
from pathlib import Path

COLUMNS = ["AvailabilityZone", "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
           "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass", "ChargeDescription",
           "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart", "CommitmentDiscountCategory",
           "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountStatus", "CommitmentDiscountType",
           "ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
           "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity", "PricingUnit",
           "ProviderName", "PublisherName", "RegionId", "RegionName", "ResourceId", "ResourceName", "ResourceType",
           "ServiceCategory", "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "SubAccountName", "Tags"]
SERVICES = ["Amazon Elastic Compute Cloud", "Amazon SageMaker", "Amazon Simple Storage Service", "AWS Lambda"]
APPS = ["llm-serve", "trainer", "feature-store", "search"]
TEAMS = ["ml-platform", "search", "data"]


def rows(n: int = 240, seed: int = 7, day: int = 20) -> list[dict[str, str]]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        hour = i % 24
        start = f"2026-11-{day:02d} {hour:02d}:00:00"
        end = f"2026-11-{day:02d} {hour:02d}:59:59" if i % 97 == 0 else (
            f"2026-11-{day:02d} {hour + 1:02d}:00:00" if hour < 23 else f"2026-11-{day + 1:02d} 00:00:00")
        kind = rnd.random()
        cat = "Usage"
        billed = Decimal(rnd.randint(1, 10_000_000)) / Decimal(10**6)
        effective = billed * Decimal("0.8")
        if kind < 0.04:
            cat, billed, effective = "Credit", -billed, -billed
        elif kind < 0.08:
            cat = "Tax"
        elif kind < 0.10:
            cat, effective = "Purchase", Decimal(0)
        elif kind < 0.14:
            billed, effective = -billed / 10, -effective / 10  # a negative usage row (a correction)
        app = APPS[i % len(APPS)]
        tagged = i % 5 != 0
        tags = json.dumps({"application": app, "team": TEAMS[i % 3], "environment": "prod" if i % 2 else "dev"}) \
            if tagged else "NULL"
        r = dict.fromkeys(COLUMNS, "NULL")
        r.update({
            "BilledCost": f"{billed:.10f}", "EffectiveCost": f"{effective:.10f}", "ListCost": f"{billed:.10f}",
            "BillingAccountId": "123456789012", "BillingAccountName": "Example", "BillingCurrency": "USD",
            "BillingPeriodStart": "2026-11-01 00:00:00", "BillingPeriodEnd": "2026-12-01 00:00:00",
            "ChargeCategory": cat, "ChargeDescription": f"charge {i}", "ChargeFrequency": "Usage-Based",
            "ChargePeriodStart": start, "ChargePeriodEnd": end, "ConsumedQuantity": "NULL" if i % 11 == 0 else "1.5",
            "ConsumedUnit": "Hours", "InvoiceIssuerName": "Amazon Web Services, Inc.", "PricingCategory": "Standard",
            "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.", "RegionId": "us-east-1",
            "ResourceId": "NULL" if i % 7 == 0 else f"arn:aws:ec2:us-east-1:123456789012:instance/i-{i:05d}",
            "ServiceName": SERVICES[i % len(SERVICES)], "SkuId": f"SKU{i % 13}", "SkuPriceId": f"SKU{i % 13}.P{i}",
            "SubAccountId": "210987654321", "Tags": tags,
        })
        out.append(r)
    return out


def write(path: Path, data: list[dict[str, str]], columns: list[str] | None = None, gz: bool = False,
          quote_all: bool = False) -> Path:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns or COLUMNS, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
                       lineterminator="\r\n" if quote_all else "\n", extrasaction="ignore")
    w.writeheader()
    for r in data:
        w.writerow(r)
    raw = buf.getvalue().encode()
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _dec(s: str) -> Decimal:
    return Decimal(0) if s in ("", "NULL") else Decimal(s)


def truth(data: list[dict[str, str]], column: str = "EffectiveCost", by: str = "category") -> dict[str, Decimal]:
    """Net ``column`` per charge category (lower case) or per workload (``by="workload"``: application tag,
    else ``unattributed/<ServiceName>``), straight from the rows."""
    out: dict[str, Decimal] = {}
    for r in data:
        if by == "category":
            k = r["ChargeCategory"].lower()
        else:
            tags = json.loads(r["Tags"]) if r["Tags"] != "NULL" else {}
            k = tags.get(by) if by != "workload" else tags.get("application")
            k = k or f"unattributed/{r['ServiceName']}"
        out[k] = out.get(k, Decimal(0)) + _dec(r[column])
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))
