"""The worker's state layout without a broker: per-key records, incremental checkpoints, parts,
the at-least-once slots, and hostile records on the state topic (refused, counted, nothing run)."""

from __future__ import annotations

import asyncio
import os
import pickle
import zlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from detectors.engine import Engine
from spendwatch.config import Settings
from streams import engine_state as es
from streams.consumer import _digest, build_checkpoint, owned_from, restore_engine
from streams.partition import PartitionTask
from streams.state import ENTRY, PART_BYTES, LoadedState, MemoryStateStore, StateDecoder, frame

pytestmark = pytest.mark.timeout(60)
T0 = 1_774_000_000.0


def gpu(ts: float, uuid: str = "GPU-1", util: float = 0.0) -> dict[str, Any]:
    return {"type": "gpu_sample", "ts": ts, "node": "n1", "gpu_uuid": uuid, "interval_s": 15, "util_gpu_pct": util,
            "mem_used_bytes": 0, "mem_total_bytes": 80 << 30, "workload": {"id": "ml/a"}, "price_per_hour_usd": 2.0}


def stream(gpus: int, samples: int, start: float = T0) -> list[dict[str, Any]]:
    return [gpu(start + 15 * i, f"GPU-{g}") for i in range(samples) for g in range(gpus)]


def load(store: MemoryStateStore, p: int = 0) -> LoadedState:
    return asyncio.run(store.load([p]))[p]


def fresh(p: int = 0, engine: Engine | None = None) -> Any:
    """A partition's bookkeeping around ``engine`` (default: every detector)."""
    task = PartitionTask(p, ["gpu"], es.track(engine or Engine()), positions={"gpu": 0})
    return owned_from(task, LoadedState(p))


def checkpoint(own: Any, store: MemoryStateStore, full: bool = False, offset: int = 0) -> list[Any]:
    own.task.next_offset["gpu"] = offset
    cp, records = build_checkpoint(own.task.partition, own, full)
    store.write(own.task.partition, records)
    own.seq, own.slot, own.life_seq = cp.head.seq + 1, cp.head.slot, cp.head.life_seq
    if cp.life is not None:
        own.life_digest = _digest(cp.life)
    return records


def test_restore_continues_exactly_like_an_engine_that_never_stopped() -> None:
    events = stream(4, 200)  # 50 idle minutes on four GPUs: open idle anomalies
    own, store = fresh(), MemoryStateStore()
    for ev in events:
        own.task.engine.process(ev)
    assert own.task.engine.open_anomaly_ids
    checkpoint(own, store, offset=len(events))
    ls = load(store)
    assert ls.head is not None and ls.head.offsets == {"gpu": len(events)} and not ls.rejected
    again, rejected = restore_engine(Settings(), ls)
    assert not rejected
    assert again.open_anomaly_ids == own.task.engine.open_anomaly_ids and again.watermark == own.task.engine.watermark
    later = [gpu(T0 + 15 * (200 + i), f"GPU-{g}", util=90.0 if i > 5 else 0.0) for i in range(40) for g in range(4)]
    assert again.process_many(later) == own.task.engine.process_many(later)  # same resolutions, same ids


def test_a_checkpoint_writes_only_the_keys_that_changed() -> None:
    own, store = fresh(), MemoryStateStore()
    for ev in stream(50, 4):
        own.task.engine.process(ev)
    first = [k for k, v in checkpoint(own, store) if _idle_entry(v)]
    assert len(first) == 50
    own.task.engine.process(gpu(T0 + 100, "GPU-7"))
    records = checkpoint(own, store)
    second = [v for k, v in records if _idle_entry(v)]
    assert len(second) == 1 and b'"key":"n1/GPU-7"' in second[0]
    assert all(b'"key":"n1/GPU-7"' in v for _k, v in records if v is not None and v[5:6] == ENTRY)  # nothing else
    ls = load(store)
    assert sum(1 for n, _k in ls.entries if n == "idle") == 50  # the unchanged 49 are still there from the first


def _idle_entry(v: bytes | None) -> bool:
    """A state record of an idle detector instance (other detectors keep per-GPU state too)."""
    return v is not None and v[5:6] == ENTRY and b'"name":"idle"' in v[:400]


def test_a_large_key_is_split_into_parts_and_no_record_approaches_the_size_limit() -> None:
    own, store = fresh(), MemoryStateStore()
    own.task.engine.process(gpu(T0))
    inst = dict.get(own.task.engine._instances, ("idle", "n1/GPU-1"))
    inst.ballast = os.urandom(3 * PART_BYTES)  # incompressible: three and a bit parts
    records = checkpoint(own, store)
    assert max(len(v) for _k, v in records if v is not None) < PART_BYTES + 4096
    assert sum(1 for _k, v in records if _idle_entry(v)) == 4
    again, rejected = restore_engine(Settings(), load(store))
    assert not rejected and dict.get(again._instances, ("idle", "n1/GPU-1")).ballast == inst.ballast
    inst.ballast = b"small now"
    own.task.engine._instances[("idle", "n1/GPU-1")]  # the Engine touches it (as an event or a tick would)
    records = checkpoint(own, store)
    assert sum(1 for _k, v in records if v is None) == 3  # the parts no longer needed get tombstones
    assert dict.get(restore_engine(Settings(), load(store))[0]._instances, ("idle", "n1/GPU-1")).ballast == b"small now"


def test_without_transactions_a_checkpoint_torn_in_the_middle_leaves_the_previous_one_intact() -> None:
    own, store = fresh(), MemoryStateStore()
    for ev in stream(6, 100):
        own.task.engine.process(ev)
    checkpoint(own, store, full=True, offset=600)
    before = own.task.engine.open_anomaly_ids
    for ev in stream(6, 100, start=T0 + 1500):
        own.task.engine.process(ev)
    own.task.next_offset["gpu"] = 1200
    cp, records = build_checkpoint(0, own, True)
    assert cp.head.slot != "a" or own.slot != "a"
    store.write(0, records[: len(records) // 2])  # crash: half the new slot, no head
    ls = load(store)
    assert ls.head is not None and ls.head.offsets == {"gpu": 600} and not ls.rejected
    assert restore_engine(Settings(), ls)[0].open_anomaly_ids == before


SENTINEL = Path("/tmp/spendwatch-state-test-pwned")


class _RunsCode:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {SENTINEL}",))


def _entry_record(p: int, name: str, key: str, payload: bytes, seq: int = 99) -> tuple[bytes, bytes]:
    from streams.state import _entry_base

    body = zlib.compress(payload)
    return _entry_base("k", p, name, key), frame(ENTRY, {"p": p, "seq": seq, "slot": "k", "name": name, "key": key,
                                                         "tick": False, "part": 0, "parts": 1,
                                                         "crc": zlib.crc32(body)}, body)


def test_hostile_records_on_the_state_topic_change_nothing_and_run_nothing() -> None:
    SENTINEL.unlink(missing_ok=True)
    own, store = fresh(), MemoryStateStore()
    for ev in stream(3, 200):
        own.task.engine.process(ev)
    checkpoint(own, store, offset=600)
    good_ids = own.task.engine.open_anomaly_ids
    hostile = [
        _entry_record(0, "idle", "n1/GPU-1", pickle.dumps(_RunsCode())),  # a well-framed pickle that runs code
        _entry_record(0, "idle", "n9/GPU-9", b"\x80\x05garbage"),  # framed garbage
        (b"h/0", b"\x80\x04\x95" + pickle.dumps(_RunsCode())),  # a raw pickle over the head
        (b"h/0", b"SWST\x07H" + b"\x00\x00\x00\x02{}"),  # a snapshot of an unknown format version
        (b"k/0/e/0123", b"SWST\x01K\x00\x00\x00\x02{}"),  # a header that names nothing
        (b"anything", os.urandom(344)),  # noise
    ]
    store.write(0, hostile)
    ls = load(store)
    engine, rejected = restore_engine(Settings(), ls)
    assert not SENTINEL.exists(), "a state record ran code"
    assert sum(rejected.values()) == len(hostile)
    assert any("os.system" in r or "posix.system" in r for r in rejected), rejected
    assert any("format version 7" in r for r in rejected), rejected
    assert ls.head is not None and ls.head.offsets == {"gpu": 600}  # the real head is still the one used
    # the key the hostile record overwrote starts cold; every other key, and the lifecycle, is restored
    assert engine.open_anomaly_ids == good_ids
    assert dict.get(engine._instances, ("idle", "n1/GPU-1")) is None
    assert dict.get(engine._instances, ("idle", "n1/GPU-2")) is not None


def test_a_decoder_refuses_records_of_another_partition_and_keys_that_do_not_match() -> None:
    key, value = _entry_record(1, "idle", "n1/GPU-1", pickle.dumps({"a": 1}))
    dec = StateDecoder(0)
    assert dec.add(key, value) is not None and "partition 1" in next(iter(dec.rejected))
    dec = StateDecoder(1)
    assert dec.add(b"k/1/e/other", value) == "state record key does not match its header"
    assert dec.add(key, value) is None
    assert orjson.loads(value[10:10 + int.from_bytes(value[6:10], "big")])["name"] == "idle"


def _fleet() -> list[dict[str, Any]]:
    from collectors.simulate import SimConfig, simulate
    from spendwatch.events import decode

    return [decode(raw) for raw in simulate(SimConfig(hours=4, gpus=8, seed=5, billing_days=5)).lines]


def _peers(engine: Engine) -> dict[Any, set[str]]:
    return {group: set(members) for group, members in engine.context.shared("idle.peers").items() if members}


def test_shared_states_are_their_own_records_and_restore_before_the_instances() -> None:
    """One ``ModelDrift`` per model is shared by ``drift`` and ``retrain_without_drift``: it is written
    as its own key whenever it changed, restored once, and both detectors get the same object back;
    the idle detector's peer registry (derived, never written) is rebuilt by ``restored()``."""
    events = _fleet()
    cut = len(events) * 3 // 5
    own, store = fresh(), MemoryStateStore()
    engine = own.task.engine
    got: list[dict[str, Any]] = []
    for i, ev in enumerate(events[:cut]):
        got += engine.process(ev)
        if i % 1500 == 1499:  # incremental checkpoints, as the worker writes them
            checkpoint(own, store, offset=i + 1)
    checkpoint(own, store, offset=cut)
    models = {k for n, k in engine.context.states if n == "model_drift"}
    assert models and engine.open_anomaly_ids
    ls = load(store)
    assert {k for (n, k) in ls.entries if n == "state:model_drift"} == models
    again, rejected = restore_engine(Settings(), ls)
    assert not rejected
    for model in models:
        drift = dict.get(again._instances, ("drift", model))
        rwd = dict.get(again._instances, ("retrain_without_drift", model))
        shared = dict.get(again.context.states, ("model_drift", model))
        assert shared is not None and drift is not None and rwd is not None
        assert drift.model is shared and rwd.model is shared  # one state, not two copies
    assert _peers(again) == _peers(engine) and _peers(again)
    rest = events[cut:]
    assert canonical_events(again.process_many(rest)) == canonical_events(Engine_continued(events, cut))


def test_an_event_that_only_changes_a_shared_state_writes_it() -> None:
    events = [e for e in _fleet() if e["type"] == "model_observation"]
    own, store = fresh(), MemoryStateStore()
    for ev in events[:-1]:
        own.task.engine.process(ev)
    checkpoint(own, store)
    last = events[-1]
    own.task.engine.process(last)
    written = [orjson.loads(v[10:10 + int.from_bytes(v[6:10], "big")]) for _k, v in checkpoint(own, store)
               if v is not None and v[5:6] == ENTRY]
    drift_keys = {("drift", last["model_id"]), ("retrain_without_drift", last["model_id"]),
                  ("state:model_drift", last["model_id"])}
    names = {(h["name"], h["key"]) for h in written}
    assert drift_keys <= names  # the drift state and its two detectors, and nothing of other models:
    assert {k for _n, k in names - drift_keys} <= {last["model_id"], last["workload"]["id"]}  # (unit costs)


def test_a_hostile_shared_state_is_refused_and_its_detectors_share_a_cold_one() -> None:
    events = [e for e in _fleet() if e["type"] in ("model_observation", "training_run")]
    own, store = fresh(), MemoryStateStore()
    own.task.engine.process_many(events)
    checkpoint(own, store)
    model = events[-1]["model_id"]
    store.write(0, [_entry_record(0, "state:model_drift", model, pickle.dumps({"not": "detector state"}))])
    again, rejected = restore_engine(Settings(), load(store))
    assert list(rejected) == ["shared state payload is a dict, not detector state"]
    assert ("model_drift", model) not in again.context.states  # refused: the detectors start it cold
    drift = dict.get(again._instances, ("drift", model))
    assert drift.model is dict.get(again._instances, ("retrain_without_drift", model)).model


def canonical_events(events: list[dict[str, Any]]) -> list[bytes]:
    """Anomaly events as sorted canonical JSON: a restored Engine ticks its keys in another order."""
    return sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in events)


def Engine_continued(events: list[dict[str, Any]], cut: int) -> list[dict[str, Any]]:  # noqa: N802
    """What an Engine that never stopped emits after ``cut``."""
    engine = Engine()
    engine.process_many(events[:cut])
    return engine.process_many(events[cut:])
