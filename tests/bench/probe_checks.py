"""Checks every probe round's generator tests share: a scenario is contract-valid, sorted, the same for the
same seed and different for another, and its truths name what its events hold."""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from typing import Any

from bench.probe_scenarios import FAMILY, HOUR, Scenario, build
from spendwatch.events import validate


def digest(sc: Scenario) -> str:
    return hashlib.sha256(json.dumps([sc.events, sc.truth], sort_keys=True).encode()).hexdigest()


def assert_a_valid_scenario(name: str, small: dict[str, Any], start_slack: float = HOUR,
                            workload_required: bool = False) -> Scenario:
    """Build ``name`` with ``small`` (seed 1) and check it; a truth may start ``start_slack`` before the
    first event (a problem already under way)."""
    sc = build(name, 1, small)
    assert sc.events
    assert digest(sc) == digest(build(name, 1, small))
    assert digest(sc) != digest(build(name, 2, small))
    for e in sc.events:
        validate(json.loads(json.dumps(e)))  # raises BadEvent on anything the contract refuses
    assert all(x["ts"] <= y["ts"] for x, y in pairwise(sc.events))
    t0, t1 = sc.events[0]["ts"], sc.events[-1]["ts"]
    resources = {e.get("mig_uuid") or e.get("gpu_uuid") for e in sc.events if e["type"] == "gpu_sample"}
    resources |= {e.get("model_id") for e in sc.events}
    workloads = {e["workload"]["id"] for e in sc.events if isinstance(e.get("workload"), dict)}
    for t in sc.truth:
        assert t["family"] in set(FAMILY.values())
        assert t0 - start_slack <= t["start"] < t["end"] <= t1 + HOUR, t
        assert t.get("detect_by", t["end"]) >= t["start"]
        if t["family"] == "cost":
            assert t["resource"] is None and t["workload"] is not None
        assert t["resource"] is None or t["resource"] in resources, t
        assert t["workload"] in workloads if workload_required else t["workload"] is None or \
            t["workload"] in workloads, t
    return sc


def quiet_spells(events: list[dict[str, Any]], uuid: str) -> list[tuple[float, float]]:
    """Quiet spells (SM activity < 2 %) of one GPU as (start, end)."""
    out, cur = [], None
    for e in (e for e in events if e["gpu_uuid"] == uuid):
        a = e["ts"] - e["interval_s"]
        if e["sm_active_pct"] < 2 and cur is None:
            cur = a
        elif e["sm_active_pct"] >= 2 and cur is not None:
            out.append((cur, a))
            cur = None
    return out
