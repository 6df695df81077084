"""``Detector.tick_due``: the Engine skips ticks a detector said do nothing, and nothing else changes."""

from __future__ import annotations

import math
import pickle
from array import array
from collections import deque
from typing import Any

from detectors.cost_spike import CostSpikeDetector
from detectors.engine import Engine
from spendwatch.events import validate


class _AlwaysTicked(CostSpikeDetector):
    """The cost detector as it was: called on every tick."""

    calls = 0

    def process(self, event: dict[str, Any]) -> list[Any]:
        out = super().process(event)
        self.tick_due = -math.inf
        return out

    def tick(self, now: float) -> list[Any]:
        type(self).calls += 1
        out = super().tick(now)
        self.tick_due = -math.inf
        return out


class _Counted(CostSpikeDetector):
    calls = 0

    def tick(self, now: float) -> list[Any]:
        type(self).calls += 1
        return super().tick(now)


def _rows() -> list[dict[str, Any]]:
    out = []
    for h in range(24 * 15):
        start = h * 3600.0
        usd = 80.0 if h in (24 * 14 + 3, 24 * 14 + 4) else 10.0 + h % 3
        out.append(validate({"type": "billing_delta", "ts": start + 3900.0, "period_start": start,
                             "period_end": start + 3600.0, "cost_usd": usd, "service": "OpenAI API",
                             "workload": {"id": "ml/agent", "team": "search"}}))
    return out


def _run(cls: type[CostSpikeDetector]) -> list[dict[str, Any]]:
    engine = Engine(detector_classes=[cls])
    out: list[dict[str, Any]] = []
    now = 0.0
    for e in _rows():
        while now + 60.0 < e["ts"]:  # event time moves every minute, as GPU samples move it
            now += 60.0
            out.extend(engine.advance(now))
        out.extend(engine.process(e))
    out.extend(engine.advance(now + 6 * 3600.0))
    return out


def test_skipped_ticks_change_no_anomaly_and_save_the_calls() -> None:
    skipped, always = _run(_Counted), _run(_AlwaysTicked)
    assert [a["state"] for a in skipped] == ["open", "open", "resolved"]
    assert skipped == always
    # while no anomaly is open, about one call a period instead of sixty (an open one is ticked every minute)
    assert _Counted.calls * 10 < _AlwaysTicked.calls


def test_a_snapshot_with_a_set_and_a_deque_restores_into_arrays() -> None:
    engine = Engine(detector_classes=[CostSpikeDetector])
    for e in _rows()[:50]:
        engine.process(e)
    inst = next(iter(engine._instances.values()))
    assert isinstance(inst, CostSpikeDetector)
    judged, delays = list(inst.judged), list(inst.delays)
    assert judged and delays
    state = inst.__getstate__()
    state["judged"], state["delays"] = set(judged), deque(delays, maxlen=16)  # as snapshots were written before
    old = CostSpikeDetector.__new__(CostSpikeDetector)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.judged == array("d", sorted(judged)) and old.delays == array("d", delays)
    assert old.judged_period(judged[0]) and not old.judged_period(judged[-1] + 3600.0)
