"""Training-run bookkeeping shared by the detectors that read ``training_run`` events.

Used by :mod:`detectors.retrain_loop`, :mod:`detectors.retrain_without_drift` and
:mod:`detectors.drift`: what a run cost, whether a terminal status was already counted, a run's
metric value, and whether a metric moved materially. Nothing here decides anything.

Examples
--------
>>> from spendwatch.prices import PriceConfig, PriceTable
>>> prices = PriceTable(PriceConfig(training_gpu_usd=2.0))
>>> run_cost_usd({"gpu_hours": 3.0, "workload": {"id": "ml/a"}}, prices)  # the training default
6.0
>>> run_cost_usd({"gpu_hours": 1.0, "workload": {"id": "ml/b", "labels": {"gpu_model": "H100"}}}, prices)
3.9
>>> run_cost_usd({"cost_usd": 12.5, "gpu_hours": 3.0, "workload": {"id": "ml/c"}}, prices)
12.5
>>> seen = deque(maxlen=64)
>>> first_time(seen, "run-1"), first_time(seen, "run-1")
(True, False)
>>> metric_gain(0.80, 0.81, higher_is_better=True, min_gain_pct=0.5)
True
>>> metric_gain(0.80, 0.801, higher_is_better=True, min_gain_pct=0.5)
False
"""

from __future__ import annotations

from collections import deque
from typing import Any

from spendwatch.prices import PriceTable


def run_cost_usd(event: dict[str, Any], prices: PriceTable) -> float:
    """What a ``training_run`` cost: ``cost_usd`` when given, else ``gpu_hours`` x the GPU-hour
    price of :meth:`~spendwatch.prices.PriceTable.training_gpu_per_hour` (the price table's entry
    for a ``gpu_model`` workload label, else the ``prices.training_gpu_usd`` default)."""
    cost = event.get("cost_usd")
    if cost is not None:
        return float(cost)
    hours = event.get("gpu_hours") or 0.0
    labels = (event.get("workload") or {}).get("labels") or {}
    return float(hours) * prices.training_gpu_per_hour(labels.get("gpu_model"))


def first_time(seen: deque[str], run_id: str) -> bool:
    """True the first time ``run_id`` is seen (and remember it in the bounded ``seen``), False
    for a run already counted: a terminal status counts once per run, however often it is
    re-delivered."""
    if run_id in seen:
        return False
    seen.append(run_id)
    return True


def metric_value(metric: dict[str, Any] | None) -> float | None:
    """A run's metric value (None when the run reports no metric)."""
    return None if metric is None else float(metric["value"])


def metric_gain(before: float, after: float, higher_is_better: bool, min_gain_pct: float) -> bool:
    """True when ``after`` improves on ``before`` by more than ``min_gain_pct`` percent of
    ``before`` in the metric's own direction."""
    delta = (after - before) if higher_is_better else (before - after)
    return delta > min_gain_pct / 100.0 * max(abs(before), 1e-12)
