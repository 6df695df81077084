"""`spendwatch collect gpu|billing ...`: the collectors.

The drivers are :func:`collectors.nvml.run.run_gpu_collector` (``collect gpu``: NVML samples,
published until stopped) and :func:`collectors.billing.run.run_billing_collector` (``collect
billing``: the ``billing_delta`` events due from cost exports; running it twice over the same
files publishes nothing new).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spendwatch.config import load_settings


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


def run_gpu(args: argparse.Namespace) -> int:
    from collectors.nvml.run import GpuRunOptions, run_gpu_collector

    options = GpuRunOptions(backend=args.backend, gpus=args.gpus, behaviour=args.behaviour, interval_s=args.interval,
                            once=args.once, stdout=args.stdout, metrics_port=args.metrics_port, node=args.node)
    return run_gpu_collector(load_settings(args.config), options)


def run_billing(args: argparse.Namespace) -> int:
    from collectors.billing.run import BillingRunOptions, run_billing_collector

    options = BillingRunOptions(kind=args.billing_kind, files=list(args.files),
                                usage=list(getattr(args, "usage", []) or []), state=args.state, stdout=args.stdout,
                                timeout_s=args.timeout, cost_column=getattr(args, "cost_column", None))
    result = run_billing_collector(load_settings(args.config), options)
    stats = result.stats
    skipped = ", ".join(f"{k}: {v}" for k, v in sorted(stats.skipped.items())) or "none"
    print(f"billing {args.billing_kind}: {result.events} billing_delta events ({stats.restated_up} restated up, "
          f"{stats.restated_down} restated down and not published, {stats.unchanged} unchanged); "
          f"skipped rows/files: {skipped}", file=sys.stderr)
    if not result.delivered:
        print("billing: the broker did not acknowledge everything in time; the rest is spooled and goes out "
              "on the next run", file=sys.stderr)
        return 1
    return 0
