"""Publisher and spool: ordering, bounds, restart, and a real broker going down and coming back."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.publisher import KafkaTransport, Publisher, Record, Spool, TransportError
from spendwatch.contract import BILLING_DELTA, GPU_SAMPLE, kafka_key, partition_for
from spendwatch.errors import BadEvent
from spendwatch.events import encode
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


class DownTransport(FlakyTransport):
    """Refuses every send and notes when it was tried."""

    def __init__(self) -> None:
        super().__init__()
        self.up = False
        self.tried: list[float] = []

    def send(self, records: Sequence[Record]) -> int:
        self.tried.append(time.monotonic())
        return super().send(records)


def test_backoff_doubles_to_its_cap_and_close_does_not_wait_it_out(tmp_path: Path) -> None:
    """What the hand-written backoff does (docs/cli.md, Libraries: why not tenacity): the wait doubles from
    retry_initial_s up to retry_max_s, and it is a wait on the publisher's condition, so close() ends it."""
    t = DownTransport()
    pub = Publisher(KafkaConfig(), t, Spool(tmp_path / "s.sqlite"), retry_initial_s=0.1, retry_max_s=0.4)
    pub.publish(sample(1))
    time.sleep(1.6)  # tries at about 0, 0.1, 0.3, 0.7, 1.1, 1.5
    gaps = [b - a for a, b in zip(t.tried, t.tried[1:], strict=False)]
    assert 3 <= len(gaps) <= 8, gaps
    assert gaps[0] >= 0.09 and gaps[1] >= 0.19 and gaps[2] >= 0.38, gaps  # doubling
    assert max(gaps) < 0.4 + 0.25, gaps  # capped
    pub.close(flush_timeout_s=0.1)

    slow = DownTransport()
    pub = Publisher(KafkaConfig(), slow, Spool(tmp_path / "s2.sqlite"), retry_initial_s=30.0)
    pub.publish(sample(1))
    deadline = time.monotonic() + 5
    while not slow.tried and time.monotonic() < deadline:
        time.sleep(0.01)
    assert slow.tried  # it failed once and now waits 30 s
    t0 = time.monotonic()
    pub.close(flush_timeout_s=0.2)
    assert time.monotonic() - t0 < 3.0  # not 30 s: the stop wakes the wait
    assert pub._thread is not None and not pub._thread.is_alive()


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


@pytest.mark.kafka
@pytest.mark.xfail(strict=False, reason="known bug: KafkaTransport drops its producer after a timeout and the "
                   "spool re-sends the batch; a broker that keeps its log (Apache Kafka, unlike Tansu) then "
                   "holds every event twice. Needs an idempotent producer kept across the outage. Not strict: "
                   "whether a batch was in flight when the broker stopped is a matter of timing, so the test "
                   "passes now and then")
def test_apache_kafka_down_then_back_every_event_once_in_order(tmp_path: Path, unique: str) -> None:
    from streams.kafka_local import KafkaLocal

    broker = KafkaLocal(tmp_path / "kafka").start()  # Apache Kafka: it keeps its log across the crash
    cfg = KafkaConfig(bootstrap_servers=broker.bootstrap, topic_prefix=f"t{unique}.")
    pub = Publisher(cfg, KafkaTransport(cfg, timeout_s=2.0), Spool(tmp_path / "s.sqlite"), retry_initial_s=0.2,
                    retry_max_s=1.0)
    try:
        pub.publish(sample(1000))
        assert pub.flush(20), "first event not delivered to a running broker"
        broker.kill(0)  # the broker crashes (SIGKILL)
        events = [sample(i, gpu=f"GPU-{i % 3}") for i in range(30)]
        for ev in events:
            pub.publish(ev)
        time.sleep(1.0)
        assert pub.spool.count == 30  # nothing delivered while down, everything kept on disk
        broker.restart(0)  # the broker comes back on the same address with its log
        assert pub.flush(30), f"{pub.spool.count} events still spooled after the broker came back"
        got = _read_all(broker.bootstrap, cfg.topic("gpu_sample"), 31)
        values = [orjson.loads(r.value) for r in sorted(got, key=lambda r: (r.partition, r.offset))]
        assert sorted(v["mem_used_bytes"] for v in values) == [*range(30), 1000]  # each exactly once
        for gpu in ("GPU-0", "GPU-1", "GPU-2"):  # in order per key (the contract's ordering unit)
            seq = [v["mem_used_bytes"] for v in values if v["gpu_uuid"] == gpu and v["mem_used_bytes"] < 1000]
            assert seq == sorted(seq) and len(seq) == 10
        assert {r.key for r in got} == {b"n1/GPU-0", b"n1/GPU-1", b"n1/GPU-2"}
    finally:
        pub.close(flush_timeout_s=0.5)
        broker.stop()


def _idle_anomaly(node: str, gpu: str) -> dict[str, Any]:
    return {"id": f"idle_gpu-{node}-{gpu}", "kind": "idle_gpu", "resource": gpu, "workload": {"id": "ml/a"},
            "evidence": {"node": node, "gpu_uuid": gpu, "mig_uuid": None}}


def test_the_transport_picks_the_contract_partition() -> None:
    from spendwatch.history.feedback import feedback_event

    cfg = KafkaConfig(topic_prefix="x.")
    t = KafkaTransport(cfg)
    gpu_topic = cfg.topic("gpu_sample")
    for n in (1, 4, 12):
        want = partition_for(GPU_SAMPLE, "dgx-1/GPU-0", n)
        assert all(t.partition(gpu_topic, f"dgx-1/GPU-{g}".encode(), b"{}", n) == want for g in range(8))
        assert t.partition(cfg.topic("billing_delta"), b"ml/a", b"{}", n) == partition_for(BILLING_DELTA, "ml/a", n)
    idle = feedback_event(_idle_anomaly("dgx-1", "GPU-3"), "not_a_problem", "U1", ts=1.0)
    spike = feedback_event({"id": "cost_spike-1", "kind": "cost_spike", "resource": "sku",
                            "workload": {"id": "dgx-1/GPU-3"}, "evidence": {"note": "idle_gpu"}}, "acknowledged", "U1",
                           ts=1.0)
    fb = cfg.topic("feedback")
    assert all(t.partition(fb, kafka_key(idle).encode(), encode(idle), n) == partition_for(GPU_SAMPLE, "dgx-1/x", n)
               for n in (3, 8, 12))  # feedback on an idle GPU reaches that GPU's partition
    assert [t.partition(fb, kafka_key(spike).encode(), encode(spike), n) for n in (3, 8, 12)] == \
        [partition_for(BILLING_DELTA, "dgx-1/GPU-3", n) for n in (3, 8, 12)]  # a workload id is the whole key


@pytest.mark.kafka
def test_published_gpu_samples_share_their_nodes_partition_on_apache_kafka(kafka_bootstrap: str, unique: str,
                                                                           tmp_path: Path) -> None:
    import asyncio

    from streams.topics import WorkerTopics, ensure_topics

    cfg = KafkaConfig(bootstrap_servers=kafka_bootstrap, topic_prefix=f"t{unique}.")
    asyncio.run(ensure_topics(cfg, WorkerTopics.of(cfg, f"g{unique}"), 4, 1))
    pub = Publisher(cfg, KafkaTransport(cfg, timeout_s=10.0), Spool(tmp_path / "s.sqlite"), start=False)
    nodes = [f"node-{i}" for i in range(6)]
    try:
        pub.publish_many([{**sample(i, gpu=f"GPU-{g}"), "node": node} for i in range(3) for node in nodes
                          for g in range(4)])
        assert pub.flush(30)
    finally:
        pub.close(flush_timeout_s=0.5)
    got = _read_all(kafka_bootstrap, cfg.topic("gpu_sample"), 72)
    assert len(got) == 72
    by_node: dict[str, set[int]] = {}
    for r in got:
        node = orjson.loads(r.value)["node"]
        by_node.setdefault(node, set()).add(r.partition)
        assert r.partition == partition_for(GPU_SAMPLE, r.key.decode(), 4)
    assert set(by_node) == set(nodes) and all(len(p) == 1 for p in by_node.values())
    assert len({p for parts in by_node.values() for p in parts}) > 1  # nodes spread over partitions
