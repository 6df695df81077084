"""FOCUS billing collector CPU per row: a synthetic FOCUS 1.0 CSV through the real driver.

    .venv/bin/python -m bench.bench_billing [--rows 100000]

Writes a FOCUS 1.0-shaped CSV (the sample's columns, ``NULL`` for missing values, JSON tags) and
runs ``collectors.billing.run.run_billing`` three times on one ledger in ``--stdout`` mode (events to
a null stream): the first run (every row new), a re-run of the same file (content already applied:
parsed for the reconciliation, nothing applied) and the same rows in rewritten bytes (every row
looked up in the ledger, nothing published). Reports wall and CPU seconds and microseconds per row.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import resource
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from collectors.billing.run import BillingRequest, run_billing
from spendwatch.config import Settings

COLUMNS = ["BilledCost", "BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
           "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargePeriodStart", "ChargePeriodEnd",
           "ConsumedQuantity", "ConsumedUnit", "EffectiveCost", "ProviderName", "RegionId", "ResourceId",
           "ServiceName", "SkuId", "SkuPriceId", "SubAccountId", "Tags"]


def write_export(path: Path, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        for i in range(n):
            day, hour = 1 + (i // 24) % 28, i % 24
            cost = rnd.randint(1, 5_000_000) / 1e6
            tags = json.dumps({"application": f"app-{i % 50}", "team": f"team-{i % 7}", "environment": "prod"}) \
                if i % 4 else "NULL"
            w.writerow([f"{cost:.10f}", "123456789012", "USD", "2026-11-01 00:00:00", "2026-12-01 00:00:00",
                        "Credit" if i % 101 == 0 else "Usage", "NULL", f"charge {i}",
                        f"2026-11-{day:02d} {hour:02d}:00:00",
                        f"2026-11-{day:02d} {hour:02d}:59:59", "1.0", "Hours", f"{cost * 0.8:.10f}", "AWS",
                        "us-east-1", "NULL" if i % 9 == 0 else f"i-{i % 5000:05d}", f"Service {i % 12}",
                        f"SKU{i % 40}", f"SKU{i % 40}.{i}", "210987654321", tags])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.bench_billing")
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-billing-") as tmp:
        path = Path(tmp) / "export.csv"
        write_export(path, args.rows)
        for label in ("first run", "same file again", "same rows, rewritten bytes"):
            if label.startswith("same rows"):
                path.write_bytes(path.read_bytes() + b"\n")
            wall, cpu = time.perf_counter(), time.process_time()
            r = run_billing(Settings(), BillingRequest("focus", [str(path)], state=str(Path(tmp) / "state.sqlite"),
                                                       stdout=True), stdout=io.BytesIO())
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            print(f"{label:28} {args.rows:,} rows  {r.report.events:6,} events  {wall:6.1f} s wall  {cpu:6.1f} s CPU"
                  f"  {cpu / args.rows * 1e6:5.0f} us CPU/row  unexplained {r.report.unexplained():+.6f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
