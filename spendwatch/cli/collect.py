"""`spendwatch collect gpu|dcgm|billing ...`: the collectors.

The drivers are :func:`collectors.nvml.run.run_gpu_collector` (``collect gpu``: NVML samples,
published until stopped), :func:`collectors.dcgm.run.run_dcgm` (``collect dcgm``: a node's
dcgm-exporter scraped into the same ``gpu_sample`` events) and
:func:`collectors.billing.run.run_billing` (``collect billing``: the ``billing_delta`` events due
from cost exports, exactly once by content, with a reconciliation every run).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spendwatch.cli.flags import add_kafka, apply_kafka
from spendwatch.cli.output import port, positive_float, positive_int
from spendwatch.cli.settings import load as load_settings


def register(sub: Any) -> None:
    p = sub.add_parser("collect", help="run a collector (gpu, dcgm, billing)",
                       description="Collectors that publish input events to Kafka.")
    s = p.add_subparsers(dest="collector", metavar="COLLECTOR", required=True)
    g = s.add_parser("gpu", help="sample NVML and publish gpu_sample events")
    g.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    g.add_argument("--backend", choices=("auto", "nvml", "simulated"), default="auto",
                   help="auto: NVML, or an error when it does not initialise; nvml: NVML, retrying while the "
                        "driver is not there; simulated: fake GPUs (no GPU needed)")
    g.add_argument("--gpus", type=positive_int, default=None, help="simulated backend: number of GPUs (default 2)")
    g.add_argument("--behaviour", default="wave", help="simulated backend: idle, busy, wave, spiky, constant:<pct>")
    g.add_argument("--interval", type=positive_float, metavar="SECONDS", help="seconds per sample (default 10)")
    g.add_argument("--once", action="store_true", help="one sample per device, then exit")
    g.add_argument("--stdout", action="store_true", help="print events as JSON lines instead of publishing")
    g.add_argument("--metrics-port", type=port, metavar="PORT",
                   help="/metrics port (0 = off; default 9403; when taken, a free one, logged)")
    g.add_argument("--metrics-host", metavar="ADDR",
                   help="address /metrics binds (default collector.metrics_host, 127.0.0.1; 0.0.0.0 for a scrape "
                        "from outside the pod)")
    g.add_argument("--node", help="node name (default $NODE_NAME or the hostname)")
    add_kafka(g)
    g.set_defaults(func=run_gpu)
    d = s.add_parser("dcgm", help="scrape NVIDIA dcgm-exporter and publish gpu_sample events",
                     description="Scrape a dcgm-exporter /metrics endpoint (GPU Operator) every --interval and "
                                 "publish gpu_sample events with the pod's namespace/controller as workload.")
    d.add_argument("--url", help="dcgm-exporter metrics URL, e.g. http://HOST:9400/metrics (default dcgm.url)")
    d.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    d.add_argument("--interval", type=positive_float, metavar="SECONDS",
                   help="seconds between scrapes (default dcgm.interval_s, 30)")
    d.add_argument("--once", action="store_true", help="one scrape, then exit (3 when it fails)")
    d.add_argument("--stdout", action="store_true", help="print events as JSON lines instead of publishing")
    d.add_argument("--node", help="node name (default: the Hostname label, $NODE_NAME, the URL's host)")
    d.add_argument("--metrics-port", type=port, metavar="PORT",
                   help="own /metrics port (0 = off; default 9403; taken: a free one, logged)")
    d.add_argument("--metrics-host", metavar="ADDR",
                   help="address /metrics binds (default dcgm.metrics_host, 127.0.0.1)")
    add_kafka(d)
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
        q.add_argument("--timeout", type=positive_float, default=60.0, metavar="SECONDS",
                       help="seconds to wait for the broker (default 60)")
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
        add_kafka(q)
        q.set_defaults(func=run_billing)


def run_gpu(args: argparse.Namespace) -> int:
    apply_kafka(args)
    from collectors.nvml.run import GpuRunOptions, run_gpu_collector

    options = GpuRunOptions(backend=args.backend, gpus=args.gpus, behaviour=args.behaviour, interval_s=args.interval,
                            once=args.once, stdout=args.stdout, metrics_port=args.metrics_port, node=args.node,
                            metrics_host=args.metrics_host)
    return run_gpu_collector(load_settings(args.config), options)


def run_billing(args: argparse.Namespace) -> int:
    apply_kafka(args)
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
    apply_kafka(args)
    from collectors.dcgm.run import DcgmRequest
    from collectors.dcgm.run import run_dcgm as drive

    req = DcgmRequest(args.url, args.interval, args.once, args.stdout, args.node, args.metrics_port, args.metrics_host)
    result = drive(load_settings(args.config), req, stdout=sys.stdout.buffer if args.stdout else None)
    print(result.text(), file=sys.stderr)
    return result.exit_code
