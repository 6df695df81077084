"""Worker pieces without a broker: event-time alignment, covered offsets, snapshots, dead letters, keys."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from collectors.produce import route_line
from detectors.engine import Engine
from streams.consumer import deadletter_value
from streams.partition import DeadLetter, PartitionTask
from streams.state import MemorySnapshotStore, Snapshot
from tests.factories import billing_delta, gpu_sample, workload

pytestmark = pytest.mark.timeout(30)


@dataclass
class Rec:
    offset: int
    value: bytes | None
    key: bytes | None = b"k"


def gpu(ts: float, util: float = 0.0, uuid: str = "GPU-1") -> dict[str, Any]:
    return gpu_sample(ts, gpu_uuid=uuid, util_gpu_pct=util, workload=workload("ml/a"), price_per_hour_usd=2.0)


def bill(ts: float) -> dict[str, Any]:
    return billing_delta(ts, workload=workload("ml/a"))


class Recorder(Engine):
    """An Engine that remembers the order events reached it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[float] = []

    def process(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        self.seen.append(event["ts"])
        return super().process(event)


def recs(events: list[Any], start: int = 0) -> list[Rec]:
    return [Rec(start + i, e if isinstance(e, bytes) or e is None else orjson.dumps(e)) for i, e in enumerate(events)]


def test_topics_are_merged_in_event_time_and_held_back_until_the_slower_one_catches_up() -> None:
    eng = Recorder()
    task = PartitionTask(0, ["gpu", "bill"], eng)
    task.add("gpu", recs([gpu(100), gpu(200), gpu(300)]))
    task.add("bill", recs([bill(50), bill(150)]))
    out, dead = task.drain()  # neither caught up: safe up to min(newest gpu 300, newest bill 150)
    assert eng.seen == [50, 100, 150]
    assert task.next_offset == {"gpu": 1, "bill": 2}  # offsets cover exactly what was processed
    task.add("bill", recs([bill(400)], start=2))
    task.drain()
    assert eng.seen == [50, 100, 150, 200, 300]
    task.caught_up["bill"] = task.caught_up["gpu"] = True
    task.drain()
    assert eng.seen == [50, 100, 150, 200, 300, 400]
    assert task.buffered == 0 and task.next_offset == {"gpu": 3, "bill": 3}


def test_a_caught_up_topic_does_not_hold_back_the_others() -> None:
    eng = Recorder()
    task = PartitionTask(0, ["gpu", "bill"], eng)
    task.add("gpu", recs([gpu(100), gpu(200)]))
    task.drain()
    assert eng.seen == []  # bill has not been read yet: it could still deliver something earlier
    task.caught_up["bill"] = True  # empty and caught up: nothing earlier can come from it
    task.drain()
    assert eng.seen == [100, 200]


def test_bad_records_are_dead_lettered_in_place_with_their_offset() -> None:
    task = PartitionTask(3, ["gpu"], Recorder())
    bad = task.add("gpu", recs([gpu(100), b"{not json", None, orjson.dumps(gpu(110, util=300)), gpu(120)]))
    assert bad == 3
    task.caught_up["gpu"] = True
    out, dead = task.drain()
    assert [(d.offset, d.partition) for d in dead] == [(1, 3), (2, 3), (3, 3)]
    assert dead[0].reason.startswith("not valid JSON") and dead[1].reason.startswith("empty value")
    assert dead[2].reason.startswith("util_gpu_pct")
    assert task.next_offset == {"gpu": 5} and task.events_in == {"gpu": 2}


def test_a_record_that_crashes_a_detector_is_dead_lettered_not_fatal() -> None:
    class Boom(Engine):
        def process(self, event: dict[str, Any]) -> list[dict[str, Any]]:
            if event["ts"] == 200:
                raise RuntimeError("boom")
            return super().process(event)

    task = PartitionTask(0, ["gpu"], Boom())
    task.add("gpu", recs([gpu(100), gpu(200), gpu(300)]))
    task.caught_up["gpu"] = True
    out, dead = task.drain()
    assert [d.offset for d in dead] == [1] and "RuntimeError: boom" in dead[0].reason
    assert task.next_offset == {"gpu": 3}


def test_snapshot_round_trip_restores_engine_and_offsets() -> None:
    eng = Engine()
    for i in range(200):  # 50 idle minutes: an open idle anomaly
        eng.process(gpu(1_000_000 + 15 * i))
    assert eng.open_anomaly_ids
    store = MemorySnapshotStore()
    asyncio.run(store.save([Snapshot(2, {"t.gpu": 200}, eng.snapshot(), eng.watermark)]))
    snap = asyncio.run(store.load([1, 2]))
    assert list(snap) == [2] and snap[2].offsets == {"t.gpu": 200}
    again = Engine()
    again.restore(snap[2].engine)
    assert again.open_anomaly_ids == eng.open_anomaly_ids and again.watermark == eng.watermark
    # the restored Engine continues the same problem: no second id, no burst
    assert [a["id"] for a in again.process(gpu(1_000_000 + 15 * 200, util=90))] in ([], eng.open_anomaly_ids)


def test_deadletter_record_keeps_the_raw_value() -> None:
    text = orjson.loads(deadletter_value(DeadLetter("t", 1, 7, b"k", b'{"a":', "not valid JSON: x")))
    assert text == {"type": "deadletter", "reason": "not valid JSON: x", "topic": "t", "partition": 1, "offset": 7,
                    "key": "k", "raw": '{"a":'}
    binary = orjson.loads(deadletter_value(DeadLetter("t", 0, 1, None, b"\xff\x00", "not valid JSON")))
    assert binary["raw"] is None and binary["raw_b64"] == "/wA="


def test_lines_are_routed_to_their_topic_with_the_contract_key() -> None:
    assert route_line(b"garbage") == ("gpu_sample", b"")
    assert route_line(orjson.dumps(bill(1))) == ("billing_delta", b"ml/a")


def test_a_huge_bad_value_is_truncated_in_its_dead_letter() -> None:
    from streams.consumer import MAX_DEADLETTER_RAW

    doc = orjson.loads(deadletter_value(DeadLetter("t", 0, 1, None, b"x" * (MAX_DEADLETTER_RAW + 10), "too big")))
    assert len(doc["raw"]) == MAX_DEADLETTER_RAW and doc["raw_truncated_from"] == MAX_DEADLETTER_RAW + 10
