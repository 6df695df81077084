"""``make fuzz``: a million mutated lines through the real ``spendwatch replay``.

    .venv/bin/python -m bench.fuzz [--mutants 1000000] [--gpus 32] [--hours 24] [--seed 14] [--keep DIR]

A simulated fleet (every problem injected) is written with ``spendwatch simulate``; ``--mutants``
hostile variants of its lines (``tests/fuzz/mutate.py``: types swapped, huge and deep values,
NaN/Infinity, 1e308, NUL and control characters, invalid UTF-8, duplicated keys, dates far ahead
and behind, truncation ...) are inserted after the lines they were made from. Then:

1. ``spendwatch replay`` runs over that file, every bad line reported (``--max-bad-report``):
   it must exit 0 with no traceback: a crash is any other ending;
2. the lines it did not report make a clean file, and ``spendwatch replay`` runs over that: its
   output must be byte-identical to the first run's (bad input changed nothing);
3. printed: lines, mutants, bad lines by reason, crashes, wall and CPU time, peak RSS of each
   replay process. Exit 1 when a check fails.

The smaller ``tests/fuzz`` suite runs the same checks in-process in ``make test``.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzz.mutate import mutate

_BAD_LINE = re.compile(rb"^.*?:(\d+): bad input: ", re.MULTILINE)


def _run(cmd: list[str], stderr_path: Path) -> tuple[int, float, float, float]:
    """Run ``cmd`` (stdout to DEVNULL, stderr to a file); (exit status, wall s, CPU s, peak RSS MiB)."""
    t0 = time.perf_counter()
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
    return (os.waitstatus_to_exitcode(status), time.perf_counter() - t0, usage.ru_utime + usage.ru_stime,
            usage.ru_maxrss / 1024)


def _write_fuzz(base: Path, out: Path, mutants: int, seed: int, huge: float) -> tuple[int, int]:
    """The base lines with ``mutants`` mutated lines after the lines they came from; (lines, bytes)."""
    with open(base, "rb") as f:
        lines = f.read().splitlines()
    r = random.Random(seed)
    after = sorted(r.randrange(len(lines)) for _ in range(mutants))
    n = 0
    with open(out, "wb") as f:
        j = 0
        for i, line in enumerate(lines):
            f.write(line + b"\n")
            n += 1
            while j < len(after) and after[j] == i:
                f.write(mutate(line, r, huge) + b"\n")
                n += 1
                j += 1
    return n, out.stat().st_size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=int, default=1_000_000)
    ap.add_argument("--gpus", type=int, default=32)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--huge", type=float, default=0.0002, help="share of values of 0.6-2 MB (default: 0.0002)")
    ap.add_argument("--keep", metavar="DIR", help="keep the files here")
    args = ap.parse_args(argv)
    cli = [sys.executable, "-m", "spendwatch.cli"]
    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        d = Path(args.keep) if args.keep else Path(tmp)
        d.mkdir(parents=True, exist_ok=True)
        base, fuzz, clean = d / "base.jsonl", d / "fuzz.jsonl", d / "clean.jsonl"
        t0 = time.perf_counter()
        subprocess.run([*cli, "simulate", "--gpus", str(args.gpus), "--hours", str(args.hours), "--seed",
                        str(args.seed), "--out", str(base)], check=True, capture_output=True)
        n, size = _write_fuzz(base, fuzz, args.mutants, args.seed, args.huge)
        print(f"fuzz file: {n:,} lines ({args.mutants:,} mutants), {size / 1e6:,.0f} MB, "
              f"written in {time.perf_counter() - t0:.0f}s")
        out_f, out_c = d / "fuzz.out", d / "clean.out"
        rc, wall, cpu, rss = _run([*cli, "replay", str(fuzz), "--out", str(out_f), "--progress", "never",
                                   "--max-bad-report", str(n)], d / "fuzz.err")
        err = (d / "fuzz.err").read_bytes()
        crashed = rc != 0 or b"Traceback" in err
        bad = {int(m) for m in _BAD_LINE.findall(err)}
        summary = err.strip().rsplit(b"\n", 1)[-1].decode(errors="replace")
        print(f"replay over the fuzz file: exit {rc}, {wall:.0f}s wall, {cpu:.0f}s CPU "
              f"({n / cpu:,.0f} lines per CPU-second), peak RSS {rss:,.0f} MiB")
        print(f"  {summary}")
        if crashed:
            print(f"CRASH: exit {rc}\n{err[-3000:].decode(errors='replace')}", file=sys.stderr)
            return 1
        with open(fuzz, "rb") as src, open(clean, "wb") as dst:
            for i, line in enumerate(src, 1):
                if i not in bad:
                    dst.write(line)
        rc2, wall2, cpu2, rss2 = _run([*cli, "replay", str(clean), "--out", str(out_c), "--progress", "never"],
                                      d / "clean.err")
        same = out_f.read_bytes() == out_c.read_bytes()
        anomalies = out_f.read_bytes().count(b"\n")
        print(f"replay over the {n - len(bad):,} lines it took: exit {rc2}, {wall2:.0f}s wall, peak RSS "
              f"{rss2:,.0f} MiB; output {'identical' if same else 'DIFFERENT'} ({anomalies} anomaly events)")
        print(f"crashes: {0 if rc2 == 0 else 1}; bad lines: {len(bad):,} of {n:,}")
        return 0 if same and rc2 == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
