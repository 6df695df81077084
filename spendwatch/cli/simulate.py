"""`spendwatch simulate [--hours 24] [--gpus N] [--seed S] [--inject ...] [--out FILE] [--truth FILE]`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO, Any

import orjson

from collectors.simulate import DEFAULT_START, INJECTIONS, SimConfig, parse_inject, simulate
from spendwatch.cli.output import (
    fraction,
    non_negative_float,
    plural,
    positive_float,
    positive_int,
    print_json,
    time_arg,
)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="generate a realistic event stream of a GPU fleet, with injected problems",
        description="Write a contract event stream (GPU samples, hourly billing, training runs, model "
                    "observations), sorted by ts, for a simulated fleet: nodes of 8 GPUs (some split by MIG) "
                    "running training with checkpoint pauses, diurnal inference, notebooks and batch queues. "
                    "Problems of each kind can be injected; --truth writes what was injected. The same "
                    "arguments always give the same bytes. Try settings with: "
                    "spendwatch simulate --out ev.jsonl && spendwatch replay ev.jsonl --config my.yaml",
    )
    p.add_argument("--hours", type=positive_float, default=24.0, help="telemetry window in hours (default: 24)")
    p.add_argument("--gpus", type=positive_int, default=32, help="physical GPUs, 8 per node (default: 32)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    p.add_argument("--inject", default="all", metavar="KINDS",
                   help=f"problems to inject: comma-separated from {','.join(INJECTIONS)}, or all, or none "
                        f"(default: all)")
    p.add_argument("--start", type=time_arg, default=DEFAULT_START, metavar="TIME",
                   help=f"start of the telemetry window, epoch s or ISO 8601 (default: {DEFAULT_START:.0f}, "
                        f"2026-03-24T00:00Z); 'now' is not offered so output stays reproducible")
    p.add_argument("--interval", type=positive_float, default=15.0, metavar="SECONDS",
                   help="GPU sample interval (default: 15)")
    p.add_argument("--billing-days", type=non_negative_float, default=14.0, metavar="DAYS",
                   help="days of hourly billing before the telemetry window, for cost baselines (default: 14)")
    p.add_argument("--bad-fraction", type=fraction, default=0.0, metavar="F",
                   help="share of GPU sample lines replaced by malformed input (default: 0)")
    p.add_argument("--out", metavar="FILE", help="write events here (default: stdout)")
    p.add_argument("--truth", metavar="FILE", help="write the injected problems here as JSON")
    p.add_argument("--json", action="store_true",
                   help="the closing summary as one JSON object on stderr (the events are JSON lines either way)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = SimConfig(hours=args.hours, gpus=args.gpus, seed=args.seed, inject=parse_inject(args.inject),
                        start=args.start, interval_s=args.interval, billing_days=args.billing_days,
                        bad_fraction=args.bad_fraction)
    except ValueError as exc:
        print(f"spendwatch simulate: {exc}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    sim = simulate(cfg)
    try:
        out: IO[bytes] = open(args.out, "wb") if args.out else sys.stdout.buffer  # noqa: SIM115
    except OSError as exc:
        print(f"spendwatch simulate: cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    try:
        size = sim.write(out)  # a reader that left (`| head`) raises BrokenPipeError: spendwatch.cli.main ends quietly
    finally:
        if args.out:
            out.close()
        else:
            out.flush()
    if args.truth:
        with open(args.truth, "wb") as f:
            f.write(orjson.dumps(sim.truth_document(), option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    elapsed = time.perf_counter() - t0
    if args.json:
        print_json({"lines": sim.total_lines, "counts": dict(sim.counts), "bad_lines": sim.bad_lines,
                    "streams": sim.streams, "injected": len(sim.truth), "bytes": size, "start_ts": cfg.start,
                    "end_ts": cfg.start + cfg.hours * 3600.0, "elapsed_s": round(elapsed, 3)}, sys.stderr)
        return 0
    counts = ", ".join(f"{k} {v:,}" for k, v in sim.counts.items())
    print(f"simulate: {plural(sim.total_lines, 'line')} ({counts}; {sim.bad_lines:,} bad) from {sim.streams} GPU/MIG "
          f"streams, {plural(len(sim.truth), 'injected problem')}, {size / 1e6:.1f} MB in {elapsed:.1f}s",
          file=sys.stderr)
    return 0
