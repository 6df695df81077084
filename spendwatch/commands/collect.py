"""`spendwatch collect gpu|billing ...`: the collectors.

``collect gpu`` samples NVML every ``--interval`` seconds and publishes ``gpu_sample`` events
(``--stdout`` prints them instead). ``--backend auto`` uses NVML and fails with a clear message
when NVML does not initialise; the simulated backend is used only when asked for
(``--backend simulated``), never silently. NVML failures while running are survived and retried;
the process exits non-zero only on bad configuration.

``collect billing focus|openai|litellm FILE...`` publishes the ``billing_delta`` events due from
cost exports; running it twice over the same files publishes nothing new (collectors/billing).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from spendwatch.config import Settings, load_settings
from spendwatch.errors import ConfigError

log = logging.getLogger("spendwatch.collect")


@dataclass(frozen=True)
class GpuCollectorConfig:
    """``collector`` section."""

    node: str = ""  # default: $NODE_NAME (the DaemonSet sets it from spec.nodeName), else the hostname
    interval_s: float = 10.0
    process_every: int = 6
    poll_subsamples: int = 4
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 300.0
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9403
    attribution: str = "auto"  # auto (kube when the pod-resources socket exists, else static), kube, static, none
    simulated_gpus: list[dict[str, Any]] = field(default_factory=list)


def register(sub: Any) -> None:
    p = sub.add_parser("collect", help="run a collector (gpu, billing)",
                       description="Collectors that publish input events to Kafka.")
    s = p.add_subparsers(dest="collector", metavar="COLLECTOR", required=True)
    g = s.add_parser("gpu", help="sample NVML and publish gpu_sample events")
    g.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    g.add_argument("--backend", choices=("auto", "nvml", "simulated"), default="auto",
                   help="auto: NVML, or an error when it does not initialise; nvml: NVML, retrying while the "
                        "driver is not there; simulated: fake GPUs (no GPU needed)")
    g.add_argument("--gpus", type=int, default=None, help="simulated backend: number of GPUs (default 2)")
    g.add_argument("--behaviour", default="wave", help="simulated backend: idle, busy, wave, spiky, constant:<pct>")
    g.add_argument("--interval", type=float, help="seconds per sample (default 10)")
    g.add_argument("--once", action="store_true", help="one sample per device, then exit")
    g.add_argument("--stdout", action="store_true", help="print events as JSON lines instead of publishing")
    g.add_argument("--metrics-port", type=int, help="/metrics port on 127.0.0.1 (0 = off; default 9403)")
    g.add_argument("--node", help="node name (default $NODE_NAME or the hostname)")
    g.set_defaults(func=run_gpu)
    b = s.add_parser("billing", help="publish billing_delta events from cost exports")
    bs = b.add_subparsers(dest="billing_kind", metavar="KIND", required=True)
    for kind, help_ in (("focus", "FOCUS cost and usage exports (CSV, CSV.gz, Parquet) from AWS, GCP, Azure"),
                        ("openai", "OpenAI organization costs API exports (JSON)"),
                        ("litellm", "LiteLLM spend logs (JSON or CSV)")):
        q = bs.add_parser(kind, help=help_)
        q.add_argument("files", nargs="+", metavar="FILE")
        q.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
        q.add_argument("--state", metavar="FILE", help="ledger file (default billing.state_path)")
        q.add_argument("--stdout", action="store_true", help="print events as JSON lines instead of publishing")
        q.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the broker (default 60)")
        if kind == "focus":
            q.add_argument("--cost-column", choices=("BilledCost", "EffectiveCost"), help="default EffectiveCost")
        if kind == "openai":
            q.add_argument("--usage", nargs="*", default=[], metavar="FILE",
                           help="OpenAI usage API (completions) exports, for token counts")
        q.set_defaults(func=run_billing)


def _publisher(settings: Settings, stdout: bool, name: str, registry: Any = None) -> Any:
    from collectors.publisher import Publisher, PublisherConfig, StdoutTransport
    from spendwatch.kafka import kafka_config

    kcfg = kafka_config(settings)
    pcfg = settings.build(PublisherConfig, "publisher")
    if stdout:
        import tempfile

        pcfg = PublisherConfig(spool_dir=tempfile.mkdtemp(prefix="spendwatch-stdout-"))
        return Publisher.create(kcfg, pcfg, transport=StdoutTransport(), registry=registry, name=name)
    if os.environ.get("SPENDWATCH_SPOOL_DIR"):
        pcfg = PublisherConfig(**{**pcfg.__dict__, "spool_dir": os.environ["SPENDWATCH_SPOOL_DIR"]})
    try:
        return Publisher.create(kcfg, pcfg, registry=registry, name=name)
    except OSError as exc:
        raise ConfigError(f"publisher.spool_dir: cannot use {pcfg.spool_dir}: {exc.strerror} "
                          f"(set SPENDWATCH_SPOOL_DIR or publisher.spool_dir)") from None


def _backend(args: argparse.Namespace, cfg: GpuCollectorConfig) -> Any:
    from collectors.nvml.device import NvmlError

    if args.backend == "simulated":
        from collectors.nvml.simulated import SimGpu, SimMig, SimulatedBackend

        if cfg.simulated_gpus and args.gpus is None:
            try:
                gpus = [SimGpu(**{**g, "migs": [SimMig(**m) for m in g.get("migs", [])]}) for g in cfg.simulated_gpus]
            except TypeError as exc:
                raise ConfigError(f"collector.simulated_gpus: {exc}") from None
        else:
            gpus = [SimGpu(behaviour=args.behaviour) for _ in range(args.gpus or 2)]
        try:
            return SimulatedBackend(gpus)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    from collectors.nvml.pynvml_backend import PynvmlBackend

    backend = PynvmlBackend()
    if args.backend == "auto":
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


def run_gpu(args: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from collectors.nvml.collector import CollectorMetrics, GpuCollector
    from spendwatch.prices import PriceConfig, PriceTable

    settings = load_settings(args.config)
    cfg = settings.build(GpuCollectorConfig, "collector")
    interval = args.interval if args.interval is not None else cfg.interval_s
    if interval <= 0:
        raise ConfigError(f"--interval / collector.interval_s must be > 0, got {interval}")
    node = args.node or cfg.node or os.environ.get("NODE_NAME") or socket.gethostname()
    prices = PriceTable(settings.build(PriceConfig, "prices"))
    backend = _backend(args, cfg)
    attributor = _attributor(settings, cfg)
    metrics = CollectorMetrics()
    publisher = _publisher(settings, args.stdout, "gpu", metrics.registry)  # spool depth on /metrics too
    port = args.metrics_port if args.metrics_port is not None else cfg.metrics_port
    if port and not args.once:
        start_http_server(port, addr=cfg.metrics_host, registry=metrics.registry)
        log.info("metrics on http://%s:%d/metrics", cfg.metrics_host, port)
    collector = GpuCollector(backend, node, publisher.publish, prices, attributor, interval, cfg.process_every,
                             cfg.poll_subsamples, cfg.backoff_initial_s, cfg.backoff_max_s, metrics=metrics)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    log.info("collecting %s GPU samples on %s every %.1fs", backend.name, node, interval)
    try:
        collector.run(stop, once=args.once)
    except KeyboardInterrupt:
        pass
    finally:
        publisher.close(5.0)
        if collector.initialised:
            backend.shutdown()
    return 0


def run_billing(args: argparse.Namespace) -> int:
    from collectors.billing.focus import BillingConfig, collect_focus
    from collectors.billing.ledger import Ledger, LedgerStats
    from collectors.billing.llm_usage import LlmUsageConfig, collect_litellm, collect_openai

    settings = load_settings(args.config)
    bcfg = settings.build(BillingConfig, "billing")
    if getattr(args, "cost_column", None):
        bcfg = BillingConfig(**{**bcfg.__dict__, "cost_column": args.cost_column})
    bcfg.check()
    for f in args.files + list(getattr(args, "usage", []) or []):
        if not os.path.isfile(f):
            raise ConfigError(f"{f}: no such file")
    state = args.state or os.environ.get("SPENDWATCH_BILLING_STATE") or bcfg.state_path
    try:
        ledger = Ledger(state)
    except OSError as exc:
        raise ConfigError(f"billing.state_path: cannot use {state}: {exc}") from None
    stats = LedgerStats()
    if args.billing_kind == "focus":
        events = collect_focus(args.files, ledger, bcfg, stats)
    elif args.billing_kind == "openai":
        events = collect_openai(args.files, ledger, settings.build(LlmUsageConfig, "llm_usage"), args.usage, stats)
    else:
        events = collect_litellm(args.files, ledger, settings.build(LlmUsageConfig, "llm_usage"), stats)
    publisher = _publisher(settings, args.stdout, "billing")
    try:
        publisher.publish_many(events)  # spooled on disk: from here on nothing is lost
        ledger.commit()
        delivered = publisher.flush(args.timeout)
    finally:
        publisher.close(1.0)
        ledger.close()
    skipped = ", ".join(f"{k}: {v}" for k, v in sorted(stats.skipped.items())) or "none"
    print(f"billing {args.billing_kind}: {len(events)} billing_delta events ({stats.restated_up} restated up, "
          f"{stats.restated_down} restated down and not published, {stats.unchanged} unchanged); "
          f"skipped rows/files: {skipped}", file=sys.stderr)
    if not delivered:
        print("billing: the broker did not acknowledge everything in time; the rest is spooled and goes out "
              "on the next run", file=sys.stderr)
        return 1
    return 0
