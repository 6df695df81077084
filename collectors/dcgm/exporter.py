"""NVIDIA dcgm-exporter's ``/metrics`` (Prometheus text format) into per-device readings.

dcgm-exporter (the GPU Operator runs it on every GPU node, port 9400) writes one series per
field and device, e.g.::

    DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-...",pci_bus_id="...",device="nvidia0",
        modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",DCGM_FI_DRIVER_VERSION="570.86.15",
        container="trainer",namespace="ml",pod="train-42-8xk2p"} 87

- Fields read (``etc/default-counters.csv`` / ``dcp-metrics-included.csv``): ``DCGM_FI_DEV_GPU_UTIL``
  (%), ``DCGM_FI_PROF_SM_ACTIVE`` and ``DCGM_FI_PROF_GR_ENGINE_ACTIVE`` (ratios 0-1),
  ``DCGM_FI_DEV_FB_USED`` / ``FB_FREE`` / ``FB_RESERVED`` (MiB), ``DCGM_FI_DEV_POWER_USAGE`` (W).
- Labels: ``gpu``, ``UUID`` (``uuid`` with ``--use-old-namespace``), ``modelName``, ``Hostname``,
  ``pod`` / ``namespace`` / ``container`` (``pod_name`` / ``pod_namespace`` / ``container_name``
  in the old namespace) when the kubelet pod mapping is on, and for a MIG instance
  ``GPU_I_PROFILE`` and ``GPU_I_ID``. dcgm-exporter labels a MIG instance with its *parent*
  GPU's UUID plus the GPU instance id, not with the MIG UUID; the instance's stable id here is
  ``MIG-<parent UUID>/<GPU_I_ID>`` (the same instance keeps it across scrapes and restarts).
- DCGM's "blank" sentinels (values >= 2147483632, or NaN) mean *not available*: the field is
  missing, never a 0. A device with neither utilization nor SM activity, or without memory
  figures, is not published (a made-up 0 % would look idle) and is counted.

Parsed with ``prometheus_client``'s text parser; a line it rejects is skipped and counted, the
rest of the page still counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

DCGM_BLANK = 2147483632.0  # DCGM_INT32_BLANK (0x7ffffff0); the int64 / fp64 blanks are larger
MIB = 1 << 20
FIELDS = ("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_PROF_SM_ACTIVE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_FB_USED",
          "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED", "DCGM_FI_DEV_FB_TOTAL", "DCGM_FI_DEV_POWER_USAGE")


@dataclass
class DcgmDevice:
    """One GPU or MIG instance on one scrape."""

    gpu_uuid: str
    gpu_instance: str | None = None  # GPU_I_ID
    mig_profile: str | None = None  # GPU_I_PROFILE
    index: str | None = None  # gpu
    model: str | None = None  # modelName
    hostname: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    pods: set[tuple[str, str, str]] = field(default_factory=set)  # (namespace, pod, container)

    @property
    def mig_uuid(self) -> str | None:
        return None if self.gpu_instance is None else f"MIG-{self.gpu_uuid}/{self.gpu_instance}"


@dataclass
class Scrape:
    devices: list[DcgmDevice]
    bad_lines: list[str]


def _usable(v: float) -> bool:
    return math.isfinite(v) and 0 <= v < DCGM_BLANK


def _label(labels: dict[str, str], *names: str) -> str | None:
    for n in names:
        v = labels.get(n)
        if v:
            return v
    return None


def _families(text: str, bad: list[str]) -> list[tuple[str, dict[str, str], float]]:
    out: list[tuple[str, dict[str, str], float]] = []
    try:
        for fam in text_string_to_metric_families(text):
            out.extend((s.name, dict(s.labels), float(s.value)) for s in fam.samples)
        return out
    except (ValueError, TypeError, IndexError, KeyError):
        out.clear()
    for n, line in enumerate(text.splitlines(), start=1):  # isolate the bad lines, keep the rest
        if not line.strip() or line.startswith("#"):
            continue
        try:
            for fam in text_string_to_metric_families(line + "\n"):
                out.extend((s.name, dict(s.labels), float(s.value)) for s in fam.samples)
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            bad.append(f"line {n}: {line[:120]!r}: {exc}")
    return out


def parse_metrics(text: str) -> Scrape:
    """The devices on one dcgm-exporter page (only the fields spendwatch uses)."""
    bad: list[str] = []
    devices: dict[tuple[str, str | None], DcgmDevice] = {}
    for name, labels, value in _families(text, bad):
        if name not in FIELDS:
            continue
        uuid = _label(labels, "UUID", "uuid")
        if uuid is None:
            bad.append(f"{name}{labels}: no UUID label")
            continue
        gi = _label(labels, "GPU_I_ID")
        d = devices.get((uuid, gi))
        if d is None:
            d = devices[(uuid, gi)] = DcgmDevice(uuid, gi, _label(labels, "GPU_I_PROFILE"), _label(labels, "gpu"),
                                                 _label(labels, "modelName"), _label(labels, "Hostname"))
        if _usable(value):
            d.values[name] = value
        ns = _label(labels, "namespace", "pod_namespace", "exported_namespace")
        pod = _label(labels, "pod", "pod_name", "exported_pod")
        if ns and pod:
            d.pods.add((ns, pod, _label(labels, "container", "container_name", "exported_container") or ""))
    return Scrape(list(devices.values()), bad)
