"""What the structural-waste detectors (insights) cost: Engine CPU time with and without them, state per key.

    .venv/bin/python -m bench.bench_insights [--gpus 96] [--hours 24] [--seed 1] [--events FILE]

The standard simulated stream of ``python -m bench replay`` (``spendwatch simulate``, every
problem injected, 14 days of billing) is decoded once into memory; then the same events go
through fresh Engines: the incident detectors only (those with no ``insight_kinds``), every
default detector, and the incident detectors plus each insight detector on its own. Each figure
is the process CPU time of the Engine loop alone (decoding is shared, so it is left out: the
share of a whole ``spendwatch replay`` is smaller than the Engine's; ``python -m bench replay``
on the two versions gives that). State per key: the pickled size of each insight detector's
instances (the Engine snapshots them with pickle) and of the shared ledgers they keep
(:meth:`~detectors.base.DetectorContext.state`), after the whole stream.
"""

from __future__ import annotations

import argparse
import pickle
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detectors.base import Detector
from detectors.engine import Engine
from detectors.registry import default_detector_classes
from spendwatch.events import BadEvent, decode

GOAL_EXTRA = 0.15  # the insight detectors may add at most this share to replay's cost


def _load(path: Path) -> list[dict[str, Any]]:
    events = []
    with open(path, "rb") as f:
        for line in f:
            try:
                events.append(decode(line))
            except BadEvent:
                continue  # the stream's deliberate bad lines: replay counts them, the Engine never sees them
    return events


def _run(events: Sequence[dict[str, Any]], classes: list[type[Detector]]) -> tuple[float, Engine]:
    engine = Engine(detector_classes=classes)
    t0 = time.process_time()
    for e in events:
        engine.process(e)
    return time.process_time() - t0, engine


def _state_sizes(engine: Engine, cls: type[Detector]) -> tuple[int, float, int, int, float]:
    """(instances, mean bytes, max bytes, shared-state entries, their mean bytes) for ``cls``."""
    sizes = [len(pickle.dumps(inst)) for (name, _k), inst in engine._instances.items() if name == cls.name]
    prefixes = {cls.name, cls.name.split("_")[0]}
    shared = [len(pickle.dumps(st)) for (name, _k), st in engine.context.states.items()
              if name.split(".")[0] in prefixes]
    mean = sum(sizes) / len(sizes) if sizes else 0.0
    return len(sizes), mean, max(sizes, default=0), len(shared), (sum(shared) / len(shared) if shared else 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_insights", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpus", type=int, default=96)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--events", metavar="FILE", help="use this stream instead of simulating one")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-insights-") as tmp:
        path = Path(args.events) if args.events else Path(tmp) / "events.jsonl"
        if not args.events:
            cmd = [sys.executable, "-m", "spendwatch.cli", "simulate", "--gpus", str(args.gpus), "--hours",
                   str(args.hours), "--seed", str(args.seed), "--out", str(path)]
            p = subprocess.run(cmd, capture_output=True, text=True)
            if p.returncode != 0:
                print(f"simulate failed: {p.stderr[-1000:]}", file=sys.stderr)
                return 1
        events = _load(path)
    by_type = Counter(e["type"] for e in events)
    print(f"stream: {len(events):,} events ({', '.join(f'{t} {n:,}' for t, n in sorted(by_type.items()))})")

    every = default_detector_classes()
    incident = [c for c in every if not c.insight_kinds]
    insight = [c for c in every if c.insight_kinds]
    base_s, _ = _run(events, incident)
    all_s, engine = _run(events, every)
    extra = all_s / base_s - 1.0
    print(f"Engine, incident detectors only: {base_s:.2f} s CPU = {len(events) / base_s:,.0f} events/s")
    print(f"Engine, every detector:          {all_s:.2f} s CPU = {len(events) / all_s:,.0f} events/s "
          f"(+{100 * extra:.1f} % for the insight detectors)")
    print("insight detector        consumes                 its events  CPU s    its events/s  instances"
          "  bytes/instance (max)  shared states  bytes each")
    for cls in insight:
        own_s, _ = _run(events, [*incident, cls])
        own = max(own_s - base_s, 1e-9)
        n = sum(by_type[t] for t in cls.event_types)
        inst, mean, mx, shared, shared_mean = _state_sizes(engine, cls)
        rate = f"{n / own:>15,.0f}" if own >= 0.05 else f"{'(in the noise)':>15}"
        print(f"{cls.name:<23} {','.join(cls.event_types):<24} {n:>10,} {own:>6.2f} {rate} "
              f"{inst:>10,} {mean:>10,.0f} ({mx:,}) {shared:>14,} {shared_mean:>11,.0f}")
    snapshot = len(engine.snapshot())
    print(f"whole Engine snapshot after the stream: {snapshot / 2**20:.1f} MiB")
    verdict = "within" if extra <= GOAL_EXTRA else "over"
    print(f"goal: the insight detectors add at most {100 * GOAL_EXTRA:.0f} % to the Engine's time: {verdict} it "
          f"(CPU times on a shared machine vary by a few percent; rerun to compare)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
