"""Who holds a GPU: the ``workload`` object a gpu_sample carries.

An attributor maps a GPU UUID (or MIG UUID) to a contract ``workload`` dict, or None when
nothing is allocated the device. Two implementations: :class:`StaticAttributor` (outside
Kubernetes: a mapping from config) and ``collectors.kube.attribution.KubeAttributor``
(kubelet PodResources + the Kubernetes API).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from spendwatch.errors import ConfigError


class Attributor(Protocol):
    def workload_for(self, gpu_uuid: str, mig_uuid: str | None) -> dict[str, Any] | None:
        """The workload holding this device (MIG UUID first, then the GPU's), or None."""


@dataclass(frozen=True)
class StaticAttributionConfig:
    """``attribution`` section outside Kubernetes: device UUID (GPU or MIG) or ``"*"`` → workload."""

    static: dict[str, dict[str, Any]] = field(default_factory=dict)


class StaticAttributor:
    """Looks devices up in a fixed mapping; ``"*"`` is the default for every device not listed."""

    def __init__(self, mapping: Mapping[str, Mapping[str, Any]]) -> None:
        self._map: dict[str, dict[str, Any]] = {}
        for uuid, w in mapping.items():
            if not isinstance(w, Mapping) or not isinstance(w.get("id"), str) or not w["id"]:
                raise ConfigError(f"attribution.static.{uuid}: expected a workload mapping with a non-empty 'id'")
            unknown = set(w) - {"id", "kind", "owner", "team", "labels"}
            if unknown:
                raise ConfigError(f"attribution.static.{uuid}: unknown workload field(s) {sorted(unknown)}")
            self._map[uuid] = {"kind": "unknown", **dict(w)}

    def workload_for(self, gpu_uuid: str, mig_uuid: str | None) -> dict[str, Any] | None:
        if mig_uuid is not None and mig_uuid in self._map:
            return dict(self._map[mig_uuid])
        w = self._map.get(gpu_uuid) or self._map.get("*")
        return dict(w) if w is not None else None
