"""The benchmark tooling itself: the observation-heavy stream is deterministic, sorted and valid, and the
ablation table's parts are the right differences of passes. No timings are asserted."""

from __future__ import annotations

from itertools import pairwise

import orjson

from bench.bench_replay import _parts
from bench.streams import observations
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
