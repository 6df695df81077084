"""The thirteenth round of GPU probe generators (bench/probe_round13_gpu.py: an RL job whose rollout and trainer
GPUs take turns, gang-scheduled pods waiting at the rendezvous (and a gang that never completes), pipeline bubbles
read by an instantaneous 10 s exporter (and a dead stage with the others spinning in NCCL), a reclaimed spot node
replaced by a new one, a finished batch pod whose child process keeps its memory, replicas removed every night, dev
boxes over a weekend, a vLLM endpoint left with its health probes): deterministic per seed, contract-valid, sorted,
truths consistent with the events, and each stream has the shape its docstring claims. The detectors' results are
not checked here. ``SMALL13_GPU`` holds a cheap member of each new generator."""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from typing import Any

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build  # imports bench.probe_round13_gpu itself
from tests.bench.probe_checks import assert_a_valid_scenario

ROUND13 = sys.modules["bench.probe_round13_gpu"]

SMALL13_GPU: dict[str, dict[str, object]] = {
    "gpu13_rl_alternating_hang": {"days": 0.5, "hang_day": 0, "hang_at_h": 4.0, "hang_h": 1.0, "step_s": 60.0},
    "gpu13_gang_deadlock": {"days": 0.6, "stuck_day": 0, "stuck_at_h": 3.0, "stuck_h": 1.0, "step_s": 60.0},
    "gpu13_pipeline_bubbles_hang": {"hours": 2.0, "hang_at_h": 1.0, "hang_h": 0.5, "stages": 4},
    "gpu13_spot_replaced_empty": {"hours": 4.0, "reclaim_at_h": 1.0, "idle_h": 1.0, "gpus": 2},
    "gpu13_completed_pod_hoard": {"days": 0.5, "hoard_day": 0, "hoard_at_h": 3.0, "hoard_h": 1.0, "gpus": 6,
                                  "step_s": 60.0},
    "gpu13_autoscaled_night": {"days": 1.5, "gpus": 4, "step_s": 120.0},
    "gpu13_devbox_office_hours": {"boxes": 2, "step_s": 120.0},
    "gpu13_vllm_probe_only": {"days": 0.5, "at_day": 0, "at_h": 4.0, "quiet_h": 2.0, "replicas": 2,
                              "step_s": 60.0},
}
NEW = {name for name, fn in vars(ROUND13).items()
       if name.startswith("gpu_") and callable(fn) and getattr(fn, "__module__", "") == ROUND13.__name__}


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert len(NEW) == 8
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL13_GPU} == NEW
    assert all(n.startswith("gpu13_") for n, (fn, _) in REGISTRY.items() if fn.__name__ in NEW)


@pytest.mark.parametrize("name", sorted(SMALL13_GPU))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL13_GPU[name])


def _by_gpu(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        out[e["gpu_uuid"]].append(e)
    return out


def _busy(e: dict[str, Any]) -> bool:
    return bool(e.get("sm_active_pct", e["util_gpu_pct"]) >= 2)


def _mid(e: dict[str, Any]) -> float:
    return float(e["ts"] - e["interval_s"] / 2)


def _spells(evs: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """Quiet spells (activity < 2 %) of one GPU's samples as (start, end)."""
    out, cur = [], None
    for e in evs:
        a = e["ts"] - e["interval_s"]
        if not _busy(e) and cur is None:
            cur = a
        elif _busy(e) and cur is not None:
            out.append((cur, a))
            cur = None
    return out


def test_rl_rollout_and_trainer_gpus_take_turns_and_the_hang_stops_all() -> None:
    sc = build("gpu13_rl_alternating", 1, {"days": 1.0})
    g = _by_gpu(sc.events)
    assert len(g) == 8
    rollout = {e["gpu_uuid"] for e in sc.events if e["mem_used_bytes"] == int(0.9 * e["mem_total_bytes"])}
    assert len(rollout) == 4
    both = sum(1 for e in sc.events if _busy(e))
    assert both > 0.4 * len(sc.events)
    for evs in g.values():  # every quiet spell is one phase (10-15 min) and memory is held throughout
        assert all(b - a < 16.5 * MIN for a, b in _spells(evs)[1:])
        assert all(e["mem_used_bytes"] > 0.8 * e["mem_total_bytes"] for e in evs)
    assert all(t["ambiguous"] and t["detect_by"] == t["end"] for t in sc.truth)
    sc = build("gpu13_rl_alternating_hang", 1, {"days": 2.0})
    hang = [t for t in sc.truth if not t.get("ambiguous")]
    assert len(hang) == 8 and len({t["resource"] for t in hang}) == 8
    for t in hang:
        assert t["end"] - t["start"] == 2 * HOUR and 20 * MIN <= t["goal_s"] <= 30 * MIN
        inside = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + 60 < e["ts"] < t["end"]]
        assert inside and not any(_busy(e) for e in inside)


def test_gang_pods_wait_at_the_rendezvous_and_the_deadlocked_gang_never_starts() -> None:
    sc = build("gpu13_gang_wait", 1)
    assert not sc.truth
    first: dict[tuple[str, str], float] = {}
    work: dict[tuple[str, str], float] = {}
    for e in sc.events:
        if e["workload"] is None:
            assert e["mem_used_bytes"] == 0 and not _busy(e)
            continue
        k = (e["gpu_uuid"], e["workload"]["id"])
        first.setdefault(k, e["ts"] - e["interval_s"])
        if _busy(e):
            work.setdefault(k, e["ts"] - e["interval_s"])
    assert len({w for _, w in first}) >= 8
    waits = [work[k] - first[k] for k in first]
    assert max(waits) < 17 * MIN and sum(w > 5 * MIN for w in waits) >= 8
    sc = build("gpu13_gang_deadlock", 1)
    assert len(sc.truth) == 8 and len({t["workload"] for t in sc.truth}) == 1
    for t in sc.truth:
        assert t["goal_s"] == 45 * MIN and 2.9 * HOUR < t["end"] - t["start"] < 3.3 * HOUR
        inside = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + 60 < e["ts"] < t["end"]]
        assert inside and all(not _busy(e) and e["workload"]["id"] == t["workload"]
                              and e["mem_used_bytes"] == int(0.03 * e["mem_total_bytes"]) for e in inside)


def test_pipeline_stages_read_idle_in_their_bubbles_and_the_dead_stage_stops_the_others() -> None:
    sc = build("gpu13_pipeline_bubbles", 1, {"hours": 4.0})
    g = _by_gpu(sc.events)
    assert len(g) == 8 and all(e["interval_s"] == 10.0 for e in sc.events)
    for evs in g.values():
        idle = sum(not _busy(e) for e in evs) / len(evs)
        assert 0.4 < idle < 0.65
        run = best = 0
        for e in evs:
            run = run + 1 if _busy(e) else 0
            best = max(best, run)
        assert best <= 5  # never busy for 60 s in a row (runs of 4: a bubble just over the 10 s step)
        quiet = [b - a for a, b in _spells(evs)]
        assert sum(q > 2 * MIN for q in quiet) >= 3 and max(quiet) < 4.5 * MIN  # the hourly checkpoints
    sc = build("gpu13_pipeline_bubbles_hang", 1, {"hours": 14.0})
    assert len(sc.truth) == 8 and all(t["goal_s"] == 10 * MIN for t in sc.truth)
    a, b = T0 + 12 * HOUR, T0 + 13.5 * HOUR
    inside = [e for e in sc.events if a + 30 < e["ts"] < b]
    dead = {e["gpu_uuid"] for e in inside if e["mem_used_bytes"] == 0}
    assert len(dead) == 1 and all(e["util_gpu_pct"] == 0 for e in inside if e["gpu_uuid"] in dead)
    assert all(e["util_gpu_pct"] == 100 and e["sm_active_pct"] <= 1 for e in inside if e["gpu_uuid"] not in dead)


def test_the_spot_node_stops_and_a_new_node_with_new_gpus_reports_unallocated_first() -> None:
    for name in ("gpu13_spot_replaced", "gpu13_spot_replaced_empty"):
        sc = build(name, 1)
        old = [e for e in sc.events if e["node"] == "spot-a100-7f3k"]
        new = [e for e in sc.events if e["node"] == "spot-a100-q9x2"]
        assert max(e["ts"] for e in old) <= T0 + 8 * HOUR
        assert min(e["ts"] for e in new) > T0 + 8 * HOUR + 4 * MIN
        assert not {e["gpu_uuid"] for e in old} & {e["gpu_uuid"] for e in new}
        for evs in _by_gpu(new).values():
            assert evs[0]["workload"] is None and evs[0]["mem_used_bytes"] == 0
            came = min(e["ts"] for e in evs if e["workload"] is not None) - evs[0]["ts"]
            if name.endswith("empty"):
                assert 2.9 * HOUR < came < 3.1 * HOUR
            else:
                assert came < 9 * MIN
    sc = build("gpu13_spot_replaced_empty", 1)
    assert len(sc.truth) == 8 and all(t["workload"] is None and t["goal_s"] == 20 * MIN + 35 for t in sc.truth)


def test_batch_jobs_are_one_pod_each_and_the_finished_pod_keeps_its_memory() -> None:
    sc = build("gpu13_completed_pod", 1, {"days": 1.0})
    assert not sc.truth
    gpus_of: dict[str, set[str]] = defaultdict(set)
    held: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in sc.events:
        if e["workload"] is not None:
            assert e["workload"]["kind"] == "batch"
            gpus_of[e["workload"]["id"]].add(e["gpu_uuid"])
            if not _busy(e):
                held[(e["gpu_uuid"], e["workload"]["id"])].append(e["ts"])
    assert len(gpus_of) > 100 and all(len(v) == 1 for v in gpus_of.values())
    assert max(max(v) - min(v) for v in held.values()) <= 3.5 * MIN  # only the model load
    sc = build("gpu13_completed_pod_hoard", 1)
    assert len(sc.truth) == 2 and all(t["goal_s"] == 30 * MIN for t in sc.truth)
    for t in sc.truth:
        inside = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + 60 < e["ts"] < t["end"]]
        assert inside and all(e["workload"]["id"] == t["workload"] and not _busy(e)
                              and e["mem_used_bytes"] == int(0.7 * e["mem_total_bytes"]) for e in inside)


def test_autoscaler_keeps_two_replicas_at_night_and_eight_by_day() -> None:
    sc = build("gpu13_autoscaled_night", 1)
    for d in range(3):
        night = {e["gpu_uuid"] for e in sc.events if e["workload"] is not None
                 and T0 + d * DAY + 3 * HOUR < e["ts"] < T0 + d * DAY + 4 * HOUR}
        day = {e["gpu_uuid"] for e in sc.events if e["workload"] is not None
               and T0 + d * DAY + 16 * HOUR < e["ts"] < T0 + d * DAY + 17 * HOUR}
        assert len(night) == 2 and len(day) == 8
    assert all(e["mem_used_bytes"] == 0 and not e["processes"] for e in sc.events if e["workload"] is None)
    assert len(sc.truth) == 12 and all(t["ambiguous"] and t["workload"] is None for t in sc.truth)
    assert all(t["start"] < T0 + 2 * DAY for t in sc.truth)  # the nights after the second are must-not-alert


def test_dev_boxes_work_office_hours_thursday_and_friday_and_hold_memory_all_weekend() -> None:
    sc = build("gpu13_devbox_office_hours", 1)
    assert time.gmtime(sc.events[0]["ts"]).tm_wday == 3 and time.gmtime(sc.events[-1]["ts"]).tm_wday == 6
    for evs in _by_gpu(sc.events).values():
        assert evs[0]["workload"]["kind"] == "notebook" and len({e["mem_used_bytes"] for e in evs}) == 1
        for e in evs:
            h = (_mid(e) % DAY) / HOUR
            weekend = _mid(e) >= T0 + 5 * DAY
            if _busy(e) and (weekend or not 8 <= h < 19):
                assert 2 <= h < 3.2  # only the nightly cron cell
        day = [(a, b) for a, b in _spells(evs) if 9.8 <= (a % DAY) / HOUR < 17 and a < T0 + 5 * DAY]
        assert day and max(b - a for a, b in day) < 76 * MIN
    rest = [t for t in sc.truth if not t.get("ambiguous")]
    assert len(rest) == 4 and all(time.gmtime(t["start"]).tm_wday == 4 and t["end"] == T0 + 7 * DAY for t in rest)


@pytest.mark.parametrize("name", ["gpu13_vllm_probe_only", "gpu13_vllm_probe_only_util", "gpu13_vllm_low_traffic"])
def test_vllm_keeps_90_percent_and_the_quiet_hours_read_as_the_docstring_says(name: str) -> None:
    sc = build(name, 1)
    a, b = T0 + 2 * DAY + 2 * HOUR, T0 + 2 * DAY + 7 * HOUR
    assert all(e["mem_used_bytes"] == int(0.9 * e["mem_total_bytes"]) for e in sc.events)
    inside = [e for e in sc.events if a + 60 < e["ts"] < b]
    before = [e for e in sc.events if e["ts"] < a]
    assert inside and all(e["util_gpu_pct"] >= 25 for e in before)
    if name == "gpu13_vllm_probe_only":
        assert all(1 <= e["util_gpu_pct"] <= 4 and e["sm_active_pct"] <= 1.2 for e in inside)
        assert len(sc.truth) == 3 and all(t["goal_s"] == 20 * MIN for t in sc.truth)
    elif name == "gpu13_vllm_probe_only_util":
        assert all(3 <= e["util_gpu_pct"] <= 8 and "sm_active_pct" not in e for e in inside)
        assert len(sc.truth) == 3 and all(t["ambiguous"] for t in sc.truth)
    else:
        assert all(3 <= e["sm_active_pct"] <= 8 for e in inside) and not sc.truth
