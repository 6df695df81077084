"""Command line: ``python -m collectors.simulate.realistic gen|score|run``.

  gen OUT_DIR --seed N [--days D] [--gpus G] [--scale S] [--disorder]   # OUT_DIR/events.jsonl + truth.json
  score OUT_DIR ANOMALIES.jsonl [--json]                                # per-family table
  run --seeds 1-10 --cmd '.venv/bin/spendwatch replay' [--json] [--keep DIR] [gen options]
"""

from __future__ import annotations

import argparse
import json
import sys

from collectors.simulate.realistic.fleet import CORE_GPUS
from collectors.simulate.realistic.runner import parse_seeds, render_summary, run
from collectors.simulate.realistic.score import render, score_dir
from collectors.simulate.realistic.stream import generate, write


def _gen_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=float, default=3.0, help="days of GPU telemetry (at least 2; default 3)")
    p.add_argument("--gpus", type=int, default=CORE_GPUS,
                   help=f"physical GPUs in the fleet (at least {CORE_GPUS}, the nodes that carry every phenomenon)")
    p.add_argument("--scale", type=float, default=1.0,
                   help="volume knob: billing workloads and observation values scale with it; below 1 the GPU "
                        "sampling is also coarsened (for fast tests)")
    p.add_argument("--disorder", action="store_true",
                   help="billing rows leave in batches every few hours, out of ts order "
                        "(a collector that does not sort)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m collectors.simulate.realistic",
                                 description="Realistic fleet and billing streams with truth, and their scorer.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen", help="write OUT_DIR/events.jsonl and OUT_DIR/truth.json")
    g.add_argument("out_dir")
    g.add_argument("--seed", type=int, default=1)
    _gen_options(g)
    s = sub.add_parser("score", help="score an anomaly file against OUT_DIR/truth.json")
    s.add_argument("out_dir")
    s.add_argument("anomalies")
    s.add_argument("--json", action="store_true")
    r = sub.add_parser("run", help="gen + CMD EVENTS --out ANOMALIES + score per seed, then a summary")
    r.add_argument("--seeds", default="1-10")
    r.add_argument("--cmd", default="spendwatch replay")
    r.add_argument("--json", action="store_true")
    r.add_argument("--keep", metavar="DIR", help="write the seeds' files under DIR (default: a new temp dir)")
    _gen_options(r)
    a = ap.parse_args(argv)
    try:
        if a.cmd == "gen":
            gen = generate(a.seed, a.days, a.gpus, a.scale, a.disorder)
            ev, tr = write(a.out_dir, gen)
            t = gen.truth
            print(f"{ev}: {len(gen.lines)} lines ({t['bad_lines']} bad); {tr}: {len(t['truth'])} truths, "
                  f"{len(t['benign'])} benign entries, {t['gpu_hours']:.0f} GPU-hours, "
                  f"{t['billing_workload_weeks']:.1f} billing workload-weeks")
            return 0
        if a.cmd == "score":
            res = score_dir(a.out_dir, a.anomalies)
            print(json.dumps(res, indent=1) if a.json else render(res))
            return 0
        results, summary, work = run(parse_seeds(a.seeds), a.cmd, a.days, a.gpus, a.scale, a.disorder, a.keep)
        if a.json:
            print(json.dumps({"results": results, "summary": summary, "dir": work}, indent=1))
        else:
            print(f"files in {work}")
            print(render_summary(results, summary))
        return 1 if summary["failed_seeds"] else 0
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
