"""Idle GPU and GPU memory hoarding: behaviour on hand-made sample sequences."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from detectors.engine import Engine
from detectors.idle_gpu import IdleGpuDetector
from spendwatch.config import Settings
from spendwatch.events import validate
from tests.factories import gpu_sample

H, M = 3600.0, 60.0
T0 = 1_774_310_400.0
GIB = 2**30
WL = {"id": "ml/train-a", "kind": "training", "team": "ml", "owner": "a@corp.example"}
A100 = "NVIDIA A100-SXM4-80GB"
H100 = "NVIDIA H100 80GB HBM3"


def sample(ts: float, util: float, sm: float | None = None, mem: float = 0.1, workload: Any = WL,
           price: float | None = 2.95, gpu: str = "GPU-a", mig: str | None = None, profile: str | None = None,
           model: str = A100, node: str = "n1", interval: float = 15.0) -> dict[str, Any]:
    total = 80 * GIB
    ev = gpu_sample(ts, node=node, gpu_uuid=gpu, mig_uuid=mig, gpu_model=model, interval_s=interval,
                    util_gpu_pct=util, sm_active_pct=sm, mem_used_bytes=int(total * mem), mem_total_bytes=total,
                    power_w=60.0, processes=[{"pid": 1, "used_mem_bytes": int(total * mem)}],
                    workload=dict(workload) if workload else None, price_per_hour_usd=price)
    if profile:
        ev["mig_profile"] = profile
    return validate(ev)


def series(start: float, end: float, step: float = 15.0, **kw: Any) -> list[dict[str, Any]]:
    """Samples every ``step`` seconds whose intervals cover [start, end)."""
    out, t = [], start
    while t < end - 1e-9:
        out.append(sample(t + step, interval=step, **kw))
        t += step
    return out


def run(events: Iterable[dict[str, Any]], settings: Settings | None = None, advance: float | None = None
        ) -> list[dict[str, Any]]:
    engine = Engine(settings, detector_classes=[IdleGpuDetector])
    evs = sorted(events, key=lambda e: e["ts"])
    out = engine.process_many(evs)
    if advance is not None:
        out += engine.advance(advance)
    return out


def ids(out: list[dict[str, Any]]) -> set[str]:
    return {a["id"] for a in out}


def last(out: list[dict[str, Any]]) -> dict[str, Any]:
    return out[-1]


def test_idle_gpu_opens_after_dwell_and_resolves_when_busy() -> None:
    ev = series(T0, T0 + 1 * H, util=60) + series(T0 + H, T0 + 3 * H, util=0) + series(T0 + 3 * H, T0 + 4 * H,
                                                                                        util=70)
    out = run(ev)
    assert len(ids(out)) == 1
    first, end = out[0], out[-1]
    assert first["kind"] == "idle_gpu" and first["state"] == "open"
    assert first["started_at"] == pytest.approx(T0 + H, abs=1)
    # an hour of busy training with no routine gap: flagged within ten minutes of going idle
    assert T0 + H + 7 * M <= first["detected_at"] <= T0 + H + 10 * M
    assert first["evidence"]["dwell_source"] == "no_gaps"
    assert end["state"] == "resolved" and end["resolved_at"] == pytest.approx(T0 + 3 * H, abs=16)
    assert end["waste_usd"] == pytest.approx(2 * 2.95, rel=0.02)  # idle hours x price
    assert end["projected_daily_usd"] == pytest.approx(24 * 2.95, rel=0.01)
    assert end["workload"]["id"] == "ml/train-a" and end["resource"] == "GPU-a"


def test_short_idle_under_the_dwell_is_not_flagged() -> None:
    ev = series(T0, T0 + 15 * M, util=0) + series(T0 + 15 * M, T0 + H, util=80)
    assert run(ev) == []


def test_memory_hoarding_when_idle_gpu_keeps_its_memory() -> None:
    out = run(series(T0, T0 + 2 * H, util=0, mem=0.7) + series(T0 + 2 * H, T0 + 2.5 * H, util=90, mem=0.7))
    assert {a["kind"] for a in out} == {"gpu_memory_hoarding"}
    assert out[0]["evidence"]["mem_used_pct"] == pytest.approx(70, abs=1)
    assert out[-1]["state"] == "resolved"


def test_busy_wait_util_high_but_sm_active_near_zero_is_idle() -> None:
    out = run(series(T0, T0 + 2 * H, util=99.5, sm=0.3, mem=0.86))
    assert out and out[0]["kind"] == "gpu_memory_hoarding"
    assert "busy-wait" in out[0]["summary"]
    assert out[0]["evidence"]["activity_source"] == "sm_active_pct"


def test_sm_active_busy_with_low_util_is_not_idle() -> None:
    # sm_active is preferred when present: a reading of util alone would call this idle
    assert run(series(T0, T0 + 2 * H, util=1.0, sm=40.0)) == []


def test_unallocated_gpu_is_idle_with_null_workload() -> None:
    out = run(series(T0, T0 + 2 * H, util=0, mem=0, workload=None, price=2.95))
    assert out and out[0]["kind"] == "idle_gpu"
    assert out[0]["workload"] is None
    assert "unallocated" in out[0]["summary"]


def test_mig_slices_are_their_own_resources() -> None:
    idle = series(T0, T0 + 2 * H, util=0, sm=0.0, mig="MIG-1", gpu="GPU-h", profile="2g.20gb", model=H100,
                  price=1.11)
    busy = series(T0, T0 + 2 * H, util=60, sm=50.0, mig="MIG-2", gpu="GPU-h", profile="3g.40gb", model=H100,
                  price=1.67)
    out = run(idle + busy)
    assert {a["resource"] for a in out} == {"MIG-1"}
    assert "MIG slice" in out[0]["summary"]
    assert out[0]["evidence"]["gpu_uuid"] == "GPU-h"


def test_an_unpriced_mig_slice_is_priced_as_its_share_of_the_gpu() -> None:
    """No price on the samples: the table's GPU price times the slice's share, by its profile when
    the sample names one, else by its memory out of the model's (the contract does not require a
    profile; it used to be priced as the whole GPU, 7x too much for a 1g.10gb slice)."""
    h100 = 3.90  # the default table's H100 price
    for profile, mem_gib, share in (("2g.20gb", 20, 2 / 7), (None, 10, 10 / 80), (None, 40, 40 / 80)):
        ev = []
        for s in series(T0, T0 + 2 * H, util=0, sm=0.0, mig="MIG-1", gpu="GPU-h", profile=profile, model=H100,
                        price=None):
            s["mem_total_bytes"], s["mem_used_bytes"] = mem_gib * GIB, GIB
            ev.append(s)
        (last,) = [a for a in run(ev) if a["state"] == "resolved"] or [run(ev)[-1]]
        hours = last["evidence"]["idle_hours"]
        assert last["evidence"]["price_source"] == "table"
        assert last["waste_usd"] == pytest.approx(hours * h100 * share, rel=0.02), (profile, mem_gib)
    whole = [dict(s, mem_total_bytes=80 * GIB) for s in series(T0, T0 + 2 * H, util=0, sm=0.0, price=None, model=H100)]
    assert run(whole)[-1]["waste_usd"] == pytest.approx(run(whole)[-1]["evidence"]["idle_hours"] * h100, rel=0.02)


def test_checkpoint_pauses_are_not_idle() -> None:
    ev, t = [], T0
    while t < T0 + 6 * H:  # 40 minutes of training, a 5-minute checkpoint write
        ev += series(t, t + 40 * M, util=88) + series(t + 40 * M, t + 45 * M, util=0.3)
        t += 45 * M
    assert run(ev) == []


def test_steady_light_use_is_not_idle() -> None:
    ev = [sample(T0 + 15 * (i + 1), util=3 + (i % 3)) for i in range(4 * 240)]  # a 3-5 % canary for 4 h
    assert run(ev) == []


def test_sample_gaps_of_a_few_minutes_do_not_split_a_stretch() -> None:
    ev = series(T0, T0 + H, util=0) + series(T0 + H + 5 * M, T0 + 2 * H, util=0) \
        + series(T0 + 2 * H + 3 * M, T0 + 3 * H, util=0) + series(T0 + 3 * H, T0 + 3.5 * H, util=80)
    out = run(ev)
    assert len(ids(out)) == 1
    assert last(out)["state"] == "resolved"
    assert last(out)["waste_usd"] == pytest.approx(3 * 2.95, rel=0.03)  # gaps inside the stretch count


def test_a_long_silence_ends_the_stretch() -> None:
    ev = series(T0, T0 + H, util=0) + series(T0 + 2 * H, T0 + 3 * H, util=0)  # an hour without samples
    out = run(ev)
    opens = [a for a in out if a["state"] == "open"]
    assert len({a["id"] for a in opens}) == 2  # two stretches, not one covering the silence
    first_resolved = next(a for a in out if a["state"] == "resolved")
    assert first_resolved["resolved_at"] == pytest.approx(T0 + H, abs=16)


def test_a_gpu_that_stops_reporting_resolves_at_its_last_sample() -> None:
    out = run(series(T0, T0 + 2 * H, util=0), advance=T0 + 4 * H)
    assert last(out)["state"] == "resolved"
    assert last(out)["resolved_at"] == pytest.approx(T0 + 2 * H, abs=16)
    assert last(out)["waste_usd"] == pytest.approx(2 * 2.95, rel=0.02)


def test_price_falls_back_to_the_last_seen_price() -> None:
    ev = series(T0, T0 + H, util=0, price=4.0) + series(T0 + H, T0 + 2 * H, util=0, price=None)
    out = run(ev, advance=T0 + 4 * H)
    assert last(out)["waste_usd"] == pytest.approx(2 * 4.0, rel=0.02)
    assert last(out)["evidence"]["price_source"] == "last_sample"


def test_price_falls_back_to_the_table_and_mig_profile_share() -> None:
    full = run(series(T0, T0 + 2 * H, util=0, price=None, model=H100), advance=T0 + 4 * H)
    assert last(full)["waste_usd"] == pytest.approx(2 * 3.90, rel=0.02)  # table price of an H100
    assert last(full)["evidence"]["price_source"] == "table"
    mig = run(series(T0, T0 + 2 * H, util=0, sm=0.0, price=None, model=H100, gpu="GPU-h", mig="MIG-9",
                     profile="2g.20gb"), advance=T0 + 4 * H)
    assert last(mig)["waste_usd"] == pytest.approx(2 * 3.90 * 2 / 7, rel=0.02)  # 2 of 7 compute slices
    custom = Settings(sections={"prices": {"gpu": {"H100": 10.0}}})
    priced = run(series(T0, T0 + H, util=0, price=None, model=H100), settings=custom, advance=T0 + 3 * H)
    assert last(priced)["waste_usd"] == pytest.approx(10.0, rel=0.03)


def test_unknown_model_without_price_reports_zero_waste_not_an_error() -> None:
    out = run(series(T0, T0 + H, util=0, price=None, model="Mystery GPU"), advance=T0 + 3 * H)
    assert out and last(out)["waste_usd"] == 0.0


def test_a_single_busy_blip_does_not_end_a_stretch() -> None:
    ev = series(T0, T0 + H, util=0) + [sample(T0 + H + 15, util=90)] + series(T0 + H + 15, T0 + 2 * H, util=0)
    assert len(ids(run(ev))) == 1


def test_workload_change_resolves_and_starts_a_new_problem() -> None:
    other = {"id": "ml/train-b", "kind": "training", "team": "ml"}
    ev = series(T0, T0 + H, util=0) + series(T0 + H, T0 + 2 * H, util=0, workload=other)
    out = run(ev)
    resolved = [a for a in out if a["state"] == "resolved"]
    assert resolved and resolved[0]["workload"]["id"] == "ml/train-a"
    assert resolved[0]["resolved_at"] == pytest.approx(T0 + H, abs=16)
    assert any(a["state"] == "open" and a["workload"]["id"] == "ml/train-b" for a in out)


def test_a_long_idle_stretch_does_not_flood_updates() -> None:
    out = run(series(T0, T0 + 9 * H, util=0, mem=0.4) + series(T0 + 9 * H, T0 + 9.5 * H, util=90))
    assert len(ids(out)) == 1
    # 2,160 samples; updates only on a material change (>= 25 % and >= $1): geometric, so about a dozen
    assert 2 <= len(out) <= 15, [a["state"] for a in out]
    wastes = [a["waste_usd"] for a in out]
    assert wastes == sorted(wastes)  # figures only grow
    updates = [a["waste_usd"] for a in out if a["state"] == "open"]
    assert all(b >= a * 1.24 or b - a >= 1 for a, b in zip(updates, updates[1:], strict=False))
    assert wastes[-1] == pytest.approx(9 * 2.95, rel=0.02)


def test_duplicate_and_late_samples_are_ignored() -> None:
    ev = series(T0, T0 + 2 * H, util=0)
    doubled = [e for e in ev for _ in (0, 1)]
    late = ev + [dict(e) for e in ev[::10]]
    base = run(ev)
    assert run(doubled) == base
    engine = Engine(detector_classes=[IdleGpuDetector])
    out = engine.process_many(late)  # late copies arrive after the watermark moved on
    assert out == base


def test_dwell_and_threshold_come_from_settings() -> None:
    cfg = Settings(sections={"idle": {"dwell_s": 600.0, "idle_below_pct": 5.0, "open_below_mean_pct": 5.0}})
    out = run(series(T0, T0 + 15 * M, util=4) + series(T0 + 15 * M, T0 + H, util=80), settings=cfg)
    assert out and out[0]["detected_at"] <= T0 + 11 * M
