"""Key scaling: throughput, RSS and bytes of state per key against the number of GPUs or workloads.

    .venv/bin/python -m bench.bench_keys [--family gpu,billing] [--keys 1000,10000,100000]
                                         [--events 1000000] [--tree [LABEL=]PATH ...]

For each family, key count and tree, one child process (:mod:`bench.keys_child`, run with that tree's
interpreter) feeds the same total number of events spread over that many keys to the tree's default
Engine: 1k GPUs get 1 000 samples each, 1M GPUs one each. Reported: events per CPU-second in
``Engine.process`` (building and validating the events is not counted), the RSS the Engine added per
key (``/proc/self/statm`` after the stream less before the Engine), the Engine snapshot per key and
the median pickled detector instance. Add ``--keys 1000000`` where memory allows (peak 3.4 GiB per
million GPUs at 8071142, 4.9 GiB after the quality rework; see docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.trees import parse_tree, run, this_tree


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_keys", description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", default="gpu,billing", help="gpu, billing or both (default)")
    ap.add_argument("--keys", default="1000,10000,100000", help="comma-separated key counts")
    ap.add_argument("--events", type=int, default=1_000_000, help="total events per run (1000000)")
    ap.add_argument("--tree", action="append", default=[], metavar="[LABEL=]PATH",
                    help="a spendwatch checkout to run (repeatable; default: this one)")
    args = ap.parse_args(argv)
    trees = [parse_tree(t) for t in args.tree] or [this_tree()]
    child = Path(__file__).with_name("keys_child.py")
    print("trees: " + "; ".join(f"{t.label} = {t.path} ({t.commit()})" for t in trees))
    for family in [f for f in args.family.split(",") if f]:
        if family not in ("gpu", "billing"):
            ap.error(f"unknown family {family}")
        what = "GPUs" if family == "gpu" else "billing workloads"
        print(f"\n{what}, {args.events:,} events in all")
        print("| keys | tree | events / CPU-s | us / event | RSS per key (B) | snapshot per key (B) | "
              "pickled instance (B, median) | peak RSS MiB |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|")
        for keys in [int(k) for k in args.keys.split(",") if k]:
            for tree in trees:
                rc, _wall, _cpu, peak, out, err = run([tree.python, str(child), family, str(keys), str(args.events)],
                                                      tree)
                if rc != 0:
                    print(f"{tree.label} {family} {keys}: failed (rc={rc}): {err[-1500:]}", file=sys.stderr)
                    return 1
                r = json.loads(out.strip().splitlines()[-1])
                rate = r["events"] / r["cpu_s"]
                per_key = (r["rss_after"] - r["rss_before"]) / r["keys"]
                print(f"| {keys:,} | {tree.label} | {rate:,.0f} | {1e6 / rate:.1f} | {per_key:,.0f} | "
                      f"{r['snapshot_bytes'] / r['keys']:,.0f} | {r['instance_pickle_median']:,.0f} | {peak:,.0f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
