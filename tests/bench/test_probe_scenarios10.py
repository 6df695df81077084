"""The tenth round of probe generators (bench/probe_scenarios.py, "probe round 10": an input-bound training job
with 1-3 min dataloader stalls, a large model's 20-30 min checkpoint saves, collector dropouts of 10-40 min, a
node that reboots, a developer iterating by hand on one data_version, nightly jobs that fail 1-3 times before
they succeed, an online model retrained every 15 min on fresh data): deterministic per seed, contract-valid,
sorted, truths consistent with the events, and each stream has the shape its docstring claims. The detectors'
results are not checked here. ``SMALL10`` holds a cheap member of each new generator; the coverage test of
test_probe_scenarios.py reads it too."""

from __future__ import annotations

from typing import Any

import pytest

from bench.probe_scenarios import DAY, HOUR, MIN, REGISTRY, T0, build
from tests.bench.probe_checks import assert_a_valid_scenario, quiet_spells

SMALL10: dict[str, dict[str, object]] = {
    "gpu_dataloader_stalls_hang": {"days": 0.5, "gpus": 2, "hang_day": 0, "hang_at_h": 6.0, "hang_h": 1.0,
                                   "step_s": 60.0},
    "gpu_long_checkpoints_hang": {"days": 1.0, "gpus": 2, "hang_day": 0, "hang_at_h": 12.0, "step_s": 60.0},
    "gpu_sample_dropouts_idle": {"days": 1.0, "gpus": 2, "idle_day": 0, "idle_at_h": 12.0, "step_s": 60.0},
    "gpu_node_reboot_pods_gone": {"days": 2.0, "gpus": 2, "step_s": 60.0},
    "loop_dev_iterating_control": {"session_days": "0,1"},
    "loop_retry_then_success": {"weeks": 1},
    "loop_streaming_retrain": {"days": 0.25},
}
NEW = {"gpu_dataloader_stalls", "gpu_long_checkpoints", "gpu_sample_dropouts", "gpu_node_reboot",
       "loop_dev_iterating", "loop_retry_then_success", "loop_streaming_retrain"}


def _gaps(events: list[dict[str, Any]], uuid: str, over: float) -> list[tuple[float, float]]:
    ts = [e["ts"] for e in events if e["gpu_uuid"] == uuid]
    return [(x, y) for x, y in zip(ts, ts[1:], strict=False) if y - x > over]


def test_every_new_generator_is_registered_and_has_a_small_case() -> None:
    assert {fn.__name__ for fn, _ in REGISTRY.values()} >= NEW
    assert {REGISTRY[n][0].__name__ for n in SMALL10} == NEW


@pytest.mark.parametrize("name", sorted(SMALL10))
def test_valid_sorted_deterministic_and_truth_consistent(name: str) -> None:
    assert_a_valid_scenario(name, SMALL10[name])


def test_dataloader_stalls_are_1_3_min_job_wide_and_the_hang_is_one_long_spell() -> None:
    sc = build("gpu_dataloader_stalls_hang", 1, SMALL10["gpu_dataloader_stalls_hang"])
    assert len(sc.truth) == 2 and all(t["goal_s"] == 10 * MIN for t in sc.truth)
    for t in sc.truth:
        spells = quiet_spells(sc.events, t["resource"])
        long = [(a, b) for a, b in spells if b - a > 5 * MIN]
        assert len(long) == 1 and long[0][0] <= t["start"] + 2 * MIN and abs(long[0][1] - t["end"]) < 2 * MIN
        assert len(spells) > 15
    assert all(e["mem_used_bytes"] > 0.8 * e["mem_total_bytes"] for e in sc.events)
    busy = [e["util_gpu_pct"] for e in sc.events if e["util_gpu_pct"] > 0]
    assert min(busy) >= 30 and max(busy) <= 95 and max(busy) - min(busy) > 30


def test_long_checkpoints_every_4_h_the_first_ambiguous_and_the_hang_goal_twice_the_longest_save() -> None:
    sc = build("gpu_long_checkpoints_hang", 1, SMALL10["gpu_long_checkpoints_hang"])
    amb = [t for t in sc.truth if t.get("ambiguous")]
    hang = [t for t in sc.truth if not t.get("ambiguous")]
    assert len(amb) == len(hang) == 2
    for t in hang:
        spells = quiet_spells(sc.events, t["resource"])
        saves = [b - a for a, b in spells if b < t["start"]]
        assert saves and all(19 * MIN <= s <= 31.5 * MIN for s in saves)
        assert t["goal_s"] <= 60 * MIN + 1 and abs(t["goal_s"] - 2 * max(saves)) < 2 * MIN
        assert any(abs(a - t["start"]) < 2 * MIN and abs(b - t["end"]) < 2 * MIN for a, b in spells)


def test_dropouts_leave_no_samples_and_the_gpus_come_back_idle_for_2_h() -> None:
    sc = build("gpu_sample_dropouts_idle", 1, SMALL10["gpu_sample_dropouts_idle"])
    for t in sc.truth:
        gaps = _gaps(sc.events, t["resource"], 5 * MIN)
        assert len(gaps) >= 2 and all(9 * MIN <= y - x <= 42 * MIN for x, y in gaps)
        assert any(0 <= y - t["start"] < 3 * MIN for _, y in gaps)  # samples resume as the truth starts (2 steps)
        after = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + MIN < e["ts"] < t["end"]]
        assert after and all(e["sm_active_pct"] < 2 and e["mem_used_bytes"] > 0.7 * e["mem_total_bytes"]
                             for e in after)


def test_node_reboots_twice_and_the_gpus_come_back_unallocated() -> None:
    sc = build("gpu_node_reboot_pods_gone", 1, SMALL10["gpu_node_reboot_pods_gone"])
    for t in sc.truth:
        gaps = _gaps(sc.events, t["resource"], 10 * MIN)
        assert len(gaps) == 2 and all(44 * MIN <= y - x <= 72 * MIN for x, y in gaps)
        assert abs(gaps[1][1] - t["start"]) < 2 * MIN and t["workload"] is None and t["goal_s"] == 90 * MIN
        idle = [e for e in sc.events if e["gpu_uuid"] == t["resource"] and t["start"] + MIN < e["ts"] < t["end"]]
        assert idle and all(e["workload"] is None and e["mem_used_bytes"] == 0 for e in idle)


def test_dev_iterating_new_code_each_run_metric_moving_and_the_control_frozen() -> None:
    sc = build("loop_dev_iterating", 1, {"session_days": "0,1"})
    ends = [e for e in sc.events if e["status"] == "succeeded"]
    assert len({e["code_version"] for e in ends}) == len(ends) and {e["trigger"] for e in ends} == {"manual"}
    assert len({e["data_version"] for e in ends}) == 1 and 12 <= len(ends) <= 16
    vals = [e["metric"]["value"] for e in ends]
    moves = [b - a for a, b in zip(vals, vals[1:], strict=False)]
    assert all(abs(m) >= 0.0035 for m in moves) and any(m < 0 for m in moves) and any(m > 0 for m in moves)
    ctl = build("loop_dev_iterating_control", 1, SMALL10["loop_dev_iterating_control"])
    cends = [e for e in ctl.events if e["status"] == "succeeded"]
    assert len({e["code_version"] for e in cends}) == 1 and len({e["metric"]["value"] for e in cends}) == 1
    assert len(ctl.truth) == 2 and all(t["end"] - t["start"] <= 4 * HOUR for t in ctl.truth)


def test_retry_streaks_of_1_3_failures_end_in_a_success_within_15_min() -> None:
    sc = build("loop_retry_then_success", 1, SMALL10["loop_retry_then_success"])
    ends = sorted((e for e in sc.events if e["status"] != "started"), key=lambda e: e["ts"])
    assert not sc.truth and sum(e["status"] == "succeeded" for e in ends) == 7
    streak: list[dict[str, Any]] = []
    streaks = 0
    for e in ends:
        if e["status"] == "failed":
            streak.append(e)
            continue
        if streak:
            streaks += 1
            assert 1 <= len(streak) <= 3 and e["trigger"] == "retry"
            assert e["started_at"] - streak[0]["started_at"] <= 15 * MIN
            assert {x["data_version"] for x in streak} == {e["data_version"]}
        streak = []
    assert 2 <= streaks <= 3


def test_streaming_retrain_fresh_data_every_15_min_and_no_observations() -> None:
    sc = build("loop_streaming_retrain", 1, SMALL10["loop_streaming_retrain"])
    ends = [e for e in sc.events if e["status"] == "succeeded"]
    assert len(ends) == 24 and len({e["data_version"] for e in ends}) == 24
    assert all(e["type"] == "training_run" for e in sc.events)
    starts = sorted(e["started_at"] for e in ends)
    assert all(14 * MIN < b - a < 16 * MIN for a, b in zip(starts, starts[1:], strict=False))
    assert starts[0] >= T0 and starts[-1] < T0 + 0.25 * DAY
