"""Real NVML through nvidia-ml-py (``pynvml``), behind the device adapter.

- Utilization is averaged from NVML's own sample buffer (``nvmlDeviceGetSamples`` with
  ``NVML_GPU_UTILIZATION_SAMPLES`` since the last timestamp read), not one instantaneous read.
- SM activity comes from GPM (Hopper and later): two GPM samples, ``nvmlGpmMetricsGet`` with
  ``NVML_GPM_METRIC_SM_UTIL`` and ``NVML_GPM_METRIC_SM_OCCUPANCY``; MIG instances are sampled
  with ``nvmlGpmMigSampleGet`` on the parent GPU and the instance's GPU-instance id.
- Every ``pynvml.NVMLError`` is translated to the adapter's typed errors (NOT_SUPPORTED →
  NvmlNotSupported, which the collector reports as a null field).

Not exercised on a GPU in this repository's CI (no GPU there); the simulated backend drives the
collector in tests. See docs/collectors.md.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from collectors.nvml.device import (
    Device,
    NvmlError,
    NvmlGpuLost,
    NvmlNoData,
    NvmlNotSupported,
    NvmlTimeout,
    NvmlUnavailable,
    Process,
)

log = logging.getLogger(__name__)

try:
    import pynvml as _nv
except ImportError:  # pragma: no cover - nvidia-ml-py is a dependency
    _nv = None


def _translate(exc: Exception, what: str) -> NvmlError:
    """The adapter's typed error for a pynvml.NVMLError."""
    code = int(getattr(exc, "value", 0) or 0)
    msg = f"NVML {what}: {exc} (code {code})"
    if _nv is None:
        return NvmlUnavailable(msg, code)
    if code in (_nv.NVML_ERROR_NOT_SUPPORTED, _nv.NVML_ERROR_FUNCTION_NOT_FOUND):
        return NvmlNotSupported(msg, code)
    if code in (_nv.NVML_ERROR_DRIVER_NOT_LOADED, _nv.NVML_ERROR_LIBRARY_NOT_FOUND, _nv.NVML_ERROR_UNINITIALIZED,
                _nv.NVML_ERROR_LIB_RM_VERSION_MISMATCH, _nv.NVML_ERROR_NO_PERMISSION):
        return NvmlUnavailable(msg, code)
    if code in (_nv.NVML_ERROR_GPU_IS_LOST, _nv.NVML_ERROR_RESET_REQUIRED, _nv.NVML_ERROR_GPU_NOT_FOUND):
        return NvmlGpuLost(msg, code)
    if code == _nv.NVML_ERROR_TIMEOUT:
        return NvmlTimeout(msg, code)
    if code == _nv.NVML_ERROR_NOT_FOUND or code == getattr(_nv, "NVML_ERROR_NO_DATA", -1):
        return NvmlNoData(msg, code)
    return NvmlError(msg, code)


def _call(what: str, fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except Exception as exc:
        if _nv is not None and isinstance(exc, _nv.NVMLError):
            raise _translate(exc, what) from None
        raise


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class PynvmlBackend:
    """A :class:`~collectors.nvml.device.DeviceBackend` over the real NVML library."""

    name = "nvml"

    def __init__(self) -> None:
        self._gpm_prev: dict[str, Any] = {}
        self._gpm_ok: dict[str, bool] = {}

    def init(self) -> None:
        if _nv is None:
            raise NvmlUnavailable("nvidia-ml-py (pynvml) is not installed")
        _call("init", _nv.nvmlInit)

    def shutdown(self) -> None:
        if _nv is None:
            return
        # best-effort: shutting down after a failure must not raise
        for s in self._gpm_prev.values():
            with contextlib.suppress(Exception):
                _nv.nvmlGpmSampleFree(s)
        self._gpm_prev.clear()
        with contextlib.suppress(Exception):
            _nv.nvmlShutdown()

    def devices(self) -> list[Device]:
        assert _nv is not None
        out: list[Device] = []
        for i in range(_call("device count", _nv.nvmlDeviceGetCount)):
            h = _call("get handle", _nv.nvmlDeviceGetHandleByIndex, i)
            uuid = _str(_call("uuid", _nv.nvmlDeviceGetUUID, h))
            model = _str(_call("name", _nv.nvmlDeviceGetName, h))
            out.append(Device(gpu_uuid=uuid, model=model, index=i, handle=(h, None)))
            try:
                current, _pending = _call("MIG mode", _nv.nvmlDeviceGetMigMode, h)
            except NvmlNotSupported:
                continue
            if current != _nv.NVML_DEVICE_MIG_ENABLE:
                continue
            for j in range(_call("max MIG count", _nv.nvmlDeviceGetMaxMigDeviceCount, h)):
                try:
                    mh = _call("MIG handle", _nv.nvmlDeviceGetMigDeviceHandleByIndex, h, j)
                except (NvmlNoData, NvmlError) as exc:
                    if isinstance(exc, NvmlGpuLost):
                        raise
                    continue  # slot j holds no instance
                out.append(Device(gpu_uuid=uuid, model=model, index=i,
                                  mig_uuid=_str(_call("MIG uuid", _nv.nvmlDeviceGetUUID, mh)),
                                  gpu_instance_id=int(_call("GI id", _nv.nvmlDeviceGetGpuInstanceId, mh)),
                                  mig_profile=_str(_call("MIG name", _nv.nvmlDeviceGetName, mh)),
                                  handle=(h, mh)))
        return out

    @staticmethod
    def _h(dev: Device) -> Any:
        parent, mig = dev.handle
        return mig if mig is not None else parent

    def utilization_samples(self, dev: Device, since_us: int) -> list[tuple[int, float]]:
        assert _nv is not None
        vtype, samples = _call("utilization samples", _nv.nvmlDeviceGetSamples, self._h(dev),
                               _nv.NVML_GPU_UTILIZATION_SAMPLES, since_us)
        field = {_nv.NVML_VALUE_TYPE_DOUBLE: "dVal", _nv.NVML_VALUE_TYPE_UNSIGNED_INT: "uiVal",
                 _nv.NVML_VALUE_TYPE_UNSIGNED_LONG: "ulVal", _nv.NVML_VALUE_TYPE_UNSIGNED_LONG_LONG: "ullVal",
                 _nv.NVML_VALUE_TYPE_SIGNED_LONG_LONG: "sllVal"}.get(vtype, "uiVal")
        out = [(int(s.timeStamp), float(getattr(s.sampleValue, field))) for s in samples
               if int(s.timeStamp) > since_us]
        if not out:
            raise NvmlNoData("NVML utilization samples: none since the last read", 0)
        return out

    def utilization_now(self, dev: Device) -> float:
        assert _nv is not None
        return float(_call("utilization", _nv.nvmlDeviceGetUtilizationRates, self._h(dev)).gpu)

    def memory(self, dev: Device) -> tuple[int, int]:
        assert _nv is not None
        m = _call("memory", _nv.nvmlDeviceGetMemoryInfo, self._h(dev))
        return int(m.used), int(m.total)

    def power_w(self, dev: Device) -> float:
        assert _nv is not None
        return float(_call("power", _nv.nvmlDeviceGetPowerUsage, self._h(dev))) / 1000.0  # milliwatts

    def processes(self, dev: Device) -> list[Process]:
        assert _nv is not None
        procs = _call("compute processes", _nv.nvmlDeviceGetComputeRunningProcesses, self._h(dev))
        out = []
        for p in procs:
            mem = getattr(p, "usedGpuMemory", None)
            # NVML reports NVML_VALUE_NOT_AVAILABLE (ULL max) when it cannot tell (e.g. under WDDM or MIG)
            out.append(Process(int(p.pid), int(mem) if mem is not None and mem < 2**63 else None))
        return out

    def gpm_sm_activity(self, dev: Device) -> tuple[float, float | None] | None:
        assert _nv is not None
        parent, _mig = dev.handle
        ok = self._gpm_ok.get(dev.gpu_uuid)
        if ok is None:
            try:
                ok = bool(_call("GPM support", _nv.nvmlGpmQueryDeviceSupport, parent).isSupportedDevice)
            except NvmlNotSupported:
                ok = False
            self._gpm_ok[dev.gpu_uuid] = ok
        if not ok:
            raise NvmlNotSupported(f"GPM is not supported on {dev.model}", 3)
        sample = _call("GPM sample alloc", _nv.nvmlGpmSampleAlloc)
        try:
            if dev.mig_uuid is not None:
                _call("GPM MIG sample", _nv.nvmlGpmMigSampleGet, parent, dev.gpu_instance_id, sample)
            else:
                _call("GPM sample", _nv.nvmlGpmSampleGet, parent, sample)
        except NvmlError:
            _nv.nvmlGpmSampleFree(sample)
            raise
        prev = self._gpm_prev.get(dev.key)
        self._gpm_prev[dev.key] = sample
        if prev is None:
            return None
        try:
            mg = _nv.c_nvmlGpmMetricsGet_t()
            mg.version = _nv.NVML_GPM_METRICS_GET_VERSION
            mg.numMetrics = 2
            mg.sample1 = prev
            mg.sample2 = sample
            mg.metrics[0].metricId = _nv.NVML_GPM_METRIC_SM_UTIL
            mg.metrics[1].metricId = _nv.NVML_GPM_METRIC_SM_OCCUPANCY
            _call("GPM metrics", _nv.nvmlGpmMetricsGet, mg)
        finally:
            _nv.nvmlGpmSampleFree(prev)
        if mg.metrics[0].nvmlReturn != _nv.NVML_SUCCESS:
            raise _translate(_nv.NVMLError(mg.metrics[0].nvmlReturn), "GPM SM util")
        occ = float(mg.metrics[1].value) if mg.metrics[1].nvmlReturn == _nv.NVML_SUCCESS else None
        return float(mg.metrics[0].value), occ


def nvml_importable() -> bool:
    """Whether nvidia-ml-py is importable (it says nothing about a driver being present)."""
    return _nv is not None
