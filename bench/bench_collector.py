"""Collector CPU time per sample: 8 simulated GPUs at 1 Hz, through the real collector and publisher.

    .venv/bin/python -m bench.bench_collector [--gpus 8] [--seconds 30] [--publisher]

Runs the real GpuCollector loop over the simulated backend (sample buffer, GPM, processes every
6 ticks, static attribution), for ``--seconds`` wall seconds at ``--interval`` (1 s), and reports
the process CPU time spent per sample and as a share of one core. ``--publisher`` also validates,
keys and spools each event on disk (SQLite) and delivers it to a null transport, i.e. the whole
path short of the network. Goal: under 1% of a core for 8 GPUs at 1 Hz.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from collectors.attribution import StaticAttributor
from collectors.nvml.collector import GpuCollector
from collectors.nvml.simulated import SimGpu, SimulatedBackend
from collectors.publisher import Publisher, Record, Spool
from spendwatch.kafka import KafkaConfig


class NullTransport:
    def send(self, records: Sequence[Record]) -> int:
        return len(records)

    def close(self) -> None:
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--publisher", action="store_true")
    a = ap.parse_args()
    sim = SimulatedBackend([SimGpu(behaviour="wave", processes=[(100 + i, 1 << 30)]) for i in range(a.gpus)])
    sink: list[dict[str, Any]] = []
    emit: Any = sink.append
    pub = None
    if a.publisher:
        pub = Publisher(KafkaConfig(), NullTransport(), Spool(Path(tempfile.mkdtemp()) / "s.sqlite"))
        emit = pub.publish
    col = GpuCollector(sim, "bench-node", emit, attributor=StaticAttributor({"*": {"id": "bench/w"}}),
                       interval_s=a.interval)
    stop = threading.Event()
    timer = threading.Timer(a.seconds, stop.set)
    t0, c0 = time.monotonic(), time.process_time()
    timer.start()
    col.run(stop)
    if pub is not None:
        pub.close()
    wall, cpu = time.monotonic() - t0, time.process_time() - c0
    n = int(col.metrics.samples._value.get())
    what = " (with spool+publisher)" if pub else ""
    print(f"{a.gpus} simulated GPUs at {1 / a.interval:g} Hz for {wall:.1f}s{what}: "
          f"{n} samples, CPU {cpu * 1000:.1f} ms total, {cpu / max(n, 1) * 1e6:.0f} µs per sample, "
          f"{cpu / wall * 100:.3f}% of one core")


if __name__ == "__main__":
    main()
