"""retrain_loop: crash loops and no-gain loops fire; sweeps, fresh retrains and progress updates do not."""

from __future__ import annotations

import itertools
from typing import Any

from detectors.base import Detector
from detectors.engine import Engine
from detectors.retrain_loop import RetrainLoopDetector
from spendwatch.config import Settings
from tests.factories import training_run, workload

H, M = 3600.0, 60.0
T0 = 1_774_000_000.0
_ids = itertools.count()


def wl(wid: str = "team/train") -> dict[str, Any]:
    return workload(wid, kind="training", team="ml")


def run(model: str, start: float, dur: float, status: str, *, data: str | None = "snap-1", code: str = "c1",
        metric: float | None = None, hib: bool = True, gpu_hours: float | None = None,
        cost: float | None = 4.0, progress: bool = False, run_id: str | None = None,
        trigger: str = "schedule") -> list[dict[str, Any]]:
    """The events of one run: started (and hourly progress), then its terminal status."""
    rid = run_id or f"{model}-{next(_ids)}"
    base = training_run(start, run_id=rid, model_id=model, workload=wl(), started_at=start, data_version=data,
                        code_version=code, trigger=trigger)
    evs = [dict(base, ts=start, status="started", ended_at=None, metric=None, gpu_hours=0.0, cost_usd=0.0)]
    k = start + H
    while progress and k < start + dur:
        evs.append(dict(base, ts=k, status="started", ended_at=None, metric=None))
        k += H
    m = None if metric is None else {"name": "auc", "value": metric, "higher_is_better": hib}
    evs.append(dict(base, ts=start + dur, status=status, ended_at=start + dur, metric=m,
                    gpu_hours=gpu_hours, cost_usd=cost))
    return evs


def replay(events: list[dict[str, Any]], settings: Settings | None = None,
           classes: list[type[Detector]] | None = None) -> list[dict[str, Any]]:
    eng = Engine(settings, classes or [RetrainLoopDetector])
    out = eng.process_many(sorted(events, key=lambda e: e["ts"]))
    return out + eng.advance(max(e["ts"] for e in events) + 48 * H)


def opened(out: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for a in out:
        if a["state"] == "open":
            first.setdefault(a["id"], a)
    return first


def crash_loop(n: int = 8, model: str = "asr") -> list[dict[str, Any]]:
    evs: list[dict[str, Any]] = []
    for i in range(n):
        evs += run(model, T0 + i * 25 * M, 5 * M, "failed" if i % 3 else "cancelled", cost=4.0)
    return evs


def test_crash_loop_opens_on_third_failure_with_start_of_first_run_and_waste() -> None:
    out = replay(crash_loop(8))
    ops = opened(out)
    assert len(ops) == 1
    a = next(iter(ops.values()))
    assert a["kind"] == "retrain_loop" and a["resource"] == "asr" and a["workload"]["id"] == "team/train"
    assert a["started_at"] == T0
    assert a["detected_at"] == T0 + 2 * 25 * M + 5 * M  # the end of the third failed run
    assert a["evidence"]["pattern"] == "crash" and len(a["evidence"]["runs"]) == 3
    assert a["projected_daily_usd"] > 0
    last = [x for x in out if x["id"] == a["id"]]
    assert last[-1]["state"] == "resolved"
    assert last[-1]["waste_usd"] == 32.0  # all eight failed runs
    assert last[-1]["resolved_at"] == T0 + 7 * 25 * M + 5 * M  # loop stopped: resolved at its last run's end


def test_crash_loop_resolves_when_a_run_succeeds() -> None:
    evs = crash_loop(4) + run("asr", T0 + 4 * 25 * M, 30 * M, "succeeded", metric=0.9)
    out = replay(evs)
    assert [a["state"] for a in out][0] == "open" and out[-1]["state"] == "resolved"
    assert out[-1]["resolved_at"] == T0 + 4 * 25 * M + 30 * M
    assert len(opened(out)) == 1


def test_two_failures_then_success_is_not_a_loop() -> None:
    evs = run("m", T0, 5 * M, "failed") + run("m", T0 + 20 * M, 5 * M, "failed") \
        + run("m", T0 + 40 * M, 60 * M, "succeeded", metric=0.8) \
        + run("m", T0 + 3 * H, 5 * M, "failed", trigger="manual")
    assert replay(evs) == []


def test_a_schedule_starting_the_retrain_it_just_ran_opens_at_that_start_and_a_failed_repeat_resolves() -> None:
    # the second scheduled run on the same snapshot and code: open as it starts ($4 an hour: $96 a day)
    evs = run("m", T0, 15 * M, "succeeded", metric=0.8) + run("m", T0 + H, 15 * M, "succeeded", metric=0.8)
    (a,) = opened(replay(evs)).values()
    assert a["detected_at"] == T0 + H and a["started_at"] == T0 and a["waste_usd"] == 0.0
    assert a["projected_daily_usd"] == 96.0 and a["evidence"]["opened_at_start_of"] == evs[2]["run_id"]
    # a cheap schedule ($0.20 a run, $4.80 a day) waits for its third round's end, as before
    cheap = [e for k in range(3) for e in run("c", T0 + k * H, 15 * M, "succeeded", metric=0.8, cost=0.2)]
    (c,) = opened(replay(cheap)).values()
    assert c["detected_at"] == T0 + 2 * H + 15 * M
    # the repeat it opened on fails: resolved, nothing was retrained twice
    failed = run("f", T0, 15 * M, "succeeded", metric=0.8) + run("f", T0 + H, 5 * M, "failed")
    out = replay(failed)
    assert [x["state"] for x in out] == ["open", "resolved"]
    assert out[-1]["resolved_at"] == T0 + H + 5 * M and "failed" in out[-1]["evidence"]["resolution"]
    # its repeats keep failing: one no-gain open (resolved at the first failure), then the crash pattern's
    failing = run("g", T0, 15 * M, "succeeded", metric=0.8) \
        + [e for k in range(1, 5) for e in run("g", T0 + k * H, 5 * M, "failed")]
    kinds = [(x["evidence"]["pattern"], x["state"]) for x in replay(failing)]
    assert kinds.count(("no_gain", "open")) == 1 and ("crash", "open") in kinds
    # a person rerunning it by hand is not a schedule repeating itself
    manual = run("p", T0, 15 * M, "succeeded", metric=0.8, trigger="manual") \
        + run("p", T0 + H, 15 * M, "succeeded", metric=0.8, trigger="manual")
    assert replay(manual) == []


def test_cost_from_gpu_hours_times_configured_price() -> None:
    evs: list[dict[str, Any]] = []
    for i in range(3):
        evs += run("m", T0 + i * 30 * M, 6 * M, "failed", cost=None, gpu_hours=2.0)
    out = replay(evs, Settings({"prices": {"training_gpu_usd": 3.0}}))
    assert out[0]["waste_usd"] == 18.0


def test_no_gain_loop_on_frozen_data_and_resolution_by_new_data() -> None:
    evs: list[dict[str, Any]] = []
    for k in range(6):  # hourly retrains on one frozen snapshot, metric flat
        evs += run("churn", T0 + k * H, 15 * M, "succeeded", data="snap-0318", metric=0.8412 + 0.0005 * (-1) ** k)
    evs += run("churn", T0 + 6 * H, 15 * M, "succeeded", data="snap-0325", metric=0.86)
    out = replay(evs)
    ops = opened(out)
    assert len(ops) == 1
    a = next(iter(ops.values()))
    assert a["evidence"]["pattern"] == "no_gain" and a["started_at"] == T0
    assert a["detected_at"] == T0 + H  # the schedule started the same retrain again: open at that start
    end = out[-1]
    assert end["state"] == "resolved" and end["resolved_at"] == T0 + 6 * H + 15 * M
    assert end["waste_usd"] == 20.0  # five repeats of $4; the first run was worth doing


def test_no_gain_by_metric_honours_lower_is_better() -> None:
    flat: list[dict[str, Any]] = []
    better: list[dict[str, Any]] = []
    for k in range(5):  # no data_version: the metric decides
        flat += run("a", T0 + k * H, 10 * M, "succeeded", data=None, metric=0.40 + 0.0004 * k, hib=False)
        better += run("b", T0 + k * H, 10 * M, "succeeded", data=None, metric=0.40 - 0.01 * k, hib=False)
    out = replay(flat + better)
    assert {a["resource"] for a in opened(out).values()} == {"a"}


def test_healthy_nightly_retrains_on_fresh_data_stay_quiet() -> None:
    evs: list[dict[str, Any]] = []
    for d in range(14):
        evs += run("ltr", T0 + d * 24 * H, 2 * H, "succeeded", data=f"clicks-{d}", metric=0.412 - 0.001 * d,
                   hib=False, cost=47.0)
    assert replay(evs) == []


def test_fresh_data_flat_metric_is_not_a_loop() -> None:
    evs: list[dict[str, Any]] = []
    for k in range(6):
        evs += run("intent", T0 + 2 * k * H, 30 * M, "succeeded", data=f"tickets-{k}", metric=0.9132)
    assert replay(evs) == []


def test_hyperparameter_sweep_stays_quiet() -> None:
    evs: list[dict[str, Any]] = []
    for i in range(30):  # many models at once, a third of the trials diverge
        evs += run(f"sweep-{i}", T0 + i * 10, 40 * M, "failed" if i % 3 == 0 else "succeeded", metric=0.7 + i / 1000)
    for i in range(12):  # many parallel trials of one model on one snapshot
        evs += run("one", T0 + i * 5, (30 + i) * M, "failed" if i % 2 else "succeeded", metric=0.8 + i / 1000)
    assert replay(evs) == []


def test_long_finetune_with_progress_updates_stays_quiet() -> None:
    evs = run("sft-70b", T0, 11 * H, "succeeded", metric=1.2, hib=False, progress=True, cost=2000.0)
    assert len(evs) == 12
    assert replay(evs) == []


def test_duplicate_and_late_events_do_not_create_a_second_anomaly() -> None:
    evs = crash_loop(6)
    terminal = [e for e in evs if e["status"] != "started"]
    dup = evs + [dict(e, ts=e["ts"] + 30) for e in terminal]  # every terminal status again, a bit late
    out = replay(dup)
    assert len(opened(out)) == 1
    assert out[-1]["waste_usd"] == 24.0  # each run counted once


def test_snapshot_restore_gives_the_same_output() -> None:
    evs = sorted(crash_loop(8) + run("churn", T0, 10 * M, "succeeded", metric=0.8)
                 + run("churn", T0 + H, 10 * M, "succeeded", metric=0.8)
                 + run("churn", T0 + 2 * H, 10 * M, "succeeded", metric=0.8), key=lambda e: e["ts"])
    whole = Engine(None, [RetrainLoopDetector])
    expect = whole.process_many(evs)
    first = Engine(None, [RetrainLoopDetector])
    got = first.process_many(evs[:9])
    second = Engine(None, [RetrainLoopDetector])
    second.restore(first.snapshot())
    got += second.process_many(evs[9:])
    assert got == expect and len(opened(expect)) == 2


def test_a_schedule_rerunning_a_frozen_snapshot_every_six_hours_is_a_loop_and_a_daily_one_is_not() -> None:
    """Every 6 h on the same data and code with a flat metric: rounds 5.5 h apart chain (they did not
    with a 4 h gap); the same retrain once a day does not (a day is not a loop's cadence)."""
    six: list[dict[str, Any]] = []
    daily: list[dict[str, Any]] = []
    for k in range(8):
        six += run("churn", T0 + k * 6 * H, 30 * M, "succeeded", metric=0.842, cost=20.0)
        daily += run("ltr", T0 + k * 24 * H, 30 * M, "succeeded", metric=0.842, cost=20.0)
    (a,) = opened(replay(six)).values()
    assert a["kind"] == "retrain_loop" and a["evidence"]["pattern"] == "no_gain"
    assert a["detected_at"] <= T0 + 6 * H + 30 * M  # at the second round, not hours later
    assert opened(replay(daily)) == {}
