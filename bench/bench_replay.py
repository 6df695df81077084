"""Replay throughput: the real ``spendwatch replay`` over a simulated and an observation-heavy stream,
for one tree or several (before and after a change, in one run on one machine).

    .venv/bin/python -m bench.bench_replay [--streams sim,obs] [--tree [LABEL=]PATH ...] [--repeat 3]
                                           [--gpus 96] [--hours 24] [--models 24] [--seed 1] [--keep DIR]
                                           [--ablation] [--profile]

Streams (:mod:`bench.streams`, generated once by this tree, replayed by every tree):

- ``sim``: ``spendwatch simulate --gpus 96 --hours 24`` (~640k lines, 98 % GPU samples, every problem
  injected, 14 days of billing history);
- ``obs``: observation-heavy: 8 simulated GPUs merged with 24 more served models sending a batch a
  minute of 3 features x 50 values, retrained every 6 h (~110k lines, a third of them batches).

Each tree (``--tree``, repeatable; default: this one) runs ``python -m spendwatch.cli replay FILE --out
OUT`` in a child process, exactly as a user would, ``--repeat`` times, the trees taking turns. Reported
per stream and tree: events per CPU-second of that child (user + system, interpreter start included:
steadier than wall time on a shared machine; median, with the range), wall time, the child's peak RSS
(``ru_maxrss`` from ``os.wait4``), the anomaly events written and a digest of them (equal digests:
byte-identical output).

``--ablation`` instead measures where the time goes in each tree (:mod:`bench.ablation_child`: passes
that add decoding, validation, the replay loop and each detector in turn, and passes without one
detector) and prints the share of each part. ``--profile`` runs this tree's pipeline under cProfile.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.streams import write_observation_heavy, write_simulated
from bench.trees import Tree, parse_tree, run, this_tree

STREAMS = ("sim", "obs")


def _generate(name: str, path: Path, args: argparse.Namespace) -> int:
    if name == "sim":
        return write_simulated(path, args.gpus, args.hours, args.seed)
    return write_observation_heavy(path, args.seed, models=args.models, hours=args.hours)


def _describe(name: str, args: argparse.Namespace) -> str:
    if name == "sim":
        return f"simulated fleet ({args.gpus} GPUs, {args.hours:g} h, seed {args.seed})"
    return f"observation-heavy (8 GPUs + {args.models} models x 3 features x 50 values a minute, {args.hours:g} h)"


def _digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha1()
    n = 0
    with open(path, "rb") as f:
        for line in f:
            h.update(line)
            n += 1
    return n, h.hexdigest()[:10]


def _timing(streams: dict[str, tuple[Path, int]], trees: list[Tree], repeat: int, tmp: Path) -> int:
    for name, (path, lines) in streams.items():
        results: dict[str, list[tuple[float, float, float]]] = {t.label: [] for t in trees}
        digests: dict[str, set[tuple[int, str]]] = {t.label: set() for t in trees}
        for r in range(repeat):
            for tree in trees:
                out = tmp / f"anomalies-{tree.label}.jsonl"
                cmd = [tree.python, "-m", "spendwatch.cli", "replay", str(path), "--out", str(out),
                       "--progress", "never"]
                rc, wall, cpu, rss, _o, err = run(cmd, tree)
                if rc != 0:
                    print(f"{tree.label}: replay failed (rc={rc}): {err[-2000:]}", file=sys.stderr)
                    return 1
                results[tree.label].append((cpu, wall, rss))
                digests[tree.label].add(_digest(out))
                print(f"  [{name} run {r + 1}/{repeat}] {tree.label}: {cpu:.2f} CPU s, {wall:.2f} s wall",
                      file=sys.stderr, flush=True)
        print(f"\nstream {name}: {lines:,} lines")
        print(f"| tree | commit | events / CPU-s (median) | range | CPU s | wall s | peak RSS MiB | anomaly events | "
              f"output digest | vs {trees[0].label} |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
        base = None
        for tree in trees:
            rs = results[tree.label]
            cpu = statistics.median(c for c, _, _ in rs)
            rate = lines / cpu
            base = base or rate
            lo, hi = lines / max(c for c, _, _ in rs), lines / min(c for c, _, _ in rs)
            d = sorted(digests[tree.label])
            counts = ", ".join(str(n) for n, _ in d)
            dig = ", ".join(h for _, h in d) + ("" if len(d) == 1 else " (differs between runs!)")
            print(f"| {tree.label} | {tree.commit()} | {rate:,.0f} | {lo:,.0f}-{hi:,.0f} | {cpu:.2f} | "
                  f"{statistics.median(w for _, w, _ in rs):.2f} | {statistics.median(m for _, _, m in rs):.0f} | "
                  f"{counts} | {dig} | "
                  f"{rate / base:.2f}x |")
    return 0


def _ablation(streams: dict[str, tuple[Path, int]], trees: list[Tree], repeat: int) -> int:
    child = Path(__file__).with_name("ablation_child.py")
    for name, (path, lines) in streams.items():
        tables = {}
        for tree in trees:
            rc, _wall, _cpu, _rss, out, err = run([tree.python, str(child), str(path), "--repeat", str(repeat)], tree)
            if rc != 0:
                print(f"{tree.label}: ablation failed (rc={rc}): {err[-2000:]}", file=sys.stderr)
                return 1
            tables[tree.label] = json.loads(out.strip().splitlines()[-1])
        print(f"\nstream {name}: {lines:,} lines; share of the full pipeline's CPU time (median of {repeat}), "
              f"and microseconds per line")
        parts = _parts(next(iter(tables.values())))
        labels = list(tables)
        print("| part | " + " | ".join(f"{t} share | {t} us/line" for t in labels) + " |")
        print("|---|" + "---:|---:|" * len(labels))
        rows: dict[str, dict[str, float]] = {t: _parts(tab) for t, tab in tables.items()}
        names = list(parts)
        for t in labels:
            for k in rows[t]:
                if k not in names:
                    names.append(k)
        for part in names:
            cells = []
            for t in labels:
                full = tables[t]["cpu_s"]["full"]
                v = rows[t].get(part)
                cells.append("-" if v is None else f"{100 * v / full:.0f} %")
                cells.append("-" if v is None else f"{v / lines * 1e6:.1f}")
            print(f"| {part} | " + " | ".join(cells) + " |")
        print("| total (full pipeline) | " + " | ".join(
            f"100 % | {tables[t]['cpu_s']['full'] / lines * 1e6:.1f}" for t in labels) + " |")
    return 0


def _parts(tab: dict[str, object]) -> dict[str, float]:
    """The ablation passes turned into parts: each difference of two passes is the part that one adds."""
    c: dict[str, float] = tab["cpu_s"]  # type: ignore[assignment]
    out = {
        "orjson.loads": c["loads"] - c["read"],
        "validation": c["decode"] - c["loads"],
        "Engine dispatch + replay loop (no detector)": c["engine0"] - c["decode"] + c["read"],
    }
    for name in tab["detectors"]:  # type: ignore[attr-defined]
        out[f"{name} (full minus without it)"] = c["full"] - c[f"minus:{name}"]
    pair = "minus:drift+retrain_without_drift"
    if pair in c:
        both = c["full"] - c[pair]
        out["drift + retrain_without_drift together"] = both
        out["  of which their shared drift state"] = both - out["drift (full minus without it)"] \
            - out["retrain_without_drift (full minus without it)"]
    return out


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
    ap.add_argument("--streams", default=",".join(STREAMS), help="comma-separated: sim, obs (default: both)")
    ap.add_argument("--tree", action="append", default=[], metavar="[LABEL=]PATH",
                    help="a spendwatch checkout to replay with (repeatable; default: this one)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tree and stream; the median is shown (1)")
    ap.add_argument("--gpus", type=int, default=96)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--models", type=int, default=24, help="extra served models in the obs stream (24)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ablation", action="store_true", help="share of time per part instead of the timing table")
    ap.add_argument("--profile", action="store_true", help="cProfile this tree's pipeline instead")
    ap.add_argument("--top", type=int, default=25, help="functions to show with --profile (default: 25)")
    ap.add_argument("--keep", metavar="DIR", help="write the generated streams here and keep them (reused if there)")
    args = ap.parse_args(argv)
    names = [s for s in args.streams.split(",") if s]
    bad = [s for s in names if s not in STREAMS]
    if bad:
        ap.error(f"unknown stream(s) {', '.join(bad)}; choose from {', '.join(STREAMS)}")
    trees = [parse_tree(t) for t in args.tree] or [this_tree()]

    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmpdir:
        tmp = Path(tmpdir)
        where = Path(args.keep) if args.keep else tmp
        where.mkdir(parents=True, exist_ok=True)
        streams: dict[str, tuple[Path, int]] = {}
        for name in names:
            tag = f"{name}-g{args.gpus}-h{args.hours:g}-s{args.seed}" + (f"-m{args.models}" if name == "obs" else "")
            path = where / f"{tag}.jsonl"
            t0 = time.perf_counter()
            if args.keep and path.exists():
                with open(path, "rb") as f:
                    lines = sum(1 for _ in f)
            else:
                lines = _generate(name, path, args)
            print(f"stream {name}: {_describe(name, args)}: {lines:,} lines, {path.stat().st_size / 1e6:.0f} MB, "
                  f"ready in {time.perf_counter() - t0:.1f}s")
            streams[name] = (path, lines)
        print("trees: " + "; ".join(f"{t.label} = {t.path} ({t.commit()})" for t in trees))
        if args.profile:
            for name, (path, _) in streams.items():
                print(f"\n=== profile of stream {name} ===")
                _profile(path, args.top)
            return 0
        if args.ablation:
            return _ablation(streams, trees, args.repeat)
        return _timing(streams, trees, args.repeat, tmp)


if __name__ == "__main__":
    sys.exit(main())
