"""The GPU collector loop: one ``gpu_sample`` per GPU (and per MIG instance) per interval.

Per device and interval it publishes:

- ``util_gpu_pct``: the mean of NVML's utilization sample buffer over the interval. Where a
  device keeps no buffer, the mean of sub-interval polls (``poll_subsamples`` a interval);
  where utilization is not offered at all (MIG instances), GPM SM activity stands in
  (``util_source: "gpm"``). A device with neither is not published that interval (a made-up
  0% would look like an idle GPU) and is counted.
- ``sm_active_pct`` (and ``sm_occupancy_pct``) from GPM where the GPU offers it, else null.
- memory, ``power_w`` (null where not supported, e.g. MIG), compute ``processes`` (every
  ``process_every`` intervals: the NVML call is slow; the last list is repeated in between).
- ``price_per_hour_usd`` from the price table (a MIG slice pays its share), ``workload`` from
  the attributor.

Failures never stop the loop. NOT_SUPPORTED makes that field null for good. A timeout or any
other error on one device backs that device off exponentially while the others go on; a lost
GPU also re-enumerates devices when its backoff ends; NVML unavailable (driver not loaded)
shuts the library down and re-initialises it with backoff. Everything is logged once per
state change (not once per interval) and counted in Prometheus metrics.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from collectors.attribution import Attributor
from collectors.nvml.device import (
    Device,
    DeviceBackend,
    NvmlError,
    NvmlGpuLost,
    NvmlNoData,
    NvmlNotSupported,
    NvmlUnavailable,
    Process,
)
from spendwatch.events import GPU_SAMPLE, validate
from spendwatch.prices import PriceTable

log = logging.getLogger(__name__)

_MIG_SLICES = re.compile(r"(\d+)g\.")


@dataclass
class Backoff:
    """Exponential backoff: ``initial_s`` doubling per failure up to ``max_s``."""

    initial_s: float = 1.0
    max_s: float = 300.0
    failures: int = 0
    retry_at: float = 0.0

    def fail(self, now: float) -> float:
        self.failures += 1
        delay = min(self.max_s, self.initial_s * 2 ** (self.failures - 1))
        self.retry_at = now + delay
        return delay

    def ok(self) -> None:
        self.failures, self.retry_at = 0, 0.0


@dataclass
class _DevState:
    backoff: Backoff
    last_at: float | None = None
    last_ts_us: int = 0
    last_util: float | None = None
    unsupported: set[str] = field(default_factory=set)
    polls: list[float] = field(default_factory=list)
    procs: list[Process] | None = None
    ticks: int = 0
    error: str | None = None


class CollectorMetrics:
    """Prometheus metrics of one collector, in a registry of its own (served on /metrics)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.samples = Counter("spendwatch_collector_samples", "gpu_sample events produced", registry=r)
        self.skipped = Counter("spendwatch_collector_samples_skipped",
                               "device intervals not published", ["reason"], registry=r)
        self.errors = Counter("spendwatch_collector_nvml_errors", "NVML failures", ["kind"], registry=r)
        self.devices = Gauge("spendwatch_collector_devices", "devices (GPUs + MIG instances) seen", registry=r)
        self.backing_off = Gauge("spendwatch_collector_devices_backing_off",
                                 "devices waiting to be retried after an error", registry=r)
        self.nvml_up = Gauge("spendwatch_collector_nvml_up", "1 when NVML is initialised", registry=r)
        self.tick_seconds = Counter("spendwatch_collector_tick_cpu_seconds",
                                    "CPU time spent collecting", registry=r)
        self.gpu_cost = Counter("spendwatch_collector_gpu_cost_usd", "priced GPU time published, by the "
                                "workload's team ('unallocated': no workload; 'none': a workload without a team)",
                                ["team"], registry=r)


class GpuCollector:
    """Samples every device of ``backend`` and hands each validated event to ``emit``."""

    def __init__(self, backend: DeviceBackend, node: str, emit: Callable[[dict[str, Any]], None],
                 prices: PriceTable | None = None, attributor: Attributor | None = None,
                 interval_s: float = 10.0, process_every: int = 6, poll_subsamples: int = 4,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 300.0,
                 clock: Callable[[], float] = time.time, metrics: CollectorMetrics | None = None) -> None:
        self.backend = backend
        self.node = node
        self.emit = emit
        self.prices = prices or PriceTable()
        self.attributor = attributor
        self.interval_s = interval_s
        self.process_every = max(1, process_every)
        self.poll_subsamples = max(1, poll_subsamples)
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.clock = clock
        self.metrics = metrics or CollectorMetrics()
        self.initialised = False
        self._init_backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._devices: list[Device] = []
        self._state: dict[str, _DevState] = {}
        self._enumerate = True
        self._parent_mem: dict[str, int] = {}

    # --- lifecycle -----------------------------------------------------------------------------
    def _ensure_ready(self, now: float) -> bool:
        if not self.initialised:
            if now < self._init_backoff.retry_at:
                return False
            try:
                self.backend.init()
            except NvmlError as exc:
                self._nvml_down(now, exc, "initialise")
                return False
            self.initialised = True
            self.metrics.nvml_up.set(1)
            if self._init_backoff.failures:
                log.warning("NVML initialised again after %d failed attempt(s)", self._init_backoff.failures)
            self._init_backoff.ok()
            self._enumerate = True
        if self._enumerate:
            try:
                devices = self.backend.devices()
            except NvmlError as exc:
                self._nvml_down(now, exc, "list devices")
                return False
            self._set_devices(devices)
        return True

    def _nvml_down(self, now: float, exc: NvmlError, doing: str) -> None:
        self.metrics.errors.labels(kind=type(exc).__name__).inc()
        self.metrics.nvml_up.set(0)
        if self.initialised:
            self.backend.shutdown()
        self.initialised = False
        delay = self._init_backoff.fail(now)
        log.error("NVML failed to %s: %s; retrying in %.0fs (attempt %d). Is the NVIDIA driver loaded and the "
                  "device plugin / runtime giving this container the GPUs?", doing, exc, delay,
                  self._init_backoff.failures)

    def _set_devices(self, devices: list[Device]) -> None:
        old = {d.key for d in self._devices}
        self._devices = devices
        self._enumerate = False
        for d in devices:
            if d.mig_uuid is None:
                self._parent_mem.pop(d.gpu_uuid, None)
            self._state.setdefault(d.key, _DevState(Backoff(self.backoff_initial_s, self.backoff_max_s)))
        new = {d.key for d in devices}
        if new != old:
            log.info("NVML devices on %s: %d (%d GPUs, %d MIG instances)%s", self.node, len(devices),
                     sum(d.mig_uuid is None for d in devices), sum(d.mig_uuid is not None for d in devices),
                     f"; gone: {sorted(old - new)}" if old - new else "")
        self.metrics.devices.set(len(devices))

    @property
    def devices(self) -> list[Device]:
        return list(self._devices)

    def needs_polling(self) -> bool:
        """Whether some device lacks a sample buffer, so utilization is polled between ticks."""
        return any("util_samples" in self._state[d.key].unsupported and "util_now" not in
                   self._state[d.key].unsupported for d in self._devices)

    # --- sampling ------------------------------------------------------------------------------
    def poll(self) -> None:
        """One sub-interval utilization read for devices without NVML's sample buffer."""
        if not self.initialised:
            return
        for d in self._devices:
            st = self._state[d.key]
            if "util_samples" in st.unsupported and "util_now" not in st.unsupported and st.backoff.failures == 0:
                try:
                    st.polls.append(self.backend.utilization_now(d))
                except NvmlNotSupported:
                    st.unsupported.add("util_now")
                except NvmlError:
                    pass  # the tick will meet the same failure and back the device off

    def tick(self) -> list[dict[str, Any]]:
        """One collection round: a sample for every device that is not backing off."""
        t_cpu = time.process_time()
        now = self.clock()
        out: list[dict[str, Any]] = []
        if not self._ensure_ready(now):
            return out
        backing_off = 0
        for d in self._devices:
            st = self._state[d.key]
            if now < st.backoff.retry_at:
                backing_off += 1
                continue
            try:
                ev = self._sample(d, st, now)
            except NvmlUnavailable as exc:
                self._nvml_down(now, exc, f"read {d.key}")
                break
            except NvmlError as exc:
                self._device_failed(d, st, now, exc)
                backing_off += 1
                continue
            if st.backoff.failures:
                log.warning("GPU %s on %s is answering again after %d failure(s)", d.key, self.node,
                            st.backoff.failures)
                st.backoff.ok()
                st.error = None
            if ev is not None:
                self.emit(ev)
                self.metrics.samples.inc()
                if ev["price_per_hour_usd"]:
                    wl = ev["workload"]
                    team = (wl.get("team") or "none") if wl else "unallocated"
                    self.metrics.gpu_cost.labels(team=team).inc(ev["price_per_hour_usd"] * ev["interval_s"] / 3600)
                out.append(ev)
        self.metrics.backing_off.set(backing_off)
        self.metrics.tick_seconds.inc(time.process_time() - t_cpu)
        return out

    def _device_failed(self, d: Device, st: _DevState, now: float, exc: NvmlError) -> None:
        kind = type(exc).__name__
        self.metrics.errors.labels(kind=kind).inc()
        delay = st.backoff.fail(now)
        st.last_at = None  # the next good sample starts a fresh interval
        st.polls.clear()
        if isinstance(exc, NvmlGpuLost):
            self._enumerate = True  # handles may have changed once it is back
        msg = f"{kind}: {exc}"
        if msg != st.error or st.backoff.failures in (1, 5) or st.backoff.failures % 20 == 0:
            log.error("GPU %s (%s) on %s: %s; the other GPUs go on; retrying this one in %.0fs (failure %d)",
                      d.key, d.model, self.node, msg, delay, st.backoff.failures)
        st.error = msg

    def _opt(self, st: _DevState, name: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn``; NOT_SUPPORTED makes the field null now and later (never 0)."""
        if name in st.unsupported:
            return None
        try:
            return fn()
        except NvmlNotSupported as exc:
            st.unsupported.add(name)
            log.info("%s: %s is not supported on this device (%s); reporting it as null", self.node, name, exc)
            return None

    def _sample(self, d: Device, st: _DevState, now: float) -> dict[str, Any] | None:
        interval = now - st.last_at if st.last_at is not None else self.interval_s
        first = st.last_at is None
        st.last_at = now
        if interval <= 0:
            return None
        st.ticks += 1
        util = self._utilization(d, st, now, interval)
        gpm = self._opt(st, "gpm", lambda: self.backend.gpm_sm_activity(d))
        sm, occ = gpm if gpm is not None else (None, None)
        source = "nvml"
        if util is None and sm is not None:
            util, source = sm, "gpm"
        if util is None:
            reason = "warming_up" if first or "gpm" not in st.unsupported else "no_utilization"
            self.metrics.skipped.labels(reason=reason).inc()
            if reason == "no_utilization" and st.ticks == 2:
                log.warning("%s: GPU %s offers neither NVML utilization nor GPM; not publishing it", self.node, d.key)
            return None
        try:
            used, total = self.backend.memory(d)
        except NvmlNotSupported:
            self.metrics.skipped.labels(reason="no_memory").inc()
            return None
        if d.mig_uuid is None:
            self._parent_mem[d.gpu_uuid] = total
        power = self._opt(st, "power", lambda: self.backend.power_w(d))
        if st.procs is None or st.ticks % self.process_every == 1 or self.process_every == 1:
            procs = self._opt(st, "processes", lambda: self.backend.processes(d))
            st.procs = procs
        ev: dict[str, Any] = {
            "type": GPU_SAMPLE, "ts": now, "node": self.node, "gpu_uuid": d.gpu_uuid, "mig_uuid": d.mig_uuid,
            "gpu_model": d.model, "interval_s": round(interval, 6),
            "util_gpu_pct": round(min(100.0, max(0.0, util)), 3),
            "sm_active_pct": None if sm is None else round(min(100.0, max(0.0, sm)), 3),
            "mem_used_bytes": int(used), "mem_total_bytes": int(total),
            "power_w": None if power is None else round(power, 3),
            "workload": self._workload(d),
            "price_per_hour_usd": self._price(d, total),
            "util_source": source,
        }
        if occ is not None:
            ev["sm_occupancy_pct"] = round(min(100.0, max(0.0, occ)), 3)
        if d.mig_profile:
            ev["mig_profile"] = d.mig_profile
        if st.procs is not None:
            ev["processes"] = [{"pid": p.pid, "used_mem_bytes": p.used_mem_bytes} for p in st.procs]
        return validate(ev)

    def _utilization(self, d: Device, st: _DevState, now: float, interval: float) -> float | None:
        if "util_samples" not in st.unsupported:
            since = st.last_ts_us or int((now - interval) * 1e6)
            try:
                samples = self.backend.utilization_samples(d, since)
            except NvmlNoData:
                # NVML's sampling period can exceed a short interval: the last average still holds
                return st.last_util
            except NvmlNotSupported:
                st.unsupported.add("util_samples")
                log.info("%s: %s keeps no utilization sample buffer; polling %d times an interval instead",
                         self.node, d.key, self.poll_subsamples)
            else:
                st.last_ts_us = samples[-1][0]
                st.last_util = sum(v for _, v in samples) / len(samples)
                return st.last_util
        if st.polls:
            avg = sum(st.polls) / len(st.polls)
            st.polls.clear()
            return avg
        return self._opt(st, "util_now", lambda: self.backend.utilization_now(d))

    def _workload(self, d: Device) -> dict[str, Any] | None:
        if self.attributor is None:
            return None
        try:
            return self.attributor.workload_for(d.gpu_uuid, d.mig_uuid)
        except Exception as exc:  # noqa: BLE001 - attribution must never stop sampling
            self.metrics.errors.labels(kind="attribution").inc()
            log.warning("attribution failed for %s: %s: %s; publishing without a workload", d.key,
                        type(exc).__name__, exc)
            return None

    def _price(self, d: Device, total: int) -> float | None:
        price = self.prices.gpu_per_hour(d.model)
        if price <= 0:
            return None
        if d.mig_uuid is not None:
            m = _MIG_SLICES.search(d.mig_profile or "")
            if m:
                slices = 4 if "A30" in d.model.upper() else 7
                price *= min(1.0, int(m.group(1)) / slices)
            elif self._parent_mem.get(d.gpu_uuid):
                price *= min(1.0, total / self._parent_mem[d.gpu_uuid])
        return round(price, 6)

    # --- the loop ------------------------------------------------------------------------------
    def run(self, stop: threading.Event, once: bool = False) -> None:
        """Tick every ``interval_s`` (polling in between where needed) until ``stop`` is set."""
        next_tick = time.monotonic()
        while not stop.is_set():
            self.tick()
            if once:
                return
            next_tick += self.interval_s
            if time.monotonic() > next_tick:  # fell behind (a slow NVML call): do not burst to catch up
                next_tick = time.monotonic() + self.interval_s
            step = self.interval_s / self.poll_subsamples
            while not stop.is_set():
                left = next_tick - time.monotonic()
                if left <= 0:
                    break
                if self.needs_polling():
                    stop.wait(min(step, left))
                    if next_tick - time.monotonic() > step / 2:
                        self.poll()
                else:
                    stop.wait(left)
