"""Event -> anomaly latency through Apache Kafka at a steady produce rate, one worker.

Two streams: by default a simulated fleet replayed on a compressed clock (12 h of event time in
seconds: the event-time alignment's bounds, set in event time, then dominate); with ``--live``, event
time at wall pace: ``--rate`` GPUs each sampled every second, ``--victims`` of them (training GPUs
busy for an hour before the window) going idle so that their dwell ends inside it, one after another.

    .venv/bin/python -m bench.bench_latency [--live [--victims 20]] [--rate 2000] [--seconds 30]
                                            [--gpus 32] [--hours 12] [--interval 60] [--partitions 4]
                                            [--checkpoint-interval 5]

1. ``spendwatch simulate`` writes a stream (sorted by ``ts``); the first ``rate x seconds`` lines are used.
2. A local Apache Kafka is started the way the test suite starts it (:mod:`streams.kafka_local`, KRaft,
   from the Maven cache) and the topics are created with ``--partitions`` partitions.
3. One ``spendwatch worker`` starts; once it has its partitions, this process produces the lines at a
   steady rate (keyed and partitioned like ``spendwatch produce``; small batches, ``linger_ms`` 5) and,
   in the same event loop, reads ``spendwatch.anomalies`` twice: ``read_uncommitted`` (the record is on
   the topic) and ``read_committed`` (what a consumer such as the alerter sees; on Apache Kafka the
   worker publishes in one transaction per checkpoint, so this includes the checkpoint interval).
4. Latency of an anomaly = when its first ``open`` event was read - when the event that made it was
   produced. The event that made it is the first produced line whose ``ts`` is at or after the
   anomaly event's ``ts`` (the Engine stamps an anomaly with the event time at which it was emitted);
   several lines share one ``ts``, so this takes the earliest of them: latency is never understated.
5. The worker's CPU share: its user + system CPU seconds from ``/proc/PID/stat`` over the produce
   window, divided by that window's wall seconds (1.0 = one core).

Everything shares this machine's cores: the broker, the worker, and this script.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


class _Clients:
    """The benchmark's two readers of ``spendwatch.anomalies`` (``read_uncommitted``, ``read_committed``) and
    its producer, which keys and partitions lines like ``spendwatch produce``."""

    def __init__(self, kafka: Any, max_batch_size: int) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

        from streams.topics import WorkerTopics

        bootstrap = kafka.bootstrap_servers
        topic = WorkerTopics.of(kafka, "lat").anomalies
        self.kafka = kafka
        self.consumers = {iso: AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None,
                                                auto_offset_reset="earliest", isolation_level=iso)
                          for iso in ("read_uncommitted", "read_committed")}
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=max_batch_size,
                                         acks="all")
        self.partitions: dict[str, int] = {}

    async def start(self) -> None:
        for c in self.consumers.values():
            await c.start()
        await self.producer.start()

    async def send(self, line: bytes) -> None:
        from collectors.produce import route_line
        from spendwatch.contract import partition_for

        etype, key, kind = route_line(line)
        t = self.kafka.topic(etype)
        if t not in self.partitions:
            self.partitions[t] = len(await self.producer.partitions_for(t))
        await self.producer.send(t, line, key=key, partition=partition_for(etype, key.decode(), self.partitions[t],
                                                                           kind))

    async def stop(self) -> None:
        for c in self.consumers.values():
            await c.stop()
        await self.producer.stop()


async def _measure(kafka: Any, lines: list[bytes], rate: float, worker_pid: int, tail_s: float) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer

    clients = _Clients(kafka, 16384)
    await clients.start()
    consumers = clients.consumers
    ts = [float(orjson.loads(line)["ts"]) for line in lines]
    sent = [0.0] * len(lines)
    seen: dict[str, dict[str, float]] = {iso: {} for iso in consumers}  # anomaly id -> latency
    done = asyncio.Event()

    async def read(iso: str, c: AIOKafkaConsumer) -> None:
        while not done.is_set():
            for recs in (await c.getmany(timeout_ms=100)).values():
                now = time.time()
                for r in recs:
                    a = orjson.loads(r.value)
                    if a.get("state") != "open" or a["id"] in seen[iso]:
                        continue
                    i = bisect.bisect_left(ts, float(a["ts"]) - 5e-4)
                    if i < len(lines) and sent[i] > 0:
                        seen[iso][a["id"]] = now - sent[i]

    readers = [asyncio.create_task(read(iso, c)) for iso, c in consumers.items()]
    cpu0, t0 = _cpu_s(worker_pid), time.time()
    for i, line in enumerate(lines):
        due = t0 + i / rate
        now = time.time()
        if due > now:
            await asyncio.sleep(due - now)
        sent[i] = time.time()
        await clients.send(line)
    await clients.producer.flush()
    wall, cpu = time.time() - t0, _cpu_s(worker_pid) - cpu0
    await asyncio.sleep(tail_s)  # anomalies of the last events, and the last checkpoint
    done.set()
    await asyncio.gather(*readers)
    await clients.stop()
    return {"produced": len(lines), "produce_s": wall, "rate": len(lines) / wall, "worker_cpu_share": cpu / wall,
            "latency": {iso: sorted(v.values()) for iso, v in seen.items()}}


GIB = 2**30
FAST_DWELL_S = 540.0  # the idle detector's dwell for a training GPU seen busy for an hour (detectors/idle_gpu.py)


def _live_sample(ts: float, i: int, util: float, interval: float, victim: bool) -> bytes:
    kind, name = ("training", f"ml/train-{i:03d}") if victim else ("inference", f"serving/ep-{i % 500:03d}")
    return orjson.dumps({"type": "gpu_sample", "ts": round(ts, 3), "node": f"lat-node-{i // 8:05d}",
                         "gpu_uuid": f"GPU-{'v' if victim else 'l'}{i:07d}", "interval_s": interval,
                         "util_gpu_pct": util, "mem_used_bytes": 40 * GIB, "mem_total_bytes": 80 * GIB,
                         "price_per_hour_usd": 2.95, "workload": {"id": name, "kind": kind, "team": "lat"}})


def live_backlog(t_live: float, victims: int, seconds: float) -> list[bytes]:
    """Each victim GPU's history before ``t_live``: busy for an hour (60-s samples, then 1-s samples for
    the last 15 min), going idle so that its dwell ends ``offset`` s into the live window (offsets
    spread over it): its anomaly is emitted by a live sample."""
    out: list[tuple[float, bytes]] = []
    for v in range(victims):
        offset = 5.0 + (seconds - 10.0) * (v + 0.5) / victims
        idle_at = t_live - FAST_DWELL_S + offset
        t = t_live - 75 * 60.0
        while t < t_live - 900.0:
            out.append((t, _live_sample(t, v, 0.0 if t >= idle_at else 90.0, 60.0, True)))
            t += 60.0
        while t < t_live:
            out.append((t, _live_sample(t, v, 0.0 if t >= idle_at else 90.0, 1.0, True)))
            t += 1.0
    out.sort(key=lambda x: x[0])
    return [line for _, line in out]


async def _measure_live(kafka: Any, rate: int, seconds: int, victims: int, worker_pid: int,
                        tail_s: float) -> dict[str, Any]:
    """Event time at wall pace: every second, one sample of each of ``rate`` GPUs (the victims among
    them idle), stamped with the second it is produced in."""
    from aiokafka import AIOKafkaConsumer

    clients = _Clients(kafka, 65536)
    await clients.start()
    consumers, producer, send = clients.consumers, clients.producer, clients.send
    ts_sent: list[tuple[float, float]] = []  # (ts, produced at) of every live line, in ts order

    t_live = float(int(time.time()) + 20)
    for line in live_backlog(t_live, victims, seconds):
        await send(line)
    await producer.flush()
    seen: dict[str, dict[str, float]] = {iso: {} for iso in consumers}
    done = asyncio.Event()

    async def read(iso: str, c: AIOKafkaConsumer) -> None:
        while not done.is_set():
            for recs in (await c.getmany(timeout_ms=50)).values():
                now = time.time()
                for r in recs:
                    a = orjson.loads(r.value)
                    if a.get("state") != "open" or a["id"] in seen[iso] or float(a["ts"]) < t_live:
                        continue
                    i = bisect.bisect_left(ts_sent, (float(a["ts"]) - 5e-4, 0.0))
                    if i < len(ts_sent):
                        seen[iso][a["id"]] = now - ts_sent[i][1]

    readers = [asyncio.create_task(read(iso, c)) for iso, c in consumers.items()]
    await asyncio.sleep(max(0.0, t_live - time.time()))
    cpu0, t0 = _cpu_s(worker_pid), time.time()
    late = 0.0
    for sec in range(seconds):
        for i in range(rate):
            ts = t_live + sec + i / rate
            now = time.time()
            if ts > now:
                await asyncio.sleep(ts - now)
            else:
                late = max(late, now - ts)
            victim = i < victims  # idle since before the window (live_backlog); the others busy
            line = _live_sample(ts, i, 0.0 if victim else 60.0 + (i % 35), 1.0, victim)
            ts_sent.append((round(ts, 3), time.time()))
            await send(line)
    await producer.flush()
    wall, cpu = time.time() - t0, _cpu_s(worker_pid) - cpu0
    await asyncio.sleep(tail_s)
    done.set()
    await asyncio.gather(*readers)
    await clients.stop()
    return {"produced": len(ts_sent), "produce_s": wall, "rate": len(ts_sent) / wall, "worker_cpu_share": cpu / wall,
            "producer_behind_s": late, "victims": victims,
            "latency": {iso: sorted(v.values()) for iso, v in seen.items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=2000.0, help="events produced per second (default 2000)")
    ap.add_argument("--seconds", type=float, default=30.0, help="how long to produce (default 30)")
    ap.add_argument("--gpus", type=int, default=32)
    ap.add_argument("--hours", type=float, default=12)
    ap.add_argument("--interval", type=float, default=60.0, help="GPU sample interval of the stream (default 60 s)")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--checkpoint-interval", type=float, default=5.0, help="the worker's (default 5 s)")
    ap.add_argument("--live", action="store_true",
                    help="event time at wall pace: --rate GPUs sampled every second, --victims of them going "
                         "idle so that their anomalies fall in the measured window (instead of a simulated "
                         "stream replayed on a compressed clock)")
    ap.add_argument("--victims", type=int, default=20, help="idle GPUs in --live (default 20)")
    args = ap.parse_args(argv)
    from spendwatch.kafka import KafkaConfig
    from streams.kafka_local import KafkaLocal, free_port
    from streams.topics import WorkerTopics, ensure_topics

    with tempfile.TemporaryDirectory(prefix="bench-latency-") as d:
        tmp = Path(d)
        path = tmp / "events.jsonl"
        lines: list[bytes] = []
        if not args.live:
            subprocess.run([sys.executable, "-m", "spendwatch.cli", "simulate", "--gpus", str(args.gpus), "--hours",
                            str(args.hours), "--interval", str(args.interval), "--billing-days", "1", "--seed", "1",
                            "--out", str(path)], check=True, capture_output=True, cwd=ROOT)
            lines = [x for x in path.read_bytes().splitlines() if x.strip()][:int(args.rate * args.seconds)]
        with KafkaLocal(tmp / "kafka") as broker:
            prefix, group = "lat.", "lat"
            kafka = replace(KafkaConfig(), bootstrap_servers=broker.bootstrap, topic_prefix=prefix)
            asyncio.run(ensure_topics(kafka, WorkerTopics.of(kafka, group), args.partitions, 1))
            log = tmp / "worker.log"
            with open(log, "wb") as f:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "spendwatch.cli", "--log-level", "INFO", "worker", "--bootstrap",
                     broker.bootstrap, "--topic-prefix", prefix, "--group", group, "--partitions",
                     str(args.partitions), "--metrics-port", str(free_port()), "--session-timeout", "6",
                     "--heartbeat-interval", "1", "--checkpoint-interval", str(args.checkpoint_interval),
                     "--data-dir", str(tmp / "data")], cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)
            try:
                deadline = time.monotonic() + 120
                while log.read_text(errors="replace").count("partition assigned") < args.partitions:
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"worker did not get its partitions:\n{log.read_text()[-3000:]}")
                    time.sleep(0.5)
                if args.live:
                    r = asyncio.run(_measure_live(kafka, int(args.rate), int(args.seconds), args.victims, worker.pid,
                                                  tail_s=args.checkpoint_interval + 5.0))
                else:
                    r = asyncio.run(_measure(kafka, lines, args.rate, worker.pid,
                                             tail_s=args.checkpoint_interval + 5.0))
            finally:
                worker.terminate()
                try:
                    worker.wait(30)
                except subprocess.TimeoutExpired:
                    worker.kill()
    if args.live:
        print(f"stream: {r['produced']:,} live events, {int(args.rate):,} GPUs sampled every second, event time at "
              f"wall pace, {r['victims']} going idle in the window; {args.partitions} partitions, "
              f"{os.cpu_count()} CPUs, Apache Kafka (KRaft, local); producer at most {r['producer_behind_s']:.2f} s "
              "behind its schedule")
    else:
        print(f"stream: {r['produced']:,} events of simulate --gpus {args.gpus} --hours {args.hours}, "
              f"{args.partitions} partitions, {os.cpu_count()} CPUs, Apache Kafka (KRaft, local)")
    print(f"produced at {r['rate']:,.0f} events/s (asked {args.rate:,.0f}) for {r['produce_s']:.1f} s; "
          f"worker CPU {r['worker_cpu_share']:.0%} of one core")
    for iso, lat in r["latency"].items():
        if not lat:
            print(f"{iso:17} no anomaly read")
            continue
        print(f"{iso:17} {len(lat)} anomalies  p50 {statistics.median(lat) * 1e3:,.0f} ms  "
              f"p99 {_pct(lat, 0.99) * 1e3:,.0f} ms  max {lat[-1] * 1e3:,.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
