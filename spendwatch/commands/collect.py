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
    d = s.add_parser("dcgm", help="scrape NVIDIA dcgm-exporter and publish gpu_sample events",
                     description="Scrape a dcgm-exporter /metrics endpoint (GPU Operator) every --interval and "
                                 "publish gpu_sample events with the pod's namespace/controller as workload.")
    d.add_argument("--url", help="dcgm-exporter metrics URL, e.g. http://HOST:9400/metrics (default dcgm.url)")
    d.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    d.add_argument("--interval", type=float, help="seconds between scrapes (default dcgm.interval_s, 30)")
    d.add_argument("--once", action="store_true", help="one scrape, then exit (3 when it fails)")
    d.add_argument("--stdout", action="store_true", help="print events as JSON lines instead of publishing")
    d.add_argument("--node", help="node name (default: the Hostname label, $NODE_NAME, the URL's host)")
    d.add_argument("--metrics-port", type=int, help="own /metrics port on dcgm.metrics_host (0 = off, default)")
    d.set_defaults(func=run_dcgm)
    b = s.add_parser("billing", help="publish billing_delta events from cost exports")
    bs = b.add_subparsers(dest="billing_kind", metavar="KIND", required=True)
    for kind, help_ in (("focus", "FOCUS 1.0-1.2 cost and usage exports (CSV, CSV.gz, Parquet): AWS, GCP, Azure, OCI"),
                        ("openai", "OpenAI organization Costs API exports (JSON pages)"),
                        ("litellm", "LiteLLM spend logs (/spend/logs JSON or the SpendLogs table as CSV)"),
                        ("opencost", "OpenCost allocation API (/allocation/compute), by namespace and controller")):
        q = bs.add_parser(kind, help=help_, description=help_ + ". Prints a reconciliation (rows, dollars by "
                          "charge category, what was published and why anything was not) every run.")
        q.add_argument("files", nargs="*" if kind == "opencost" else "+", metavar="FILE")
        q.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
        q.add_argument("--state", metavar="FILE", help="ledger file (default billing.state_path, else "
                       "$SPENDWATCH_STATE_DIR/billing.sqlite or ~/.local/state/spendwatch/billing.sqlite)")
        q.add_argument("--stdout", action="store_true", help="write the events to stdout as JSON lines instead of "
                       "Kafka; they are recorded in the ledger as published (see --dry-run)")
        q.add_argument("--dry-run", action="store_true", help="compute what would be published; publish nothing "
                       "and leave the ledger untouched (with --stdout: print those events)")
        q.add_argument("--reattribute", action="store_true", help="rows whose workload changed (tags or mapping): "
                       "publish a reversal on the old workload and the amount on the new one")
        q.add_argument("--json", action="store_true", help="print the reconciliation as JSON on stdout "
                       "(with --stdout: on stderr)")
        q.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the broker (default 60)")
        if kind == "focus":
            q.add_argument("--cost-column", choices=("BilledCost", "EffectiveCost"),
                           help="default EffectiveCost (amortised; BilledCost = as invoiced)")
        if kind == "openai":
            q.add_argument("--usage", nargs="*", default=[], metavar="FILE",
                           help="OpenAI usage API (completions) exports, for token counts")
        if kind == "opencost":
            q.add_argument("--url", help="OpenCost API, e.g. http://opencost.opencost:9003 (or a full "
                           "/allocation/compute URL)")
            q.add_argument("--window", help="how far back, in whole steps (default opencost.window, 24h)")
        q.set_defaults(func=run_billing)


def _publisher(settings: Settings, stdout: bool, name: str) -> Any:
    from collectors.publisher import publisher_from_settings

    return publisher_from_settings(settings, name, stdout=sys.stdout.buffer if stdout else None)


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
    publisher = _publisher(settings, args.stdout, "gpu")
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
    from collectors.billing.run import BillingRequest
    from collectors.billing.run import run_billing as drive

    req = BillingRequest(args.billing_kind, list(args.files), list(getattr(args, "usage", []) or []),
                         getattr(args, "url", None), getattr(args, "window", None), args.state,
                         getattr(args, "cost_column", None), args.dry_run, args.stdout, args.reattribute,
                         args.timeout)
    result = drive(load_settings(args.config), req, stdout=sys.stdout.buffer if args.stdout else None)
    if args.json:
        print(result.json(), file=sys.stderr if args.stdout else sys.stdout)
    else:
        print(result.text(), file=sys.stderr)
    return result.exit_code


def run_dcgm(args: argparse.Namespace) -> int:
    from collectors.dcgm.run import DcgmRequest
    from collectors.dcgm.run import run_dcgm as drive

    req = DcgmRequest(args.url, args.interval, args.once, args.stdout, args.node, args.metrics_port)
    result = drive(load_settings(args.config), req, stdout=sys.stdout.buffer if args.stdout else None)
    print(result.text(), file=sys.stderr)
    return result.exit_code
