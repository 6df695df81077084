"""The one Kafka key rule (spendwatch/contract.py), as the contract's topic table states it, and the
partition rule every producer we ship follows (Kafka's murmur2, of the node for GPU samples)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from spendwatch.contract import (
    BILLING_DELTA,
    FEEDBACK,
    GPU_SAMPLE,
    INPUT_TYPES,
    MODEL_OBSERVATION,
    TOPICS,
    TRAINING_RUN,
    kafka_key,
    murmur2,
    partition_for,
    partition_key,
    topic_name,
)
from spendwatch.kafka import KafkaConfig
from tests.factories import gpu_sample


def gpu(mig: str | None = None) -> dict[str, Any]:
    return gpu_sample(1.0, mig_uuid=mig)


def test_keys_per_contract() -> None:
    assert kafka_key(gpu()) == "n1/GPU-1"
    assert kafka_key(gpu(mig="MIG-x")) == "n1/MIG-x"
    assert kafka_key({"type": "billing_delta", "workload": {"id": "ns/app"}}) == "ns/app"
    assert kafka_key({"type": "training_run", "model_id": "m"}) == "m"
    assert kafka_key({"type": "model_observation", "model_id": "m", "values": {}}) == "m"
    assert kafka_key({"type": "anomaly", "id": "idle_gpu-abc"}) == "idle_gpu-abc"


def test_a_value_that_is_not_an_event_still_gets_a_key() -> None:
    # a producer routes bad lines to the worker (which dead-letters them) instead of failing on them
    assert kafka_key({"type": "billing_delta", "workload": "not an object"}) == ""
    assert kafka_key({"type": "training_run"}) == ""
    assert kafka_key({"type": "no such type", "model_id": "m"}) == ""
    assert kafka_key({"type": "gpu_sample"}) == "None/None"


def test_topics_per_contract() -> None:
    assert [TOPICS[t] for t in INPUT_TYPES] == ["spendwatch.gpu.samples", "spendwatch.billing.deltas",
                                                 "spendwatch.training.runs", "spendwatch.model.observations"]
    assert (TOPICS["anomaly"], TOPICS["deadletter"]) == ("spendwatch.anomalies", "spendwatch.deadletter")
    assert topic_name("anomaly", "dev.") == "dev.spendwatch.anomalies"
    assert KafkaConfig(topic_prefix="p.").topic("gpu_sample") == "p.spendwatch.gpu.samples"


# Kafka's own test vectors for Utils.murmur2 (clients/src/test/.../utils/UtilsTest.java)
KAFKA_MURMUR2 = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
                 b"a-little-bit-longer-string": -1486304829, b"abc": 479470107,
                 b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971}


def test_murmur2_is_kafkas() -> None:
    from aiokafka.partitioner import DefaultPartitioner
    from kafka.partitioner.default import murmur2 as kafka_python_murmur2

    assert {k: murmur2(k) for k in KAFKA_MURMUR2} == KAFKA_MURMUR2
    rng = random.Random(5)
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(0, 80))
        assert murmur2(data) & 0xFFFFFFFF == kafka_python_murmur2(data)
    for _ in range(3000):
        key = "".join(rng.choice("abcxyz/-_.0123456789üé") for _ in range(rng.randrange(0, 40)))
        n = rng.randrange(1, 64)
        # what the Python clients' default partitioner picks for the whole key = ours for a key-partitioned type
        assert DefaultPartitioner()(key.encode(), list(range(n)), list(range(n))) == partition_for(BILLING_DELTA,
                                                                                                 key, n)


def test_gpu_samples_are_partitioned_by_node_and_everything_else_by_its_key() -> None:
    assert partition_key(GPU_SAMPLE, kafka_key(gpu())) == "n1"
    assert partition_key(GPU_SAMPLE, kafka_key(gpu(mig="MIG-GPU-1/3/0"))) == "n1"  # old MIG ids hold slashes
    assert partition_key(BILLING_DELTA, "ns/app") == "ns/app"  # a workload id keeps its slash
    assert partition_key(TRAINING_RUN, "m") == partition_key(MODEL_OBSERVATION, "m") == "m"
    assert partition_key(FEEDBACK, "dgx-1/GPU-9", kind="idle_gpu") == "dgx-1"  # to the GPU's partition
    assert partition_key(FEEDBACK, "ml/agent", kind="cost_spike") == "ml/agent"
    nodes = [f"node-{i}" for i in range(40)]
    for n in (1, 3, 8, 12):
        for node in nodes:
            want = partition_for(GPU_SAMPLE, f"{node}/GPU-0", n)
            assert all(partition_for(GPU_SAMPLE, f"{node}/GPU-{g}", n) == want for g in range(8))
    assert len({partition_for(GPU_SAMPLE, f"{node}/GPU-0", 8) for node in nodes}) == 8  # nodes still spread
    assert partition_for(BILLING_DELTA, "ns/app", 8) == (murmur2(b"ns/app") & 0x7FFFFFFF) % 8
    with pytest.raises(ValueError, match="at least one partition"):
        partition_for(GPU_SAMPLE, "n1/GPU-1", 0)


@pytest.mark.kafka
def test_partition_for_is_what_kafkas_java_default_partitioner_picks(tmp_path: Path) -> None:
    """Kafka's own BuiltInPartitioner.partitionForKey (kafka-clients 4.4, from the suite's jar cache)."""
    import subprocess

    from streams.kafka_local import ensure_libs, java_binary

    java = java_binary()
    if subprocess.run([java, "--list-modules"], capture_output=True, text=True).stdout.find("jdk.compiler") < 0:
        pytest.skip("this Java has no compiler module (a JRE): cannot run a Java source file")
    keys = ["n1", "ns/app", "churn", "dgx-a100-07", "", "ml/agent-ü", *(f"node-{i}" for i in range(50))]
    src = tmp_path / "Pick.java"
    src.write_text("""
import java.nio.charset.StandardCharsets;
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
public class Pick {
    public static void main(String[] args) throws Exception {
        java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(System.in, "UTF-8"));
        for (String line; (line = in.readLine()) != null; )
            for (String n : args)
                System.out.println(BuiltInPartitioner.partitionForKey(line.getBytes(StandardCharsets.UTF_8),
                                                                      Integer.parseInt(n)));
    }
}
""")
    counts = (1, 4, 12)
    p = subprocess.run([java, "-cp", f"{ensure_libs()}/*", str(src), *map(str, counts)],
                       input="\n".join(keys) + "\n", capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert [int(x) for x in p.stdout.split()] == [partition_for(BILLING_DELTA, k, n) for k in keys for n in counts]
