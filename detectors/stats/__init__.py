"""What the detectors compute with, apart from deciding: baselines, drift tests, period and
run bookkeeping, attribution. No detector lives here; the top of ``detectors/`` is one detector
per module plus the Engine (``engine.py``), the interface (``base.py``) and the registry.

- :mod:`detectors.stats.spend_baseline`: the seasonal, robust baseline of a spend series;
- :mod:`detectors.stats.spend_periods`: billing rows summed per period;
- :mod:`detectors.stats.contributors`: who spent it (contributor shares, cost per token);
- :mod:`detectors.stats.drift_stats`: bounded rank-based drift tests per model and feature;
- :mod:`detectors.stats.runs`: training-run cost, run-id dedup, metric gain;
- :mod:`detectors.stats.seen_rows`: exact duplicate billing rows, one filter per workload for the
  detectors that share it.
"""
