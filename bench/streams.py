"""Event streams the benchmarks replay: the simulated fleet and an observation-heavy stream.

Both are written as contract JSON lines sorted by ``ts``, so any tree's ``spendwatch replay`` can
read them (the benchmarks replay one file with the tree before a change and the tree after it).

- :func:`write_simulated`: ``spendwatch simulate`` (96 GPUs for a day is ~640k lines, 98 % GPU
  samples, 5.8k observation batches of 2-3 features).
- :func:`write_observation_heavy`: a small simulated fleet (8 GPUs, with its billing, runs and
  four models) merged with ``models`` more served models, each sending one batch a minute of
  ``features`` features x ``values`` values (Student-t, log-normal and normal features, a daily
  cycle on a third of them; a mean shift from mid-day on every sixth model, a variance jump on
  every sixth from 16:00) and retrained every six hours on a flat metric (so both drift-aware
  detectors have work: ``retrain_needed`` and ``retrain_without_drift``). With the defaults it
  is ~110k lines, a third of them observation batches of 150 values.
"""

from __future__ import annotations

import heapq
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson

SIM_START = 1774310400.0  # spendwatch simulate's default start (2026-03-24T00:00Z)
HOUR, DAY = 3600.0, 86400.0


def write_simulated(path: Path, gpus: int, hours: float, seed: int, python: str | None = None) -> int:
    """``spendwatch simulate --gpus G --hours H --seed S --out PATH`` in its own process; returns the lines."""
    cmd = [python or sys.executable, "-m", "spendwatch.cli", "simulate", "--gpus", str(gpus), "--hours",
           str(hours), "--seed", str(seed), "--out", str(path)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"simulate failed: {p.stderr[-1000:]}")
    with open(path, "rb") as f:
        return sum(1 for _ in f)


def observations(models: int, hours: float, seed: int, features: int = 3, values: int = 50,
                 start: float = SIM_START) -> Iterator[dict[str, Any]]:
    """Observation batches (one a minute per model) and six-hourly retrains, in ``ts`` order."""
    rng = np.random.default_rng(seed)
    minutes = int(hours * 60)
    # per model: a phase offset within the minute, so batches interleave as real traffic does
    offsets = [float(x) for x in rng.uniform(0.0, 59.0, models)]
    kinds = ["t", "lognormal", "normal"]
    heap: list[tuple[float, int, dict[str, Any]]] = []
    seq = 0
    for m in range(models):
        mid = f"bench-model-{m:03d}"
        wl = {"id": f"serving/{mid}", "kind": "inference", "team": f"team-{m % 7}",
              "owner": f"team-{m % 7}@corp.example"}
        for r in range(1, int(hours // 6) + 1):  # a retrain every 6 h: flat metric, new data version
            t = start + r * 6 * HOUR + offsets[m]
            run: dict[str, Any] = {
                   "type": "training_run", "ts": round(t + 1800.0, 3), "run_id": f"{mid}-r{r}", "model_id": mid,
                   "workload": {"id": f"training/{mid}", "kind": "training", "team": wl["team"]},
                   "status": "succeeded", "started_at": round(t, 3), "ended_at": round(t + 1800.0, 3),
                   "gpu_hours": 4.0, "cost_usd": 12.0, "data_version": f"d{r}", "trigger": "schedule",
                   "metric": {"name": "auc", "value": 0.81, "higher_is_better": True}}
            seq += 1
            heap.append((run["ts"], seq, run))
    heapq.heapify(heap)
    for i in range(minutes):
        t_min = start + 60.0 * (i + 1)
        hod = ((t_min - start) % DAY) / HOUR
        batch: list[tuple[float, dict[str, Any]]] = []
        for m in range(models):
            vals: dict[str, list[float]] = {}
            for f in range(features):
                kind = kinds[(m + f) % 3]
                if kind == "t":
                    v = rng.standard_t(3, values)
                elif kind == "lognormal":
                    v = rng.lognormal(0.0, 0.5, values)
                else:
                    v = rng.normal(0.0, 1.0, values)
                if (m + 2 * f) % 3 == 0:  # a daily cycle
                    v = v + 1.5 * math.sin(2 * math.pi * hod / 24.0)
                if f == 0 and m % 6 == 1 and hod >= 12.0:  # a mean shift from mid-day
                    v = v + 1.0
                if f == 0 and m % 6 == 4 and hod >= 16.0:  # a variance jump
                    v = v * 3.0
                vals[f"f{f}"] = np.round(v, 4).tolist()
            mid = f"bench-model-{m:03d}"
            ev: dict[str, Any] = {
                  "type": "model_observation", "ts": round(t_min + offsets[m] - 59.0, 3), "model_id": mid,
                  "workload": {"id": f"serving/{mid}", "kind": "inference", "team": f"team-{m % 7}",
                               "owner": f"team-{m % 7}@corp.example"}, "values": vals}
            batch.append((ev["ts"], ev))
        batch.sort(key=lambda x: x[0])
        for ts, ev in batch:
            while heap and heap[0][0] <= ts:
                yield heapq.heappop(heap)[2]
            yield ev
    while heap:
        yield heapq.heappop(heap)[2]


def write_observation_heavy(path: Path, seed: int, models: int = 24, hours: float = 24.0, gpus: int = 8,
                            python: str | None = None) -> int:
    """The small simulated fleet merged by ``ts`` with :func:`observations`; returns the lines."""
    fleet = path.with_suffix(".fleet.jsonl")
    write_simulated(fleet, gpus, hours, seed, python)

    def fleet_lines() -> Iterator[tuple[float, int, bytes]]:
        with open(fleet, "rb") as f:
            for n, line in enumerate(f):
                yield orjson.loads(line)["ts"], 2 * n, line.rstrip(b"\n")

    def obs_lines() -> Iterator[tuple[float, int, bytes]]:
        for n, ev in enumerate(observations(models, hours, seed + 1000)):
            yield ev["ts"], 2 * n + 1, orjson.dumps(ev)

    count = 0
    with open(path, "wb") as out:
        for _, _, line in heapq.merge(fleet_lines(), obs_lines()):
            out.write(line)
            out.write(b"\n")
            count += 1
    fleet.unlink()
    return count
