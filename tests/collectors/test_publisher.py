"""Publisher and spool: ordering, bounds, restart, and a real broker going down and coming back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.publisher import KafkaTransport, Publisher, Record, Spool, TransportError
from spendwatch.errors import BadEvent
from spendwatch.kafka import KafkaConfig
from streams.broker import LocalBroker, free_port
from tests.factories import gpu_sample


def sample(i: int, gpu: str = "GPU-1") -> dict[str, Any]:
    return gpu_sample(1_800_000_000.0 + i, gpu_uuid=gpu, interval_s=1.0, util_gpu_pct=50.0, mem_used_bytes=i,
                      mem_total_bytes=10**9, workload=None)


class FlakyTransport:
    """A test double: delivers into a list, or refuses while ``up`` is False."""

    def __init__(self) -> None:
        self.up = True
        self.got: list[Record] = []

    def send(self, records: Sequence[Record]) -> int:
        if not self.up:
            raise TransportError("broker down")
        self.got.extend(records)
        return len(records)

    def close(self) -> None:
        pass


def test_invalid_events_are_refused(tmp_path: Path) -> None:
    pub = Publisher(KafkaConfig(), FlakyTransport(), Spool(tmp_path / "s.sqlite"), start=False)
    with pytest.raises(BadEvent):
        pub.publish({**sample(1), "util_gpu_pct": 101})
    assert pub.spool.count == 0


def test_outage_spools_in_order_and_restart_loses_nothing(tmp_path: Path) -> None:
    t = FlakyTransport()
    t.up = False
    pub = Publisher(KafkaConfig(topic_prefix="x."), t, Spool(tmp_path / "s.sqlite"), retry_initial_s=0.01)
    pub.publish_many([sample(i) for i in range(50)])
    assert not pub.flush(0.3)
    pub.close(flush_timeout_s=0.1)  # the collector stops while the broker is down
    t2 = FlakyTransport()
    pub2 = Publisher(KafkaConfig(topic_prefix="x."), t2, Spool(tmp_path / "s.sqlite"), retry_initial_s=0.01)
    assert pub2.spool.count == 50
    pub2.publish(sample(50))
    assert pub2.flush(5)
    assert [orjson.loads(v)["mem_used_bytes"] for _t, _k, v in t2.got] == list(range(51))
    assert {topic for topic, _k, _v in t2.got} == {"x.spendwatch.gpu.samples"}
    pub2.close()


def test_overflow_drops_oldest_and_counts(tmp_path: Path) -> None:
    t = FlakyTransport()
    t.up = False
    pub = Publisher(KafkaConfig(), t, Spool(tmp_path / "s.sqlite", max_events=10), start=False)
    for i in range(25):
        pub.publish(sample(i))
    assert pub.spool.count == 10 and pub.spool.dropped == 15
    assert pub.m_dropped._value.get() == 15
    t.up = True
    assert pub.flush(2)
    assert [orjson.loads(v)["mem_used_bytes"] for _t, _k, v in t.got] == list(range(15, 25))


def test_byte_bound(tmp_path: Path) -> None:
    pub = Publisher(KafkaConfig(), FlakyTransport(), Spool(tmp_path / "s.sqlite", max_bytes=2000), start=False)
    for i in range(40):
        pub.publish(sample(i))
    assert pub.spool.bytes <= 2000 and pub.spool.dropped > 0


def _read_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 20.0) -> list[Any]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=1000)
    deadline = time.monotonic() + timeout_s
    parts = None
    while parts is None and time.monotonic() < deadline:
        parts = consumer.partitions_for_topic(topic)
        if parts is None:
            time.sleep(0.2)
    assert parts is not None, f"topic {topic} never appeared"
    consumer.assign([TopicPartition(topic, p) for p in parts])
    got: list[Any] = []
    while len(got) < expect and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            got.extend(batch)
    # a little longer, to catch any duplicate
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        for batch in consumer.poll(timeout_ms=200).values():
            got.extend(batch)
    consumer.close()
    return got


@pytest.mark.kafka
def test_real_broker_down_then_back_every_event_once_in_order(tmp_path: Path, unique: str) -> None:
    port = free_port()
    broker = LocalBroker(port=port).start()
    cfg = KafkaConfig(bootstrap_servers=broker.bootstrap, topic_prefix=f"t{unique}.")
    pub = Publisher(cfg, KafkaTransport(cfg, timeout_s=2.0), Spool(tmp_path / "s.sqlite"), retry_initial_s=0.2,
                    retry_max_s=1.0)
    try:
        pub.publish(sample(1000))
        assert pub.flush(20), "first event not delivered to a running broker"
        broker.stop()  # Tansu keeps messages in memory: what it held is gone with it
        events = [sample(i, gpu=f"GPU-{i % 3}") for i in range(30)]
        for ev in events:
            pub.publish(ev)
        time.sleep(1.0)
        assert pub.spool.count == 30  # nothing delivered while down, everything kept on disk
        broker = LocalBroker(port=port).start()  # the broker comes back on the same address
        assert pub.flush(30), f"{pub.spool.count} events still spooled after the broker came back"
        got = _read_all(broker.bootstrap, cfg.topic("gpu_sample"), 30)
        values = [orjson.loads(r.value) for r in sorted(got, key=lambda r: (r.partition, r.offset))]
        assert sorted(v["mem_used_bytes"] for v in values) == list(range(30))  # each exactly once
        for gpu in ("GPU-0", "GPU-1", "GPU-2"):  # in order per key (the contract's ordering unit)
            seq = [v["mem_used_bytes"] for v in values if v["gpu_uuid"] == gpu]
            assert seq == sorted(seq) and len(seq) == 10
        assert {r.key for r in got} == {b"n1/GPU-0", b"n1/GPU-1", b"n1/GPU-2"}
    finally:
        pub.close(flush_timeout_s=0.5)
        broker.stop()
