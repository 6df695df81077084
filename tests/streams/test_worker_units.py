"""Worker pieces without a broker: event-time alignment, covered offsets, snapshots, dead letters, keys."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from collectors.produce import route_line
from detectors.engine import Engine
from streams.consumer import deadletter_value
from streams.partition import DeadLetter, PartitionTask
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

    def process(self, event: dict[str, Any], ref: Any = None) -> list[dict[str, Any]]:
        self.seen.append(event["ts"])
        return super().process(event, ref)


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
        def process(self, event: dict[str, Any], ref: Any = None) -> list[dict[str, Any]]:
            if event["ts"] == 200:
                raise RuntimeError("boom")
            return super().process(event, ref)

    task = PartitionTask(0, ["gpu"], Boom())
    task.add("gpu", recs([gpu(100), gpu(200), gpu(300)]))
    task.caught_up["gpu"] = True
    out, dead = task.drain()
    assert [d.offset for d in dead] == [1] and "RuntimeError: boom" in dead[0].reason
    assert dead[0].topic == "gpu"  # the record's topic (it was the event's type)
    assert task.next_offset == {"gpu": 3}


def test_what_the_engine_refuses_is_dead_lettered_with_its_origin() -> None:
    """Money beyond limits.max_event_usd and a sample dated a year ahead were set aside by the Engine
    and never dead-lettered (the worker kept them in a list that only grew)."""
    absurd = {**gpu(115.0), "price_per_hour_usd": 1.7e308}
    stream = [gpu(15.0 * i) for i in range(1, 81)]
    stream[6:6] = [absurd]
    stream[60:60] = [gpu(stream[59]["ts"] + 365 * 86400.0)]  # held, then refused by the next sample
    task = PartitionTask(2, ["gpu"], Engine())
    task.add("gpu", recs(stream))
    task.caught_up["gpu"] = True
    out, dead = task.drain()
    assert [(d.topic, d.partition, d.offset) for d in dead] == [("gpu", 2, 6), ("gpu", 2, 60)]
    assert dead[0].reason.startswith("price_per_hour_usd: 1.7e+308 is beyond limits.max_event_usd")
    assert dead[1].reason.startswith("ts: ") and "dated in the future" in dead[1].reason
    assert dead[0].key == b"n1/GPU-1" and orjson.loads(dead[0].value or b"")["price_per_hour_usd"] == 1.7e308
    assert task.engine.rejected == [] and task.next_offset == {"gpu": len(stream)}


def test_deadletter_record_keeps_the_raw_value() -> None:
    text = orjson.loads(deadletter_value(DeadLetter("t", 1, 7, b"k", b'{"a":', "not valid JSON: x")))
    assert text == {"type": "deadletter", "reason": "not valid JSON: x", "topic": "t", "partition": 1, "offset": 7,
                    "key": "k", "raw": '{"a":'}
    binary = orjson.loads(deadletter_value(DeadLetter("t", 0, 1, None, b"\xff\x00", "not valid JSON")))
    assert binary["raw"] is None and binary["raw_b64"] == "/wA="


def test_lines_are_routed_to_their_topic_with_the_contract_key() -> None:
    assert route_line(b"garbage") == ("gpu_sample", b"", None)
    assert route_line(orjson.dumps(bill(1))) == ("billing_delta", b"ml/a", None)
    verdict = {"type": "feedback", "ts": 1.0, "anomaly_id": "idle_gpu-1", "kind": "idle_gpu", "resource": "GPU-1",
               "key": "n1/GPU-1", "verdict": "not_a_problem", "by": "U1"}
    assert route_line(orjson.dumps(verdict)) == ("feedback", b"n1/GPU-1", "idle_gpu")  # the worker reads it too


def test_a_huge_bad_value_is_truncated_in_its_dead_letter() -> None:
    from streams.consumer import MAX_DEADLETTER_RAW

    doc = orjson.loads(deadletter_value(DeadLetter("t", 0, 1, None, b"x" * (MAX_DEADLETTER_RAW + 10), "too big")))
    assert len(doc["raw"]) == MAX_DEADLETTER_RAW and doc["raw_truncated_from"] == MAX_DEADLETTER_RAW + 10


def test_records_below_the_expected_offset_are_dropped_not_taken_as_the_start() -> None:
    eng = Recorder()
    task = PartitionTask(0, ["gpu"], eng, positions={"gpu": 5})
    task.add("gpu", recs([gpu(100), gpu(110), gpu(120)], start=3))  # a fetch that raced a seek: 3, 4 are old
    task.caught_up["gpu"] = True
    task.drain()
    assert eng.seen == [120] and task.stale == 2 and task.next_offset == {"gpu": 6}
    task.add("gpu", recs([gpu(130)], start=9))  # above the expected offset: legal (markers, compaction)
    task.drain()
    assert eng.seen == [120, 130] and task.gaps == 1 and task.next_offset == {"gpu": 10}


def test_a_topic_may_lead_a_caught_up_one_by_max_lead_for_at_most_hold_seconds() -> None:
    eng = Recorder()
    task = PartitionTask(0, ["gpu", "bill"], eng, max_lead_s=600, hold_s=2.0)
    task.add("bill", recs([bill(1000)]))
    task.add("gpu", recs([gpu(900), gpu(1500), gpu(1700), gpu(5000)]))
    task.caught_up["bill"] = task.caught_up["gpu"] = True
    task.drain(now=100.0)
    assert eng.seen == [900, 1000, 1500]  # up to bill's newest + 600 s; the rest waits for bill
    task.drain(now=101.0)
    assert eng.seen == [900, 1000, 1500]
    task.add("bill", recs([bill(1650)], start=1))  # bill's producer delivers what belongs in between
    task.drain(now=101.5)
    assert eng.seen == [900, 1000, 1500, 1650, 1700]
    task.drain(now=102.0)  # 5000 began waiting at 101.5: not yet
    assert eng.seen[-1] == 1700
    task.drain(now=103.6)  # waited 2 s: bill has nothing more for this stretch
    assert eng.seen == [900, 1000, 1500, 1650, 1700, 5000]
    task.add("gpu", recs([gpu(5060)], start=4))  # the stream goes on while bill stays quiet
    task.drain(now=103.7)
    assert eng.seen[-1] == 5060  # the stretch waited once: not held again (it went out every hold_s)
    task.add("bill", recs([bill(5100)], start=2))  # bill moves on: a new stretch may be held again
    task.add("gpu", recs([gpu(5800)], start=5))
    task.drain(now=103.8)
    assert eng.seen[-2:] == [5060, 5100]
    task.drain(now=105.9)
    assert eng.seen[-1] == 5800


def test_what_the_lead_bound_holds_is_released_when_the_partition_goes_quiet() -> None:
    eng = Recorder()
    task = PartitionTask(0, ["gpu", "bill"], eng, max_lead_s=600, hold_s=30.0)
    task.add("bill", recs([bill(1000)]))
    task.add("gpu", recs([gpu(1500), gpu(5000)]))
    task.caught_up["bill"] = task.caught_up["gpu"] = True
    task.drain(now=10.0)
    assert eng.seen == [1000, 1500]
    task.drain(now=11.0, quiet=True)  # nothing arrived lately on any topic: the end of the input
    assert eng.seen == [1000, 1500, 5000]


def test_what_detectors_set_aside_is_counted_in_the_workers_metrics() -> None:
    from spendwatch.config import Settings
    from spendwatch.kafka import KafkaConfig
    from streams.consumer import BatchWorker, owned_from
    from streams.settings import WorkerSettings
    from streams.state import LoadedState
    from streams.topics import WorkerTopics

    kafka = KafkaConfig()
    worker = BatchWorker(Settings(), WorkerSettings(), kafka, WorkerTopics.of(kafka, "g"))
    engine = Engine()
    worker.owned[0] = owned_from(PartitionTask(0, ["bill"], engine), LoadedState(0))
    engine.context.count("billing_rows_too_late", 2)
    worker._gauges()
    engine.context.count("billing_rows_too_late")
    worker._gauges()
    worker._gauges()  # nothing new: nothing added
    text = worker.metrics.render().decode()
    assert 'spendwatch_detector_set_aside_total{reason="billing_rows_too_late"} 3.0' in text


def test_a_kraft_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 1 id in 64 began with "-", and StorageTool read `-t -xyz` as a missing value: CI failed on one.
    import uuid

    from streams import kafka_local

    dashed = uuid.UUID(bytes=bytes([0xF8]) + bytes(15))
    plain = uuid.UUID(bytes=bytes([0x10]) + bytes(15))
    drawn = iter([dashed, dashed, plain])
    monkeypatch.setattr(kafka_local.uuid, "uuid4", lambda: next(drawn))
    cid = kafka_local.cluster_id()
    assert cid == "EAAAAAAAAAAAAAAAAAAAAA"
    assert next(drawn, None) is None
