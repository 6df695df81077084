"""Contract input events for tests, built in one place (shared/CONTRACT.md).

Each factory gives an event with the contract's *required* fields set to plain defaults; every
other field is passed by its contract name (``mig_uuid=``, ``price_per_hour_usd=``, ...) and
overrides or adds to the defaults, so a test states exactly the fields it cares about. The
``workload`` is a fresh copy each time (validation normalises it in place).

    gpu_sample(T0 + 15, util_gpu_pct=0.0, sm_active_pct=0.3, price_per_hour_usd=2.95)
    billing_delta(T0 + 3600, cost_usd=12.5, workload=workload("ml/trainer"))
    training_run(T0, run_id="r1", model_id="churn", status="failed")
    model_observation(T0, model_id="churn", values={"tenure": [1.0, 2.0]})
"""

from __future__ import annotations

import copy
from typing import Any

T0 = 1_774_000_000.0
GIB = 2**30
A100 = "NVIDIA A100-SXM4-80GB"
H100 = "NVIDIA H100 80GB HBM3"
WORKLOAD: dict[str, Any] = {"id": "ml/train-a", "kind": "training", "team": "ml", "owner": "a@corp.example"}


def workload(wid: str | None = None, **fields: Any) -> dict[str, Any]:
    """A contract workload: :data:`WORKLOAD` (or just ``{"id": wid}`` when an id is given) plus ``fields``."""
    w = copy.deepcopy(WORKLOAD) if wid is None else {"id": wid}
    w.update(fields)
    return w


def _fresh(fields: dict[str, Any]) -> dict[str, Any]:
    if isinstance(fields.get("workload"), dict):
        fields["workload"] = copy.deepcopy(fields["workload"])
    return fields


def gpu_sample(ts: float = T0, **fields: Any) -> dict[str, Any]:
    """One GPU over one 15 s interval: node ``n1``, ``GPU-1``, idle, 80 GiB, :data:`WORKLOAD`."""
    ev: dict[str, Any] = {"type": "gpu_sample", "ts": ts, "node": "n1", "gpu_uuid": "GPU-1", "interval_s": 15.0,
                          "util_gpu_pct": 0.0, "mem_used_bytes": 0, "mem_total_bytes": 80 * GIB,
                          "workload": workload()}
    ev.update(_fresh(fields))
    return ev


def billing_delta(ts: float = T0, **fields: Any) -> dict[str, Any]:
    """One hour of spend ending at ``ts``: $1 for :data:`WORKLOAD`."""
    ev: dict[str, Any] = {"type": "billing_delta", "ts": ts, "period_start": ts - 3600.0, "period_end": ts,
                          "cost_usd": 1.0, "workload": workload()}
    ev.update(_fresh(fields))
    return ev


def training_run(ts: float = T0, **fields: Any) -> dict[str, Any]:
    """A run ``r1`` of model ``m1`` that succeeded at ``ts``."""
    ev: dict[str, Any] = {"type": "training_run", "ts": ts, "run_id": "r1", "model_id": "m1", "workload": workload(),
                          "status": "succeeded"}
    ev.update(_fresh(fields))
    return ev


def model_observation(ts: float = T0, **fields: Any) -> dict[str, Any]:
    """A batch of model ``m1``'s inputs: one feature, three values."""
    ev: dict[str, Any] = {"type": "model_observation", "ts": ts, "model_id": "m1", "workload": workload(),
                          "values": {"f1": [1.0, 2.0, 3.0]}}
    ev.update(_fresh(fields))
    return ev
