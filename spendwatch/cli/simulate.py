"""`spendwatch simulate [--hours 24] [--gpus N] [--seed S] [--inject ...] [--out FILE] [--truth FILE]`."""

from __future__ import annotations

import argparse
import sys
import time
from typing import IO, Any

import orjson

from collectors.simulate import DEFAULT_START, INJECTIONS, SimConfig, parse_inject, simulate


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
    p.add_argument("--hours", type=float, default=24.0, help="telemetry window in hours (default: 24)")
    p.add_argument("--gpus", type=int, default=32, help="physical GPUs, 8 per node (default: 32)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    p.add_argument("--inject", default="all", metavar="KINDS",
                   help=f"problems to inject: comma-separated from {','.join(INJECTIONS)}, or all, or none "
                        f"(default: all)")
    p.add_argument("--start", type=float, default=DEFAULT_START, metavar="EPOCH",
                   help=f"start of the telemetry window, UTC epoch seconds (default: {DEFAULT_START:.0f}, "
                        f"2026-03-24T00:00Z); 'now' is not offered so output stays reproducible")
    p.add_argument("--interval", type=float, default=15.0, metavar="SECONDS",
                   help="GPU sample interval (default: 15)")
    p.add_argument("--billing-days", type=float, default=14.0, metavar="DAYS",
                   help="days of hourly billing before the telemetry window, for cost baselines (default: 14)")
    p.add_argument("--bad-fraction", type=float, default=0.0, metavar="F",
                   help="share of GPU sample lines replaced by malformed input (default: 0)")
    p.add_argument("--out", metavar="FILE", help="write events here (default: stdout)")
    p.add_argument("--truth", metavar="FILE", help="write the injected problems here as JSON")
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
        size = sim.write(out)
    except BrokenPipeError:  # `spendwatch simulate | head`: the reader left, not an error
        return 0
    finally:
        if args.out:
            out.close()
        else:
            out.flush()
    if args.truth:
        with open(args.truth, "wb") as f:
            f.write(orjson.dumps(sim.truth_document(), option=orjson.OPT_INDENT_2))
    counts = ", ".join(f"{k} {v:,}" for k, v in sim.counts.items())
    print(f"simulate: {sim.total_lines:,} lines ({counts}; {sim.bad_lines:,} bad) from {sim.streams} GPU/MIG "
          f"streams, {len(sim.truth)} injected problems, {size / 1e6:.1f} MB in {time.perf_counter() - t0:.1f}s",
          file=sys.stderr)
    return 0
