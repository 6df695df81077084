"""The GPU collector process (``spendwatch collect gpu``): settings in, samples out until stopped.

:func:`run_gpu_collector` samples NVML every ``interval`` seconds and publishes ``gpu_sample``
events (``stdout`` prints them instead). Backend ``auto`` uses NVML and fails with a clear
message when NVML does not initialise; the simulated backend is used only when asked for
(``simulated``), never silently. NVML failures while running are survived and retried; the
process exits non-zero only on bad configuration.

Wiring: the backend (:mod:`collectors.nvml.pynvml_backend` or :mod:`collectors.nvml.simulated`),
pod attribution (:mod:`collectors.kube.attribution`, static, or none), the publisher with its
spool (:func:`collectors.publisher.publisher_from_settings`) and ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from spendwatch.config import Settings
from spendwatch.errors import ConfigError

log = logging.getLogger("spendwatch.collect")


@dataclass(frozen=True)
class GpuCollectorConfig:
    """``collector`` section.

    Parameters
    ----------
    node
        Node name (default: ``$NODE_NAME``, which the DaemonSet sets from ``spec.nodeName``, else
        the hostname).
    interval_s
        Seconds per sample.
    process_every
        Read the process list every this many samples.
    poll_subsamples
        Utilization reads averaged into one sample.
    backoff_initial_s, backoff_max_s
        Retry backoff while NVML fails.
    metrics_host, metrics_port
        Where ``/metrics`` is served (port 0: not served).
    attribution
        ``auto`` (Kubernetes when the pod-resources socket exists, else static), ``kube``,
        ``static`` or ``none``.
    simulated_gpus
        The simulated backend's GPUs (``SimGpu`` fields, ``migs`` a list of ``SimMig`` fields).
    """

    node: str = ""
    interval_s: float = 10.0
    process_every: int = 6
    poll_subsamples: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9403
    attribution: str = "auto"
    simulated_gpus: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class GpuRunOptions:
    """The ``spendwatch collect gpu`` flags; None means "from the settings"."""

    backend: str = "auto"  # auto, nvml, simulated
    gpus: int | None = None  # simulated backend: number of GPUs (default 2)
    behaviour: str = "wave"  # simulated backend: idle, busy, wave, spiky, constant:<pct>
    interval_s: float | None = None
    once: bool = False
    stdout: bool = False
    metrics_port: int | None = None
    node: str | None = None
    metrics_host: str | None = None


def _backend(options: GpuRunOptions, cfg: GpuCollectorConfig) -> Any:
    from collectors.nvml.device import NvmlError

    if options.backend == "simulated":
        from collectors.nvml.simulated import SimGpu, SimMig, SimulatedBackend

        if cfg.simulated_gpus and options.gpus is None:
            try:
                gpus = [SimGpu(**{**g, "migs": [SimMig(**m) for m in g.get("migs", [])]}) for g in cfg.simulated_gpus]
            except TypeError as exc:
                raise ConfigError(f"collector.simulated_gpus: {exc}") from None
        else:
            gpus = [SimGpu(behaviour=options.behaviour) for _ in range(options.gpus or 2)]
        try:
            return SimulatedBackend(gpus)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    from collectors.nvml.pynvml_backend import PynvmlBackend

    backend = PynvmlBackend()
    if options.backend == "auto":
        try:
            backend.init()
        except NvmlError as exc:
            raise ConfigError(f"NVML did not initialise ({exc}). On a GPU node, check the NVIDIA driver and "
                              f"runtime, or use --backend nvml to keep retrying; on a machine without a GPU, "
                              f"use --backend simulated explicitly.") from None
        backend.shutdown()
    return backend


def _attributor(settings: Settings, cfg: GpuCollectorConfig) -> Any:
    from collectors.attribution import StaticAttributor

    section = dict(settings.section("attribution"))
    static = StaticAttributor(build_static(section))
    mode = cfg.attribution
    if mode == "none":
        return None
    if mode == "static":
        return static
    from collectors.kube.attribution import KubeAttributionConfig, KubeAttributor

    kube_cfg = settings.build(KubeAttributionConfig, "kube")
    if mode == "auto" and not os.path.exists(kube_cfg.socket):
        return static
    return KubeAttributor.from_config(kube_cfg, fallback=static)


def build_static(section: dict[str, Any]) -> dict[str, Any]:
    unknown = set(section) - {"static"}
    if unknown:
        raise ConfigError(f"attribution: unknown setting(s) {sorted(unknown)}; known: static")
    static = section.get("static") or {}
    if not isinstance(static, dict):
        raise ConfigError("attribution.static: expected a mapping of device UUID → workload")
    return static


def run_gpu_collector(settings: Settings, options: GpuRunOptions) -> int:
    """Sample and publish until SIGTERM / Ctrl-C (or one sample per device with ``once``)."""
    from collectors.nvml.collector import CollectorMetrics, GpuCollector
    from collectors.publisher import publisher_from_settings
    from spendwatch.metrics_port import serve_prometheus
    from spendwatch.prices import PriceConfig, PriceTable

    cfg = settings.build(GpuCollectorConfig, "collector")
    interval = options.interval_s if options.interval_s is not None else cfg.interval_s
    if interval <= 0:
        raise ConfigError(f"--interval / collector.interval_s must be > 0, got {interval}")
    node = options.node or cfg.node or os.environ.get("NODE_NAME") or socket.gethostname()
    prices = PriceTable(settings.build(PriceConfig, "prices"))
    backend = _backend(options, cfg)
    attributor = _attributor(settings, cfg)
    metrics = CollectorMetrics()
    publisher = publisher_from_settings(settings, "gpu", stdout=sys.stdout.buffer if options.stdout else None,
                                        registry=metrics.registry)  # spool depth and drops on /metrics too
    port = options.metrics_port if options.metrics_port is not None else cfg.metrics_port
    if port and not options.once:
        serve_prometheus(metrics.registry, port, options.metrics_host or cfg.metrics_host, service="collector",
                         flag="--metrics-port (collector.metrics_port)")
    collector = GpuCollector(backend, node, publisher.publish, prices, attributor, interval, cfg.process_every,
                             cfg.poll_subsamples, cfg.backoff_initial_s, cfg.backoff_max_s, metrics=metrics)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("collecting %s GPU samples on %s every %.1fs", backend.name, node, interval)
    try:
        collector.run(stop, once=options.once)
    except KeyboardInterrupt:
        pass
    finally:
        publisher.close(5.0)
        if collector.initialised:
            backend.shutdown()
    return 0
