"""Benchmark of the cost_spike detector: state bytes per tracked series and Engine throughput.

    .venv/bin/python -m bench.bench_cost                     # 100k workloads, 2 + 4 hourly periods
    .venv/bin/python -m bench.bench_cost --workloads 20000 --hours 24

State: 50 workload classes (base spend, resource; LLM token rows, two SKUs a period, or one, or four)
are fed three weeks of hourly rows and each detector is pickled alone, as the Engine snapshots it.
Throughput: N workloads, each restored with its class's three weeks of history (as a worker
restores a snapshot), export the rows of every hour 4-15 minutes after the hour closes,
interleaved and sorted by ``ts`` as on the billing topic; only ``Engine.process`` is timed (the
events are built before the clock starts, an hour at a time): a long-running worker's steady
state. The figure to compare with is the replay spine's ~150k lines/s (parse + validate + all
detectors), i.e. ~6.7 us a line.
"""

from __future__ import annotations

import argparse
import gc
import math
import pickle
import random
import statistics
import time
from typing import Any

from detectors.base import DetectorContext, EngineConfig
from detectors.cost_spike import CostConfig, CostSpikeDetector
from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.prices import PriceConfig, PriceTable

HOUR, DAY = 3600.0, 86400.0
_CLASSES = 50  # workload i spends like class i % 50 (base $/h and row layout)
T0 = 1_772_409_600.0  # a Monday, 00:00 UTC


def _workload(i: int) -> dict[str, Any]:
    return {"id": f"team-{i % 97}/workload-{i:06d}", "kind": "inference", "team": f"team-{i % 97}",
            "owner": f"team-{i % 97}@corp.example"}


def _rows(i: int, t: float, r: random.Random, workload: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of workload ``i`` for the hour starting at ``t``."""
    base = 5.0 + (i % _CLASSES)
    hod = (t % DAY) / HOUR
    cost = base * (1 + 0.4 * math.cos(2 * math.pi * (hod - 14) / 24)) * max(0.3, r.gauss(1, 0.1))
    ts = t + HOUR + r.uniform(240, 900)
    common = {"type": "billing_delta", "period_start": t, "period_end": t + HOUR, "workload": workload}
    kind, res = i % 10, i % _CLASSES  # resources per class: the clones bill what their history knows
    if kind < 5:  # LLM usage: input and output token rows
        split = r.uniform(0.35, 0.45)
        return [dict(common, ts=ts, cost_usd=round(cost * split, 4), source="llm_usage", service="Anthropic API",
                     sku="input-tokens", resource_id=f"apikey-{res}", model="claude-sonnet-4",
                     usage_quantity=round(cost * split / 3e-6), usage_unit="tokens"),
                dict(common, ts=ts + 1.0, cost_usd=round(cost * (1 - split), 4), source="llm_usage",
                     service="Anthropic API", sku="output-tokens", resource_id=f"apikey-{res}", model="claude-sonnet-4",
                     usage_quantity=round(cost * (1 - split) / 15e-6), usage_unit="tokens")]
    skus = 4 if kind == 9 else 1  # most cloud workloads bill one SKU an hour, some several
    return [dict(common, ts=ts + k, cost_usd=round(cost / skus, 4), source="focus", service="Amazon SageMaker",
                 sku=f"ml.g5.{k}xlarge-hosting", resource_id=f"endpoint/w{res}", usage_quantity=round(cost / 1.5, 3),
                 usage_unit="Hrs") for k in range(skus)]


def prototypes(days: int) -> list[CostSpikeDetector]:
    """One detector per workload class (base spend x row layout), fed ``days`` days of rows."""
    context = DetectorContext(EngineConfig(), PriceTable(PriceConfig()))
    out = []
    r = random.Random(1)
    for i in range(_CLASSES):
        w = _workload(i)
        det = CostSpikeDetector(w["id"], CostConfig(), context)
        events = [ev for h in range(days * 24) for ev in _rows(i, T0 + h * HOUR, r, w)]
        events.sort(key=lambda e: e["ts"])
        for ev in events:
            det.process(ev)
        out.append(det)
    return out


def throughput(workloads: int, hours: int, warmup: int, protos: list[CostSpikeDetector],
               days: int, freeze: bool = False) -> tuple[int, float, int, int]:
    """Rows and seconds of ``hours`` timed hours for ``workloads`` series that already have ``days``
    of history (each restored from its class's prototype, as a worker restores a snapshot), after
    ``warmup`` untimed hours."""
    engine = Engine(Settings(), [CostSpikeDetector])
    blobs = [pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL) for d in protos]
    names = [_workload(i) for i in range(workloads)]
    for i, w in enumerate(names):  # what Engine.restore does per instance, without a 100k-series blob
        det = pickle.loads(blobs[i % _CLASSES])  # noqa: S301 - our own state
        det.key, det.workload = w["id"], w
        det.attach(engine._configs["cost"], engine.context)
        engine._instances[("cost", w["id"])] = det
    if freeze:
        gc.freeze()  # what a worker does after restoring its snapshot: the state is long-lived
    r = random.Random(2)
    n, busy = 0, 0.0
    for h in range(warmup + hours):
        t = T0 + days * DAY + h * HOUR
        batch = [ev for i in range(workloads) for ev in _rows(i, t, r, names[i])]
        batch.sort(key=lambda e: e["ts"])
        gc.collect()
        start = time.process_time()  # CPU time: the machine may be shared, wall time would count others
        for ev in batch:
            engine.process(ev)
        if h >= warmup:
            busy += time.process_time() - start
            n += len(batch)
    snapshot = len(engine.snapshot())
    return n, busy, snapshot, engine.tracked_keys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--workloads", type=int, default=100_000, help="workloads in the throughput run (100000)")
    p.add_argument("--hours", type=int, default=4, help="timed hourly periods each workload exports (4)")
    p.add_argument("--warmup", type=int, default=1, help="untimed hours first (1)")
    p.add_argument("--days", type=int, default=21, help="days of history behind every series (21)")
    p.add_argument("--gc-freeze", action="store_true",
                   help="gc.freeze() after loading the series, as a worker may after restoring a snapshot")
    args = p.parse_args(argv)

    protos = prototypes(args.days)
    sizes = [len(pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)) for d in protos]
    print(f"state per series after {args.days} days (pickled alone, {len(sizes)} series): "
          f"median {statistics.median(sizes):.0f} B, max {max(sizes)} B (goal <= 4096 B)")
    n, busy, snap, keys = throughput(args.workloads, args.hours, args.warmup, protos, args.days, args.gc_freeze)
    print(f"throughput: {args.workloads:,} workloads x {args.hours} h = {n:,} billing rows through Engine.process "
          f"in {busy:.2f} CPU s: {n / busy:,.0f} events/s ({busy / n * 1e6:.2f} us/event)"
          f"{' with gc.freeze()' if args.gc_freeze else ''}")
    print(f"engine snapshot: {snap / keys:,.0f} B per tracked series ({keys:,} series, {snap / 2**20:.1f} MiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
