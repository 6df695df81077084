"""A simulated NVML backend: GPUs and MIG instances that behave like real ones, plus fault injection.

Used on machines without a GPU, in tests and in the demo, behind the same adapter as real NVML
(so the collector code path is the real one). It is never chosen silently: the command line
picks it only with ``--backend simulated``.

Each simulated GPU has a *behaviour* giving its utilization as a function of time:
``idle`` (0%), ``busy`` (~95%), ``constant:<pct>``, ``wave`` (slow sine 10-90%), ``spiky``
(90% one second in ten). Samples land in a per-device buffer every ``sample_period_s`` like
NVML's (1/6 s), so ``utilization_samples`` returns what NVML would.

Faults: :meth:`SimulatedBackend.inject` makes a method raise a chosen NvmlError for one
device (or all) a number of times (or forever), which is how tests exercise the collector's
error handling, e.g. ``sim.inject("utilization_samples", NvmlGpuLost, uuid, times=3)``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from collectors.nvml.device import (
    Device,
    NvmlError,
    NvmlNoData,
    NvmlNotSupported,
    NvmlUnavailable,
    Process,
)

GiB = 1024**3


@dataclass
class SimMig:
    """One MIG instance: profile like ``1g.10gb``; memory and behaviour of its own."""

    profile: str = "1g.10gb"
    behaviour: str = "busy"
    mem_used_bytes: int = 2 * GiB
    processes: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SimGpu:
    """One simulated physical GPU."""

    model: str = "NVIDIA H100 80GB HBM3"
    behaviour: str = "busy"
    mem_total_bytes: int = 80 * GiB
    mem_used_bytes: int = 40 * GiB
    power_w: float | None = 350.0
    gpm: bool = True  # Hopper and later offer GPM
    sample_buffer: bool = True  # False: utilization_samples is NOT_SUPPORTED (collector polls)
    processes: list[tuple[int, int]] = field(default_factory=list)
    migs: list[SimMig] = field(default_factory=list)


def behaviour_pct(behaviour: str, t: float) -> float:
    """Utilization percent of a behaviour at time ``t`` (seconds)."""
    if behaviour == "idle":
        return 0.0
    if behaviour == "busy":
        return 95.0 + 3.0 * math.sin(t / 7.0)
    if behaviour == "wave":
        return 50.0 + 40.0 * math.sin(2 * math.pi * t / 600.0)
    if behaviour == "spiky":
        return 90.0 if int(t) % 10 == 0 else 0.0
    if behaviour.startswith("constant:"):
        return max(0.0, min(100.0, float(behaviour.split(":", 1)[1])))
    raise ValueError(f"unknown simulated GPU behaviour {behaviour!r}; use idle, busy, wave, spiky or constant:<pct>")


@dataclass
class _Fault:
    error: type[NvmlError]
    device: str | None
    times: int | None  # None = until cleared


class SimulatedBackend:
    """A :class:`~collectors.nvml.device.DeviceBackend` over simulated GPUs."""

    name = "simulated"

    def __init__(self, gpus: list[SimGpu], clock: Callable[[], float] = time.time,
                 sample_period_s: float = 1 / 6, uuid_prefix: str = "GPU-sim") -> None:
        for g in gpus:
            behaviour_pct(g.behaviour, 0.0)  # fail fast on a bad behaviour name (configuration error)
            for m in g.migs:
                behaviour_pct(m.behaviour, 0.0)
        self.gpus = gpus
        self.clock = clock
        self.sample_period_s = sample_period_s
        self.uuid_prefix = uuid_prefix
        self.initialised = False
        self.calls: dict[str, int] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._gpm_last: dict[str, float] = {}
        self._devices = self._build_devices()

    @classmethod
    def uniform(cls, n: int, model: str = "NVIDIA H100 80GB HBM3", behaviour: str = "busy",
                **kw: Any) -> SimulatedBackend:
        """``n`` identical GPUs."""
        return cls([SimGpu(model=model, behaviour=behaviour) for _ in range(n)], **kw)

    # --- fault injection -------------------------------------------------------------------
    def inject(self, method: str, error: type[NvmlError], device: str | None = None,
               times: int | None = 1) -> None:
        """Make ``method`` raise ``error`` for ``device`` (a GPU or MIG UUID; None = every device)."""
        self._faults.setdefault(method, []).append(_Fault(error, device, times))

    def clear_faults(self) -> None:
        self._faults.clear()

    def _check(self, method: str, dev: Device | None = None) -> None:
        self.calls[method] = self.calls.get(method, 0) + 1
        if method != "init" and not self.initialised:
            raise NvmlUnavailable("simulated NVML: not initialised", 1)
        faults = self._faults.get(method)
        if not faults:
            return
        for f in faults:
            if f.device is None or (dev is not None and f.device in (dev.gpu_uuid, dev.mig_uuid)):
                if f.times is not None:
                    f.times -= 1
                    if f.times <= 0:
                        faults.remove(f)
                raise f.error(f"simulated NVML: {f.error.__name__} in {method}"
                              f"{f' on {dev.key}' if dev else ''}", 999)

    # --- the adapter -----------------------------------------------------------------------
    def _build_devices(self) -> list[Device]:
        out: list[Device] = []
        for i, g in enumerate(self.gpus):
            uuid = f"{self.uuid_prefix}-{i:04d}-0000-0000-000000000000"
            out.append(Device(gpu_uuid=uuid, model=g.model, index=i, handle=(i, None)))
            for j, m in enumerate(g.migs):
                out.append(Device(gpu_uuid=uuid, model=g.model, index=i,
                                  mig_uuid=f"MIG-sim-{i:04d}-{j:04d}-0000-000000000000", gpu_instance_id=j + 1,
                                  mig_profile=m.profile, handle=(i, j)))
        return out

    def init(self) -> None:
        self._check("init")
        self.initialised = True

    def shutdown(self) -> None:
        self.initialised = False

    def devices(self) -> list[Device]:
        self._check("devices")
        return list(self._devices)

    def _spec(self, dev: Device) -> tuple[SimGpu, SimMig | None]:
        i, j = dev.handle
        g = self.gpus[i]
        return g, (g.migs[j] if j is not None else None)

    def _behaviour(self, dev: Device) -> str:
        g, m = self._spec(dev)
        return m.behaviour if m is not None else g.behaviour

    def utilization_samples(self, dev: Device, since_us: int) -> list[tuple[int, float]]:
        self._check("utilization_samples", dev)
        g, m = self._spec(dev)
        if m is not None or not g.sample_buffer:
            raise NvmlNotSupported("simulated NVML: no utilization sample buffer on this device", 3)
        now = self.clock()
        period = self.sample_period_s
        # NVML keeps about the last 10 s of samples; never return more than that
        start = max(since_us / 1e6, now - 10.0)
        k = math.floor(start / period) + 1
        beh = g.behaviour
        out = []
        while k * period <= now:
            t = k * period
            out.append((int(t * 1e6), behaviour_pct(beh, t)))
            k += 1
        out = [s for s in out if s[0] > since_us]
        if not out:
            raise NvmlNoData("simulated NVML: no samples since the given time", 21)
        return out

    def utilization_now(self, dev: Device) -> float:
        self._check("utilization_now", dev)
        g, m = self._spec(dev)
        if m is not None:
            raise NvmlNotSupported("simulated NVML: utilization is not supported on MIG instances", 3)
        return behaviour_pct(g.behaviour, self.clock())

    def memory(self, dev: Device) -> tuple[int, int]:
        self._check("memory", dev)
        g, m = self._spec(dev)
        if m is None:
            return g.mem_used_bytes, g.mem_total_bytes
        return m.mem_used_bytes, _profile_mem(m.profile)

    def power_w(self, dev: Device) -> float:
        self._check("power_w", dev)
        g, m = self._spec(dev)
        if m is not None or g.power_w is None:
            raise NvmlNotSupported("simulated NVML: power is not supported here", 3)
        return g.power_w

    def processes(self, dev: Device) -> list[Process]:
        self._check("processes", dev)
        g, m = self._spec(dev)
        procs = m.processes if m is not None else g.processes
        return [Process(pid, mem) for pid, mem in procs]

    def gpm_sm_activity(self, dev: Device) -> tuple[float, float | None] | None:
        self._check("gpm_sm_activity", dev)
        g, _m = self._spec(dev)
        if not g.gpm:
            raise NvmlNotSupported("simulated NVML: GPM is not supported on this GPU", 3)
        now = self.clock()
        last = self._gpm_last.get(dev.key)
        self._gpm_last[dev.key] = now
        if last is None or now <= last:
            return None
        # average of the behaviour over (last, now]: SM activity sits a little below utilization.gpu
        beh = self._behaviour(dev)
        n = 8
        avg = sum(behaviour_pct(beh, last + (now - last) * (k + 1) / n) for k in range(n)) / n
        return round(avg * 0.85, 3), round(avg * 0.6, 3)


def _profile_mem(profile: str) -> int:
    """Memory of a MIG profile like ``3g.40gb``."""
    try:
        return int(profile.split(".", 1)[1].lower().removesuffix("gb")) * GiB
    except (IndexError, ValueError):
        return 10 * GiB
