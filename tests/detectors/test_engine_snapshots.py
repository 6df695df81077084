"""Snapshots written before the detectors' helpers moved to ``detectors/stats/`` still restore.

A worker upgraded across the move must resume its baselines and open anomalies, not start cold:
the snapshot names classes by the module paths they had when it was written.
"""

from __future__ import annotations

import sys
import types

import orjson
import pytest

from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from detectors.stats import drift_stats, spend_baseline, spend_periods
from spendwatch.events import decode


def _events() -> list[dict]:
    sim = simulate(SimConfig(hours=4, gpus=8, seed=5, billing_days=5))
    return [decode(raw) for raw in sim.lines]


def _old_paths(mp: pytest.MonkeyPatch) -> None:
    """Make pickle write the classes under the paths they had before the move."""
    for old_name, module, classes in (
            ("detectors.spend_baseline", spend_baseline, ["SpendBaseline"]),
            ("detectors.drift_stats", drift_stats, ["FeatureDrift", "ModelDrift", "DriftParams", "RetrainVerdict"])):
        old = types.ModuleType(old_name)
        for name in classes:
            cls = getattr(module, name)
            setattr(old, name, cls)
            mp.setattr(cls, "__module__", old_name)
        mp.setitem(sys.modules, old_name, old)
    import detectors.cost_spike

    mp.setattr(spend_periods.SpendPeriod, "__module__", "detectors.cost_spike")
    mp.setattr(detectors.cost_spike, "_Period", spend_periods.SpendPeriod, raising=False)


def test_a_snapshot_with_the_old_module_paths_restores_and_continues_the_same() -> None:
    events = _events()
    cut = len(events) // 2
    whole = [orjson.dumps(a) for a in Engine().process_many(events)]

    first = Engine()
    got = [orjson.dumps(a) for a in first.process_many(events[:cut])]
    with pytest.MonkeyPatch.context() as mp:
        _old_paths(mp)
        spend_periods.SpendPeriod.__qualname__ = "_Period"  # (a type's __qualname__ cannot be monkeypatched)
        try:
            blob = first.snapshot()
        finally:
            spend_periods.SpendPeriod.__qualname__ = "SpendPeriod"
    for old in (b"detectors.spend_baseline", b"detectors.drift_stats"):
        assert old in blob  # the snapshot really is in the old form
    for moved in (b"detectors.stats.spend_baseline", b"detectors.stats.drift_stats", b"SpendPeriod"):
        assert moved not in blob  # no moved class under its new path (classes born in stats/ are, rightly)

    second = Engine()
    second.restore(blob)
    assert second.open_anomaly_ids == first.open_anomaly_ids
    got += [orjson.dumps(a) for a in second.process_many(events[cut:])]
    assert got == whole
