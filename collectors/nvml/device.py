"""The device adapter: what the GPU collector needs from NVML, and the typed errors it raises.

A backend lists the devices (physical GPUs and MIG instances) and reads each metric on its own,
so one unsupported or failing call costs one field or one device, never the whole node::

    NvmlError (ExternalError)            any NVML failure; ``code`` is the NVML return code
    ├── NvmlNotSupported                 this device does not offer this metric: the field is null
    ├── NvmlUnavailable                  library missing / driver not loaded: re-initialise with backoff
    ├── NvmlGpuLost                      the GPU fell off the bus or needs a reset: re-enumerate with backoff
    ├── NvmlTimeout                      the call timed out: retry the device with backoff
    └── NvmlNoData                       no samples since the given timestamp (not an error for the caller)

Two backends implement :class:`DeviceBackend`: ``pynvml_backend.PynvmlBackend`` (real NVML) and
``simulated.SimulatedBackend`` (machines without a GPU, tests, the demo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from spendwatch.errors import ExternalError


class NvmlError(ExternalError):
    """An NVML call failed. ``code`` is NVML's return code (0 when not from NVML)."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


class NvmlNotSupported(NvmlError):
    """The device does not support this query (NVML_ERROR_NOT_SUPPORTED): report the field as null."""


class NvmlUnavailable(NvmlError):
    """NVML cannot be used at all: library not found, driver not loaded, not initialised."""


class NvmlGpuLost(NvmlError):
    """The GPU is lost or needs a reset: its handle is no longer valid."""


class NvmlTimeout(NvmlError):
    """An NVML call timed out."""


class NvmlNoData(NvmlError):
    """No samples are available since the given timestamp."""


@dataclass(frozen=True)
class Device:
    """One thing a sample is published for: a physical GPU, or one MIG instance of it.

    ``handle`` is the backend's own reference; the collector never looks inside it.
    """

    gpu_uuid: str
    model: str
    index: int
    mig_uuid: str | None = None
    gpu_instance_id: int | None = None
    mig_profile: str | None = None
    handle: Any = None

    @property
    def key(self) -> str:
        """The id a sample is keyed by: the MIG UUID for a MIG instance, else the GPU UUID."""
        return self.mig_uuid or self.gpu_uuid


@dataclass(frozen=True)
class Process:
    """A compute process on a device; ``used_mem_bytes`` is None when NVML cannot tell."""

    pid: int
    used_mem_bytes: int | None


class DeviceBackend(Protocol):
    """What the collector needs from NVML. Every method may raise an :class:`NvmlError` subclass."""

    name: str

    def init(self) -> None:
        """Initialise the library (raises NvmlUnavailable when it cannot)."""

    def shutdown(self) -> None:
        """Release the library; safe to call when not initialised."""

    def devices(self) -> list[Device]:
        """Every physical GPU, followed by its MIG instances when MIG mode is on."""

    def utilization_samples(self, dev: Device, since_us: int) -> list[tuple[int, float]]:
        """NVML's GPU-utilization sample buffer since ``since_us``: (timestamp µs, percent) pairs.

        Raises NvmlNotSupported where the device keeps no buffer (MIG instances, some older GPUs),
        NvmlNoData when nothing is newer than ``since_us``.
        """

    def utilization_now(self, dev: Device) -> float:
        """The instantaneous utilization.gpu percent (for sub-interval polling)."""

    def memory(self, dev: Device) -> tuple[int, int]:
        """(used, total) bytes of device memory."""

    def power_w(self, dev: Device) -> float:
        """Power draw in watts (MIG instances: NvmlNotSupported; power is per physical GPU)."""

    def processes(self, dev: Device) -> list[Process]:
        """Compute processes on the device. Slow on real NVML: the collector calls it less often."""

    def gpm_sm_activity(self, dev: Device) -> tuple[float, float | None] | None:
        """GPM (SM util %, SM occupancy % or None) since the previous call for this device.

        None on the first call (a GPM metric needs two samples). NvmlNotSupported where the GPU
        has no GPM (before Hopper).
        """
