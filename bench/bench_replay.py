"""Replay throughput: the real ``spendwatch replay`` over a simulated stream of 500k+ events.

    .venv/bin/python -m bench.bench_replay [--gpus 96] [--hours 24] [--seed 1] [--profile] [--keep FILE]

Generates a stream with ``spendwatch simulate`` (every problem injected, 14 days of billing
history; 96 GPUs for a day is ~640k events), then runs ``spendwatch replay FILE --out FILE`` in a
subprocess exactly as a user would, and reports events/s (wall clock, interpreter start
included, and the command's own figure from its stderr summary) and the child's peak RSS
(``ru_maxrss`` of that child, from ``os.wait4``). One core: replay is single-threaded.

``--profile`` instead runs the same pipeline in-process under cProfile and prints where the
time goes (top functions by own time and by cumulative time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_EVENTS_PER_S = 100_000


def _generate(path: Path, gpus: int, hours: float, seed: int) -> tuple[int, float]:
    """Write the stream with ``spendwatch simulate`` in its own process: the parent stays small, so
    the replay child (forked from it) starts small and its peak RSS is its own."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "spendwatch.cli", "simulate", "--gpus", str(gpus), "--hours", str(hours),
           "--seed", str(seed), "--out", str(path)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"simulate failed: {p.stderr[-1000:]}")
    with open(path, "rb") as f:
        lines = sum(1 for _ in f)
    return lines, time.perf_counter() - t0


def _run_child(cmd: list[str]) -> tuple[int, float, float, float, str]:
    """Run ``cmd``; return (exit status, wall s, CPU s, peak RSS MiB of that child, stderr)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    err = proc.stderr.read()  # the summary is one short line: no risk of a full pipe
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, wall, cpu, usage.ru_maxrss / 1024, err  # ru_maxrss is KiB on Linux


def _profile(path: Path, top: int) -> None:
    from detectors.engine import Engine
    from spendwatch.events import encode
    from streams.replay import ReplayStats, replay_lines

    def work() -> None:
        stats = ReplayStats()
        with open(path, "rb") as src, open(os.devnull, "wb") as out:
            for a in replay_lines(src, Engine(), stats):
                out.write(encode(a))
                out.write(b"\n")

    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(work)
    print(f"profiled replay: {time.perf_counter() - t0:.1f}s under cProfile (slower than without)")
    for order in ("tottime", "cumulative"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).strip_dirs().sort_stats(order).print_stats(top)
        text = buf.getvalue()
        print(f"--- top {top} by {order} ---")
        print(text[text.find("   ncalls"):].rstrip())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_replay", description=__doc__.split("\n\n")[0])
    ap.add_argument("--gpus", type=int, default=96)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--profile", action="store_true", help="profile in-process instead of timing the CLI")
    ap.add_argument("--top", type=int, default=25, help="functions to show with --profile (default: 25)")
    ap.add_argument("--keep", metavar="FILE", help="write the generated stream here and keep it")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        path = Path(args.keep) if args.keep else Path(tmp) / "events.jsonl"
        lines, gen_s = _generate(path, args.gpus, args.hours, args.seed)
        size_mb = path.stat().st_size / 1e6
        print(f"stream: {lines:,} lines, {size_mb:.0f} MB ({args.gpus} GPUs, {args.hours:g} h, seed {args.seed}); "
              f"simulated and written in {gen_s:.1f}s ({lines / gen_s:,.0f} lines/s)")
        if args.profile:
            _profile(path, args.top)
            return 0
        out = Path(tmp) / "anomalies.jsonl"
        cmd = [sys.executable, "-m", "spendwatch.cli", "replay", str(path), "--out", str(out), "--progress", "never"]
        rc, wall, cpu, rss_mb, err = _run_child(cmd)
        if rc != 0:
            print(f"replay failed (rc={rc}): {err[-2000:]}", file=sys.stderr)
            return 1
        own = re.search(r"\(([\d,]+) lines/s\)", err)
        with open(out, "rb") as f:
            anomalies = sum(1 for _ in f)
        rate = lines / wall
        print(f"spendwatch replay: {wall:.2f}s wall for {lines:,} lines = {rate:,.0f} events/s "
              f"(process start included); the command's own figure: {own.group(1) if own else '?'} lines/s")
        print(f"CPU time {cpu:.2f}s = {lines / cpu:,.0f} events per CPU-second (steadier than wall time on a "
              f"shared machine)")
        print(f"peak RSS of the replay process: {rss_mb:,.0f} MiB; {anomalies} anomaly events written")
        verdict = "meets" if rate >= GOAL_EVENTS_PER_S else "is below"
        print(f"goal {GOAL_EVENTS_PER_S:,} events/s on one core: {verdict} it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
