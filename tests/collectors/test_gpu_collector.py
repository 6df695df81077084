"""The GPU collector through the real adapter code path, over the simulated backend (MIG included)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from collectors.attribution import StaticAttributor
from collectors.nvml.collector import GpuCollector
from collectors.nvml.device import NvmlError, NvmlGpuLost, NvmlNotSupported, NvmlTimeout, NvmlUnavailable
from collectors.nvml.simulated import GiB, SimGpu, SimMig, SimulatedBackend
from spendwatch.events import validate
from spendwatch.prices import PriceConfig, PriceTable


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make(gpus: list[SimGpu], **kw: Any) -> tuple[GpuCollector, SimulatedBackend, Clock, list[dict[str, Any]]]:
    clock = Clock()
    sim = SimulatedBackend(gpus, clock=clock)
    out: list[dict[str, Any]] = []
    kw.setdefault("interval_s", 10.0)
    col = GpuCollector(sim, "node-a", out.append, clock=clock, backoff_initial_s=10.0, backoff_max_s=80.0, **kw)
    return col, sim, clock, out


def step(col: GpuCollector, clock: Clock, s: float = 10.0) -> list[dict[str, Any]]:
    clock.t += s
    return col.tick()


def test_physical_gpus_publish_averaged_utilization_and_all_fields() -> None:
    col, sim, clock, out = make([SimGpu(behaviour="constant:40", processes=[(123, 5 * GiB)]),
                                 SimGpu(model="NVIDIA A100-SXM4-80GB", behaviour="idle", gpm=False)])
    evs = col.tick()
    assert len(evs) == 2 and out == evs
    a, b = evs
    for ev in evs:
        validate(ev)
        assert ev["node"] == "node-a" and ev["interval_s"] == 10.0 and ev["mig_uuid"] is None
    assert a["util_gpu_pct"] == pytest.approx(40.0)
    assert a["mem_used_bytes"] == 40 * GiB and a["mem_total_bytes"] == 80 * GiB
    assert a["power_w"] == 350.0
    assert a["processes"] == [{"pid": 123, "used_mem_bytes": 5 * GiB}]
    assert a["price_per_hour_usd"] == 3.90  # H100 from the price table
    assert a["sm_active_pct"] is None  # GPM needs two samples: null on the first interval, never 0
    assert b["price_per_hour_usd"] == 2.95 and b["util_gpu_pct"] == 0.0
    a2, b2 = step(col, clock)
    assert a2["sm_active_pct"] == pytest.approx(34.0)  # Hopper: GPM SM activity
    assert a2["sm_occupancy_pct"] == pytest.approx(24.0)
    assert b2["sm_active_pct"] is None  # A100: no GPM -> null, not 0


def test_utilization_is_the_mean_of_the_sample_buffer_not_one_read() -> None:
    col, sim, clock, out = make([SimGpu(behaviour="spiky")])  # 90% one second in ten
    clock.t = 1_800_000_000.5  # a read now would say 90% (second ...000 is a spike)
    col.tick()
    ev = step(col, clock)[0]
    # 6 samples a second over 10 s, 6 of the 60 in the spike second: 9%
    assert ev["util_gpu_pct"] == pytest.approx(9.0, abs=1.6)
    assert sim.calls.get("utilization_now", 0) == 0


def test_no_sample_buffer_falls_back_to_sub_interval_polling() -> None:
    col, sim, clock, out = make([SimGpu(behaviour="spiky", sample_buffer=False)], poll_subsamples=10)
    col.tick()
    assert col.needs_polling()
    for _ in range(10):
        clock.t += 1.0
        col.poll()
    ev = col.tick()[0]
    assert ev["util_gpu_pct"] == pytest.approx(9.0)  # 1 spike out of 10 polls
    assert sim.calls["utilization_now"] == 11


def test_mig_instances_are_sampled_with_gpm_and_priced_by_slice() -> None:
    gpu = SimGpu(behaviour="busy", migs=[SimMig("3g.40gb", "constant:60", 10 * GiB, [(7, 9 * GiB)]),
                                         SimMig("1g.10gb", "idle", 0)])
    attr = StaticAttributor({"MIG-sim-0000-0000-0000-000000000000": {"id": "ml/trainer", "team": "ml"},
                             "*": {"id": "shared/pool"}})
    col, sim, clock, out = make([gpu], attributor=attr)
    first = col.tick()
    # MIG instances keep no utilization buffer and GPM needs two samples: only the physical GPU the first time
    assert [e["mig_uuid"] for e in first] == [None]
    evs = step(col, clock)
    assert len(evs) == 3
    parent, m1, m2 = evs
    assert parent["gpu_uuid"] == m1["gpu_uuid"] == m2["gpu_uuid"]
    assert m1["mig_uuid"].startswith("MIG-") and m1["mig_uuid"] != m2["mig_uuid"]
    assert m1["util_gpu_pct"] == pytest.approx(60 * 0.85) and m1["util_source"] == "gpm"
    assert m1["sm_active_pct"] == pytest.approx(51.0)
    assert m2["util_gpu_pct"] == 0.0
    assert m1["power_w"] is None  # per physical GPU only: null, never 0
    assert m1["mem_total_bytes"] == 40 * GiB and m1["mem_used_bytes"] == 10 * GiB
    assert m1["processes"] == [{"pid": 7, "used_mem_bytes": 9 * GiB}]
    assert m1["price_per_hour_usd"] == pytest.approx(3.90 * 3 / 7, rel=1e-4)
    assert m2["price_per_hour_usd"] == pytest.approx(3.90 / 7, rel=1e-4)
    assert m1["workload"]["id"] == "ml/trainer" and m1["workload"]["team"] == "ml"
    assert m2["workload"]["id"] == "shared/pool" and parent["workload"]["id"] == "shared/pool"
    for ev in evs:
        validate(ev)


def test_processes_are_queried_less_often() -> None:
    col, sim, clock, out = make([SimGpu(processes=[(1, 1)])], process_every=5)
    col.tick()
    for _ in range(9):
        step(col, clock)
    assert sim.calls["processes"] == 2
    assert all(e["processes"] == [{"pid": 1, "used_mem_bytes": 1}] for e in out)


def test_price_from_config_and_unknown_model_is_null() -> None:
    prices = PriceTable(PriceConfig(gpu={"H100": 2.5}))
    col, *_ = make([SimGpu(), SimGpu(model="Mystery GPU X")], prices=prices)
    a, b = col.tick()
    assert a["price_per_hour_usd"] == 2.5 and b["price_per_hour_usd"] is None


@pytest.mark.parametrize("error", [NvmlGpuLost, NvmlTimeout, NvmlError])
def test_one_failing_gpu_backs_off_while_the_others_go_on(error: type[NvmlError],
                                                           caplog: pytest.LogCaptureFixture) -> None:
    col, sim, clock, out = make([SimGpu(), SimGpu(), SimGpu()])
    col.tick()
    bad = col.devices[1].gpu_uuid
    sim.inject("memory", error, bad, times=3)
    with caplog.at_level(logging.ERROR):
        evs = step(col, clock)
    assert {e["gpu_uuid"] for e in evs} == {col.devices[0].gpu_uuid, col.devices[2].gpu_uuid}
    assert bad in caplog.text and error.__name__ in caplog.text and "retrying" in caplog.text
    # backoff 10 s, then 20 s, then 40 s: the device is retried at those times, the others every tick
    seen = []
    for _ in range(12):
        evs = step(col, clock)
        seen.append(any(e["gpu_uuid"] == bad for e in evs))
        assert len(evs) >= 2
    assert seen.index(True) == 6  # failures at t=10 (fail 1), 20 (fail 2), 40 (fail 3), success at 80
    assert all(seen[6:])
    assert col.metrics.errors.labels(kind=error.__name__)._value.get() == 3
    if error is NvmlGpuLost:
        assert sim.calls["devices"] >= 2  # re-enumerated after a lost GPU


def test_not_supported_fields_are_null_and_not_retried() -> None:
    col, sim, clock, out = make([SimGpu(power_w=None, gpm=False)])
    sim.inject("processes", NvmlNotSupported, times=None)
    col.tick()
    ev = step(col, clock)[0]
    assert ev["power_w"] is None and ev["sm_active_pct"] is None and "processes" not in ev
    assert sim.calls["power_w"] == 1 and sim.calls["gpm_sm_activity"] == 1  # remembered, not asked again


def test_driver_not_loaded_at_start_is_survived_and_retried_with_backoff(caplog: pytest.LogCaptureFixture) -> None:
    col, sim, clock, out = make([SimGpu()])
    sim.inject("init", NvmlUnavailable, times=2)
    with caplog.at_level(logging.ERROR):
        assert col.tick() == []
    assert "driver" in caplog.text
    assert step(col, clock, 5) == []  # still backing off (10 s)
    assert step(col, clock, 5) == []  # second attempt fails: 20 s
    assert step(col, clock, 10) == []
    assert len(step(col, clock, 10)) == 1  # third attempt initialises
    assert sim.calls["init"] == 3


def test_driver_lost_mid_run_reinitialises() -> None:
    col, sim, clock, out = make([SimGpu(), SimGpu()])
    col.tick()
    sim.inject("utilization_samples", NvmlUnavailable, times=1)
    assert step(col, clock) == []
    assert not col.initialised and not sim.initialised  # library shut down
    assert len(step(col, clock)) == 2
    assert sim.calls["init"] == 2


def test_timeouts_on_every_call_never_raise_out_of_tick() -> None:
    col, sim, clock, out = make([SimGpu(), SimGpu(migs=[SimMig()])])
    for method in ("utilization_samples", "memory", "power_w", "processes", "gpm_sm_activity"):
        sim.inject(method, NvmlTimeout, times=None)
    for _ in range(20):
        assert step(col, clock) == []
    sim.clear_faults()
    for _ in range(10):
        step(col, clock)
    assert {e.get("mig_uuid") for e in out} == {None, "MIG-sim-0001-0000-0000-000000000000"}


def test_bad_behaviour_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="behaviour"):
        SimulatedBackend([SimGpu(behaviour="sleepy")])


def test_gpu_cost_by_team_counts_priced_gpu_time() -> None:
    uuids = [f"GPU-sim-{i:04d}-0000-0000-000000000000" for i in range(3)]
    attributor = StaticAttributor({uuids[0]: {"id": "ml/train", "team": "vision"},
                                   uuids[1]: {"id": "ml/notebook"}})  # the third GPU: nothing allocated
    col, sim, clock, out = make([SimGpu(behaviour="constant:50") for _ in uuids], attributor=attributor)
    col.tick()
    step(col, clock)
    step(col, clock, 20.0)
    cost = col.metrics.gpu_cost
    by_team = {team: cost.labels(team=team)._value.get() for team in ("vision", "none", "unallocated")}
    # H100 at $3.90/h: a first interval of 10 s (the configured one), then 10 s and 20 s
    assert by_team == pytest.approx(dict.fromkeys(by_team, 3.90 * 40 / 3600))
    assert sum(e["price_per_hour_usd"] * e["interval_s"] / 3600 for e in out) == pytest.approx(sum(by_team.values()))
