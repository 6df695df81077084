"""What a GPU costs in the GPU detectors' state, and snapshots of the layout before it was made small.

The idle and gpu_usage detectors keep a slot per field (no instance dict), the gaps as arrays of
doubles and only the figures of the latest sample that evidence reads. The pickled size of an
instance is deterministic, so it is the regression bound here (RSS is measured by ``bench keys``).
A snapshot written by the previous layout (an instance dict with lists of gaps, process dicts and a
``blip`` list) must restore and continue exactly as the Engine that never stopped.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from typing import Any

import orjson

from detectors.engine import Engine
from detectors.gpu_usage import GpuUsageDetector
from detectors.idle_gpu import IdleGpuDetector
from spendwatch.events import validate
from tests.factories import gpu_sample

T0 = 1_774_310_400.0
GIB = 2**30
KINDS = ("batch", "training", "inference", "notebook")


def _events(gpus: int = 16, hours: float = 30.0) -> list[dict[str, Any]]:
    """One sample a minute per GPU; batch GPUs busy 40 min in the hour, training GPUs idle an hour in
    ten, inference GPUs always busy, notebooks mostly idle, every eighth GPU unallocated at times."""
    out = []
    for r in range(int(hours * 60)):
        t = T0 + 60.0 * (r + 1)
        for i in range(gpus):
            kind = KINDS[i % 4]
            busy = {"batch": r % 60 < 40, "training": r % 600 >= 60, "inference": True,
                    "notebook": r % 240 < 20}[kind]
            wl = None if i % 8 == 7 and r % 300 < 100 else {"id": f"team/{kind}-{i // 4}", "kind": kind,
                                                             "team": "team", "owner": "team@corp.example"}
            procs = [{"pid": 100 + i, "used_mem_bytes": 20 * GIB}, {"pid": 200 + i, "used_mem_bytes": GIB}]
            out.append(validate(gpu_sample(
                t + i * 0.01, node=f"n{i // 8}", gpu_uuid=f"GPU-{i:04d}", gpu_model="NVIDIA H100 80GB HBM3",
                interval_s=60.0, util_gpu_pct=70.0 if busy else 0.0, sm_active_pct=55.0 if busy else 0.0,
                mem_used_bytes=21 * GIB, mem_total_bytes=80 * GIB, power_w=100.0, processes=procs,
                workload=wl, price_per_hour_usd=2.5)))
    return out


def _engine() -> Engine:
    return Engine(detector_classes=[IdleGpuDetector, GpuUsageDetector])


def test_a_gpu_detectors_state_has_no_instance_dict_and_a_small_pickle() -> None:
    engine = _engine()
    findings = engine.process_many(_events())
    assert any(a["kind"] in ("idle_gpu", "gpu_memory_hoarding") for a in findings)  # real stretches were seen
    idle = [d for (name, _k), d in engine._instances.items() if name == "idle"]
    usage = [d for (name, _k), d in engine._instances.items() if name == "gpu_usage"]
    assert len(idle) == len(usage) == 16
    for d in idle + usage:
        assert vars(d) == {}  # every field is a slot: no per-instance dict
    assert max(len(d.gaps) for d in idle) >= 8  # gaps were learned: the bound below covers a full rhythm
    sizes = sorted(len(pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)) for d in idle)
    # 887-1,118 bytes in the previous layout on this stream, 780-1,057 in this one (RSS is where the
    # slots save: 1.5 KiB of instance dict per detector and GPU); the bound catches a field that grows
    assert sizes[-1] <= 1150, sizes
    non_endpoint = [len(pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)) for d in usage if d.ep_wid is None]
    assert non_endpoint and max(non_endpoint) <= 900, non_endpoint


def _old_state(inst: Any) -> dict[str, Any]:
    """The instance dict the previous layout pickled for ``inst``."""
    state = inst.__getstate__()
    if isinstance(inst, IdleGpuDetector):
        state["recent_workloads"] = list(state["recent_workloads"])
        flat = state["processes"]
        state["processes"] = [{"pid": flat[i], "used_mem_bytes": flat[i + 1]} for i in range(0, len(flat), 2)]
        state["blip"] = [float(v) for v in state["blip"]]
        for newer in ("peers_checked", "waited_on_peers", "job_paused", "idled_alone"):
            if not state[newer]:
                del state[newer]  # absent from the oldest snapshots: restored as their defaults
    return state


class _OldLayoutPickler(pickle.Pickler):
    """Pickles the GPU detectors the way the previous layout did: their class and an instance dict."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in (IdleGpuDetector, GpuUsageDetector):
            return copyreg.__newobj__, (type(obj),), _old_state(obj)
        return NotImplemented


def test_a_snapshot_of_the_previous_layout_restores_and_continues_the_same() -> None:
    events = _events()
    cut = int(len(events) * 0.55)
    whole = [orjson.dumps(a) for a in _engine().process_many(events)]

    first = _engine()
    got = [orjson.dumps(a) for a in first.process_many(events[:cut])]
    buf = io.BytesIO()
    _OldLayoutPickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(pickle.loads(first.snapshot()))
    blob = buf.getvalue()
    assert b"blip_s" not in blob and b"used_mem_bytes" in blob  # the old form: a blip list, process dicts

    second = _engine()
    second.restore(blob)
    restored = second._instances[("idle", "n0/GPU-0000")]
    assert isinstance(restored, IdleGpuDetector) and vars(restored) == {}
    assert second.open_anomaly_ids == first.open_anomaly_ids
    got += [orjson.dumps(a) for a in second.process_many(events[cut:])]
    assert got == whole
