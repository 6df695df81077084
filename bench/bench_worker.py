"""Worker throughput through a real broker, detection on, beside replay's figure for the same events.

    .venv/bin/python -m bench.bench_worker [--gpus 48] [--hours 12] [--events N] [--partitions 4]
                                           [--processes 1,2]

1. ``spendwatch simulate`` writes a stream (48 GPUs x 12 h is ~172k events, ~500 B each).
2. Replay's figure: the same Engine over the same lines in this process (one core).
3. For each process count: a fresh local Tansu broker; the stream is produced to the four
   input topics with the contract keys (produce rate reported on its own); then that many
   ``spendwatch worker --exit-when-idle`` processes consume it in one group. Throughput =
   events / (last batch processed - first record received), from the workers' own logs, so
   interpreter start and group join are not counted; rebalances while the second worker joins
   are. Anomalies on the topic are checked against replay's (kind, resource, started_at) set.

Everything shares this machine's cores: the broker, the workers, and this script.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
GOAL = 50_000
_STOPPED = re.compile(r"worker stopped events=(\d+) bad=(\d+) anomalies=(\d+) first_record_at=([\d.]+) "
                      r"last_processed_at=([\d.]+)")


def _replay_rate(lines: list[bytes]) -> tuple[float, set[tuple[str, str, float]]]:
    from detectors.engine import Engine
    from streams.replay import ReplayStats, replay_lines

    t0 = time.perf_counter()
    out = list(replay_lines(lines, Engine(), ReplayStats()))
    dt = time.perf_counter() - t0
    return len(lines) / dt, {(a["kind"], a["resource"], a["started_at"]) for a in out}


def _read_anomalies(bootstrap: str, topic: str) -> set[tuple[str, str, float]]:
    async def go() -> set[tuple[str, str, float]]:
        from aiokafka import AIOKafkaConsumer

        c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
        await c.start()
        out: set[tuple[str, str, float]] = set()
        last = time.monotonic()
        try:
            while time.monotonic() - last < 1.5:
                for recs in (await c.getmany(timeout_ms=300)).values():
                    last = time.monotonic()
                    for r in recs:
                        a = orjson.loads(r.value)
                        out.add((a["kind"], a["resource"], a["started_at"]))
        finally:
            await c.stop()
        return out

    return asyncio.run(go())


def _run_workers(lines: list[bytes], processes: int, partitions: int, tmp: Path,
                 expected: set[tuple[str, str, float]]) -> dict[str, float]:
    from collectors.produce import produce_lines
    from spendwatch.kafka import KafkaConfig
    from streams.broker import LocalBroker, free_port

    with LocalBroker() as broker:
        prefix, group = f"bench{processes}.", f"bench{processes}"
        kafka = replace(KafkaConfig(), bootstrap_servers=broker.bootstrap, topic_prefix=prefix)
        # create the topics with the wanted partition count before producing (auto-create would pick its own)
        from streams.topics import WorkerTopics, ensure_topics

        asyncio.run(ensure_topics(kafka, WorkerTopics.of(kafka, group), partitions, 1))
        t0 = time.perf_counter()
        asyncio.run(produce_lines(kafka, lines))
        produce_s = time.perf_counter() - t0
        procs, logs = [], []
        for i in range(processes):
            log = tmp / f"w{processes}-{i}.log"
            logs.append(log)
            with open(log, "wb") as f:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "spendwatch.cli", "--log-level", "INFO", "worker", "--bootstrap",
                     broker.bootstrap, "--topic-prefix", prefix, "--group", group, "--partitions", str(partitions),
                     "--metrics-port", str(free_port()), "--session-timeout", "3", "--heartbeat-interval", "0.5",
                     "--exit-when-idle", "4", "--data-dir", str(tmp / f"d{processes}-{i}")],
                    cwd=ROOT, stdout=f, stderr=subprocess.STDOUT))
        for p in procs:
            p.wait(600)
        stats = []
        for log in logs:
            m = _STOPPED.search(log.read_text(errors="replace"))
            if m is None:
                raise RuntimeError(f"worker log without a summary: {log}")
            stats.append(tuple(float(x) for x in m.groups()))
        events = sum(s[0] for s in stats)
        first = min(s[3] for s in stats if s[3] > 0)
        last = max(s[4] for s in stats)
        got = _read_anomalies(broker.bootstrap, prefix + "spendwatch.anomalies")
        return {"events": events, "bad": sum(s[1] for s in stats), "seconds": last - first,
                "rate": events / max(last - first, 1e-9), "produce_rate": len(lines) / produce_s,
                "same_anomalies": float(got == expected), "missing": len(expected - got), "extra": len(got - expected)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpus", type=int, default=48)
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--events", type=int, default=0, help="use only the first N events (0 = all)")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--processes", default="1,2", help="comma-separated worker process counts to run")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-worker-") as d:
        tmp = Path(d)
        path = tmp / "events.jsonl"
        subprocess.run([sys.executable, "-m", "spendwatch.cli", "simulate", "--gpus", str(args.gpus), "--hours",
                        str(args.hours), "--seed", "1", "--out", str(path)], check=True, capture_output=True,
                       cwd=ROOT)
        lines = path.read_bytes().splitlines()
        if args.events:
            lines = lines[:args.events]
        print(f"stream: {len(lines):,} events, {sum(map(len, lines)) / len(lines):.0f} B average, "
              f"{args.partitions} partitions, {os.cpu_count()} CPUs")
        replay_rate, expected = _replay_rate(lines)
        print(f"replay (in-process, one core): {replay_rate:,.0f} events/s, {len(expected)} anomalies")
        for n in (int(x) for x in args.processes.split(",")):
            r = _run_workers(lines, n, args.partitions, tmp, expected)
            print(f"worker x{n}: {r['rate']:,.0f} events/s end to end ({r['events']:,.0f} events in "
                  f"{r['seconds']:.2f}s; ratio to replay {r['rate'] / replay_rate:.2f}; goal {GOAL:,}: "
                  f"{'met' if r['rate'] >= GOAL else 'not met'}); produce {r['produce_rate']:,.0f}/s; "
                  f"anomalies {'same as replay' if r['same_anomalies'] else 'DIFFER'} "
                  f"(missing {r['missing']:.0f}, extra {r['extra']:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
