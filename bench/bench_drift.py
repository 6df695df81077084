"""Drift detectors: values per second and state bytes per feature.

    .venv/bin/python -m bench.bench_drift [--batches N] [--features F]

Feeds ``model_observation`` events (values as Python lists, as they come out of JSON) straight
to :class:`~detectors.drift.DriftDetector` and :class:`~detectors.retrain_without_drift.
RetrainWithoutDriftDetector` for batch sizes 50 (the scorecard's rate: a minute of traffic)
and 1 000, with a mean shift half way so the drift path (tests, evidence) is exercised, and
reports values/s and the pickled state per feature (what the Engine snapshots), in steady state
and at the peak while a reference is filling.
"""

from __future__ import annotations

import argparse
import pickle
import time
from typing import Any

import numpy as np

from detectors.base import DetectorContext, EngineConfig
from detectors.drift import DriftConfig, DriftDetector
from detectors.retrain_without_drift import RetrainWithoutDriftConfig, RetrainWithoutDriftDetector
from detectors.stats.drift_stats import DriftParams, FeatureDrift
from spendwatch.prices import PriceTable

T0 = 1_774_000_000.0


def events(batches: int, per_batch: int, features: int, seed: int = 1) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(batches):
        shift = 1.0 if i > batches // 2 else 0.0
        vals = {f"f{j}": (rng.standard_t(3, per_batch) + shift * (j == 0)).round(4).tolist() for j in range(features)}
        out.append({"type": "model_observation", "ts": T0 + 60.0 * (i + 1), "model_id": "m",
                    "workload": {"id": "serving/m"}, "values": vals})
    return out


def run(cls: Any, cfg: Any, evs: list[dict[str, Any]]) -> tuple[float, int]:
    ctx = DetectorContext(EngineConfig(), PriceTable())
    det = cls("m", cfg, ctx)
    t = time.perf_counter()
    for e in evs:
        det.process(e)
    el = time.perf_counter() - t
    return el, len(pickle.dumps(det))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, default=1440, help="batches per run (default: a day at one a minute)")
    ap.add_argument("--features", type=int, default=8)
    args = ap.parse_args()
    print(f"{'detector':24} {'batch':>6} {'values':>10} {'values/s':>12} {'us/batch':>9} {'state B/feature':>16}")
    for per_batch in (50, 1000):
        evs = events(args.batches, per_batch, args.features)
        n = args.batches * per_batch * args.features
        for name, cls, cfg in (("drift", DriftDetector, DriftConfig()),
                               ("retrain_without_drift", RetrainWithoutDriftDetector, RetrainWithoutDriftConfig())):
            el, size = run(cls, cfg, evs)
            print(f"{name:24} {per_batch:6d} {n:10d} {n / el:12,.0f} {el / len(evs) * 1e6:9.0f} "
                  f"{size / args.features:16,.0f}")
    # one feature on its own: steady state and peak (reference still filling)
    p = DriftParams()
    rng = np.random.default_rng(2)
    fd = FeatureDrift()
    peak = 0
    t = time.perf_counter()
    total = 0
    for i in range(5000):
        v = rng.standard_t(3, 50)
        fd.update(v, T0 + i * 60.0, p)
        total += v.size
        if i % 50 == 0 or not fd.ready:
            peak = max(peak, len(pickle.dumps(fd)))
    el = time.perf_counter() - t
    print(f"\nFeatureDrift alone (numpy batches of 50): {total / el:,.0f} values/s; pickled state "
          f"{len(pickle.dumps(fd)):,} B steady, {peak:,} B peak while the reference fills "
          f"(reference {p.reference_quantiles} quantiles of {p.reference_size} values, window {p.window_size})")


if __name__ == "__main__":
    main()
