"""One point of the key-scaling table, in one tree: run as a script with that tree's interpreter.

    TREE/.venv/bin/python bench/keys_child.py {gpu,billing} KEYS EVENTS   (cwd = TREE)

Feeds ``EVENTS`` validated events spread evenly over ``KEYS`` keys (GPUs, or billing workloads) to
the tree's default Engine in ``ts`` order, and prints one JSON object: CPU seconds spent in
``Engine.process`` (events are built and validated in chunks outside the clock), the RSS before the
Engine and after the stream (``/proc/self/statm``, after ``gc.collect()``; a throwaway Engine has run
over 50 keys of the family and the first chunk of events is live at the first reading, so first-use
imports and a chunk's memory are in both), the Engine's snapshot
size and the median pickled size of single detector instances.

GPUs: nodes of 8, sampled every 60 s; a quarter run a batch queue (busy 20 min, idle 5), a quarter
train (busy, an idle hour in every 10), a quarter serve (busy, always), a quarter are notebooks (idle
mostly); one GPU in 16 is unallocated; half report ``sm_active_pct``; each sample names one or two
processes. Billing: one hourly row per workload and hour (LLM token rows, cloud SKUs), a daily cycle.
"""

from __future__ import annotations

import gc
import json
import math
import os
import pickle
import random
import statistics
import sys
import time
from collections.abc import Iterator
from typing import Any

sys.path[0] = os.getcwd()  # the tree's packages, not this file's folder (see ablation_child.py)

T0 = 1_774_310_400.0
CHUNK = 20_000
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


def _gpu_events(keys: int, rounds: int) -> Iterator[dict[str, Any]]:
    kinds = ["batch", "training", "inference", "notebook"]
    ids = [f"GPU-{i:08x}-bench" for i in range(keys)]
    for r in range(rounds):
        t = T0 + 60.0 * (r + 1)
        for i in range(keys):
            kind = kinds[(i // 8) % 4]
            node = f"node-{i // 8:06d}"
            if kind == "batch":
                busy = (r + i) % 25 < 20
            elif kind == "training":
                busy = (r + 3 * i) % 600 >= 60
            elif kind == "inference":
                busy = True
            else:
                busy = (r + i) % 200 < 10
            util = 60.0 + (r * 7 + i) % 35 if busy else 0.0
            wl = None if i % 16 == 15 else {"id": f"team-{i % 13}/{kind}-{i // 8:06d}", "kind": kind,
                                            "team": f"team-{i % 13}", "owner": f"team-{i % 13}@corp.example"}
            procs = [{"pid": 1000 + i % 5000, "used_mem_bytes": 30 * 2**30}] if busy or kind == "notebook" else []
            if busy and i % 3 == 0:
                procs.append({"pid": 7000 + i % 2000, "used_mem_bytes": 2**30})
            yield {"type": "gpu_sample", "ts": t + (i % 59) * 0.01, "node": node, "gpu_uuid": ids[i],
                   "gpu_model": "NVIDIA H100 80GB HBM3", "interval_s": 60.0, "util_gpu_pct": util,
                   "sm_active_pct": util * 0.8 if i % 2 == 0 else None,
                   "mem_used_bytes": sum(p["used_mem_bytes"] for p in procs), "mem_total_bytes": 80 * 2**30,
                   "power_w": 300.0 if busy else 70.0, "processes": procs, "workload": wl,
                   "price_per_hour_usd": 2.5 if i % 10 else None}


def _billing_events(keys: int, rounds: int) -> Iterator[dict[str, Any]]:
    rnd = random.Random(1)
    for h in range(rounds):
        start = T0 - rounds * 3600.0 + h * 3600.0
        hod = (start % 86400.0) / 3600.0
        for i in range(keys):
            base = 5.0 + i % 50
            cost = base * (1 + 0.4 * math.cos(2 * math.pi * (hod - 14) / 24)) * max(0.3, rnd.gauss(1, 0.1))
            wl = {"id": f"team-{i % 97}/workload-{i:07d}", "kind": "inference", "team": f"team-{i % 97}",
                  "owner": f"team-{i % 97}@corp.example"}
            ts = start + 3600.0 + 240.0 + 600.0 * i / keys
            if i % 2 == 0:
                yield {"type": "billing_delta", "ts": ts, "period_start": start, "period_end": start + 3600.0,
                       "workload": wl, "cost_usd": round(cost, 4), "source": "llm_usage", "service": "Anthropic API",
                       "sku": "tokens", "resource_id": f"apikey-{i % 50}", "model": "claude-sonnet-4",
                       "usage_quantity": round(cost / 6e-6), "usage_unit": "tokens"}
            else:
                yield {"type": "billing_delta", "ts": ts, "period_start": start, "period_end": start + 3600.0,
                       "workload": wl, "cost_usd": round(cost, 4), "source": "focus", "service": "Amazon SageMaker",
                       "sku": "ml.g5.xlarge-hosting", "resource_id": f"endpoint/w{i % 50}",
                       "usage_quantity": 1.0, "usage_unit": "Hrs"}


def main() -> int:
    family, keys, events = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from detectors.engine import Engine
    from spendwatch.events import validate

    rounds = max(1, events // keys)
    gen = (_gpu_events if family == "gpu" else _billing_events)(keys, rounds)
    # a throwaway Engine over a few keys of the same family first: the detector modules (the registry imports
    # them lazily) and whatever they import on first use are loaded before the first reading, not charged to keys
    scratch = Engine()
    for e in (_gpu_events if family == "gpu" else _billing_events)(50, min(rounds, 600)):
        scratch.process(validate(e))
    del scratch

    def next_chunk() -> list[dict[str, Any]]:
        return [validate(e) for _, e in zip(range(CHUNK), gen, strict=False)]

    # the first chunk is built before the first reading and is live at it: the memory a chunk of events takes
    # (freed after the stream, but not returned to the OS where the Engine's objects share its pages) is in
    # both readings, and so are the generator's own lists
    chunk = next_chunk()
    gc.collect()
    rss0 = _rss()
    engine = Engine()
    cpu = 0.0
    n = 0
    while chunk:
        t0 = time.process_time()
        for e in chunk:
            engine.process(e)
        cpu += time.process_time() - t0
        n += len(chunk)
        chunk = []
        chunk = next_chunk()
    gc.collect()
    rss1 = _rss()
    snap = len(engine.snapshot())
    insts = list(engine._instances.values())
    step = max(1, len(insts) // 200)
    sizes = [len(pickle.dumps(d, protocol=pickle.HIGHEST_PROTOCOL)) for d in insts[::step]]
    print(json.dumps({"family": family, "keys": keys, "events": n, "cpu_s": cpu, "rss_before": rss0,
                      "rss_after": rss1, "snapshot_bytes": snap, "tracked": engine.tracked_keys,
                      "instance_pickle_median": statistics.median(sizes) if sizes else 0}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
