"""The benchmark tooling itself: the observation-heavy stream is deterministic, sorted and valid, the
ablation table's parts are the right differences of passes, and the insights benchmark's child reports
every configuration it times. No timings are asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import orjson

from bench.bench_replay import _parts
from bench.streams import observations
from collectors.simulate import SimConfig, simulate
from spendwatch.events import validate


def _stream(seed: int) -> list[bytes]:
    return [orjson.dumps(e) for e in observations(models=3, hours=6.5, seed=seed)]


def test_observation_stream_is_deterministic_per_seed() -> None:
    a, b, c = _stream(7), _stream(7), _stream(8)
    assert a == b
    assert a != c
    assert len(a) == len(c)


def test_observation_stream_is_sorted_complete_and_valid() -> None:
    events = list(observations(models=3, hours=6.5, seed=7))
    assert all(x["ts"] <= y["ts"] for x, y in pairwise(events))
    batches = [e for e in events if e["type"] == "model_observation"]
    runs = [e for e in events if e["type"] == "training_run"]
    assert len(batches) == 3 * 390  # one a minute per model
    assert len(runs) == 3  # one retrain per model every 6 h
    assert {len(v) for e in batches for v in e["values"].values()} == {50}
    assert {tuple(e["values"]) for e in batches} == {("f0", "f1", "f2")}
    for e in events:
        validate(e)  # raises on anything the contract rejects


def test_ablation_parts_are_differences_of_passes() -> None:
    cpu = {"read": 1.0, "loads": 3.0, "decode": 6.0, "engine0": 8.0, "full": 20.0,
           "minus:idle": 17.0, "minus:drift": 16.0, "minus:retrain_without_drift": 18.0,
           "minus:drift+retrain_without_drift": 10.0}
    parts = _parts({"cpu_s": cpu, "detectors": ["idle", "drift", "retrain_without_drift"]})
    assert parts["orjson.loads"] == 2.0
    assert parts["validation"] == 3.0
    assert parts["Engine dispatch + replay loop (no detector)"] == 3.0  # engine0 - decode + read
    assert parts["idle (full minus without it)"] == 3.0
    assert parts["drift + retrain_without_drift together"] == 10.0
    assert parts["  of which their shared drift state"] == 10.0 - 4.0 - 2.0


def test_insights_child_times_every_configuration_and_clocks_each_detector(tmp_path: Path) -> None:
    """One run of the insights benchmark's child on a small simulated stream: the configurations it
    reports are the ones the table reads, and the time it clocks inside each detector comes with the
    number of calls (at most one per event of its types: neither GPU-sample insight detector asks for
    ticks, nor does budgets). No timings are asserted."""
    root = Path(__file__).resolve().parents[2]
    events = tmp_path / "events.jsonl"
    sim = simulate(SimConfig(hours=2, gpus=4, seed=3, billing_days=2))
    events.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in sim.lines))
    p = subprocess.run([sys.executable, str(root / "bench" / "insights_child.py"), str(events), "--repeat", "1"],
                       cwd=root, capture_output=True, text=True, timeout=240)
    assert p.returncode == 0, p.stderr[-2000:]
    r = json.loads(p.stdout.strip().splitlines()[-1])
    assert set(r["insight"]) == {"gpu_usage", "redundant_training", "unit_cost", "budgets"}
    assert set(r["cpu_s"]) == {"incident", "every", *(f"plus:{n}" for n in r["insight"])}
    assert all(len(runs) == 1 for runs in r["cpu_s_all"].values())
    assert 0 < r["inside_calls"]["gpu_usage"] <= r["by_type"]["gpu_sample"]
    assert 0 < r["inside_calls"]["budgets"] <= r["by_type"]["billing_delta"]
    assert r["inside_s"]["gpu_usage"] > 0
    assert r["state"]["budgets"]["instances"] > 0 and r["snapshot_bytes"] > 0
