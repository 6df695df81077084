"""Apache Kafka behaviour the worker relies on: restore after the state topic was compacted, TLS and
SASL/SCRAM (the README's managed-Kafka settings, exercised end to end), and the fallback to
at-least-once on a broker without transactions (Tansu)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafkatools import ROOT, Stream, Worker, make_topics, produce, read_topic, triples
from test_worker_exactly_once import AUDIT, assert_exactly_replay
from tlsgen import Pki, make_pki

from collectors.produce import produce_lines
from spendwatch.kafka import kafka_config
from streams import topics

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]
PASSWORD = "Sw-test-s3cret-9f2"


def _state_heads(bootstrap: str, topic: str) -> set[tuple[int, int]]:
    """(partition, offset) of every state head record still in the log."""
    return {(r.partition, r.offset) for r in read_topic(bootstrap, topic, idle_s=1.0) if r.key and r.key[:2] == b"h/"}


def test_state_restores_after_the_compacted_state_topic_was_cleaned(kafka_bootstrap: str, unique: str,
                                                                    tmp_path: Path, stream: Stream) -> None:
    prefix, group = f"t{unique}.", f"g{unique}"
    state_topic = f"{prefix}spendwatch.state.{group}"
    make_topics(kafka_bootstrap, prefix, group, state_config={"segment.ms": "300", "min.cleanable.dirty.ratio": "0.01",
                                                               "delete.retention.ms": "1000"})
    lines = stream.lines
    cut = 2 * len(lines) // 3

    def feed() -> None:
        step = cut // 8 + 1
        for i in range(0, cut, step):
            produce(kafka_bootstrap, prefix, lines[i:min(i + step, cut)])
            time.sleep(0.3)

    feeder = threading.Thread(target=feed)
    feeder.start()  # fed over a few seconds: many checkpoints, each superseding the last head of its partition
    w1 = Worker(kafka_bootstrap, prefix, group, tmp_path, "--exit-when-idle", "3", "--checkpoint-interval", "0.2",
                name="w1", env=AUDIT)
    feeder.join(60)
    assert w1.wait(120) == 0, w1.log()[-3000:]
    deadline = time.monotonic() + 90
    while len(heads := _state_heads(kafka_bootstrap, state_topic)) > 8 and time.monotonic() < deadline:
        time.sleep(1)  # the log cleaner runs on rolled segments
    assert len(heads) <= 8, f"the state topic was never compacted: {len(heads)} heads of 4 partitions"
    produce(kafka_bootstrap, prefix, lines[cut:])
    w3 = Worker(kafka_bootstrap, prefix, group, tmp_path, "--exit-when-idle", "3", name="w3", env=AUDIT)
    assert w3.wait(120) == 0, w3.log()[-3000:]
    assert "restored=True" in w3.log() and "state record refused" not in w3.log()
    assert_exactly_replay(kafka_bootstrap, prefix, stream)


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Pki]]:
    from streams.kafka_local import KafkaCluster, ScramUser, TlsFiles

    pki = make_pki(tmp_path_factory.mktemp("pki"))
    with KafkaCluster(1, tmp_path_factory.mktemp("kafka-secure"), sasl_ssl=True, ssl=True,
                      tls=TlsFiles(pki.ca, pki.broker_keystore), users=[ScramUser("spendwatch", PASSWORD)]) as k:
        yield k, pki


def _small_stream(tmp: Path) -> tuple[list[bytes], list[dict[str, Any]]]:
    events = tmp / "ev.jsonl"
    subprocess.run([sys.executable, "-m", "spendwatch.cli", "simulate", "--hours", "3", "--gpus", "4",
                    "--billing-days", "3", "--out", str(events)], check=True, capture_output=True, cwd=ROOT)
    subprocess.run([sys.executable, "-m", "spendwatch.cli", "replay", str(events), "--out", str(tmp / "r.jsonl")],
                   check=True, capture_output=True, cwd=ROOT)
    return events.read_bytes().splitlines(), [orjson.loads(x) for x in (tmp / "r.jsonl").read_bytes().splitlines()]


def test_the_worker_runs_over_sasl_ssl_with_scram_sha_512(secure_kafka: tuple[Any, Pki], unique: str,
                                                          tmp_path: Path) -> None:
    kafka, pki = secure_kafka
    pw_file = tmp_path / "kafka-password"
    pw_file.write_text(PASSWORD + "\n")
    env = {"SPENDWATCH_KAFKA": kafka.sasl_ssl_bootstrap, "SPENDWATCH_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
           "SPENDWATCH_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "SPENDWATCH_KAFKA_SASL_USERNAME": "spendwatch",
           "SPENDWATCH_KAFKA_SASL_PASSWORD_FILE": str(pw_file), "SPENDWATCH_KAFKA_SSL_CAFILE": str(pki.ca)}
    cfg = replace(kafka_config(environ=env), topic_prefix=f"s{unique}.")  # the README's managed-Kafka settings
    lines, expected = _small_stream(tmp_path)
    assert asyncio.run(produce_lines(cfg, lines, idempotent=True)) == len(lines)
    w = Worker(kafka.sasl_ssl_bootstrap, f"s{unique}.", f"g{unique}", tmp_path, "--exit-when-idle", "3",
               env={**env, "SPENDWATCH_KAFKA_SASL_PASSWORD_FILE": str(pw_file)})
    assert w.wait(120) == 0, w.log()[-3000:]
    assert "exactly once" in w.log() and PASSWORD not in w.log()
    got = [orjson.loads(r.value) for r in asyncio.run(topics.read_topic(cfg, cfg.topic("anomaly")))]
    assert triples(got) == triples(expected) and len(triples(expected)) > 0
    # a wrong password: a clear error, exit 2, and the password is never printed
    bad = {**os.environ, **env, "SPENDWATCH_KAFKA_SASL_PASSWORD": "Wrong-Hunter2-pw", "SPENDWATCH_TOPIC_PREFIX": "x."}
    del bad["SPENDWATCH_KAFKA_SASL_PASSWORD_FILE"]
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "--log-level", "DEBUG", "worker", "--metrics-port",
                        "0"], cwd=ROOT, env=bad, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "cannot reach Kafka" in p.stderr and "Wrong-Hunter2-pw" not in p.stdout + p.stderr


def test_ssl_with_client_certificates_for_the_worker_and_the_collectors(secure_kafka: tuple[Any, Pki],
                                                                         unique: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer

    from streams.topics import WorkerTopics, ensure_topics

    kafka, pki = secure_kafka
    env = {"SPENDWATCH_KAFKA": kafka.ssl_bootstrap, "SPENDWATCH_KAFKA_SECURITY_PROTOCOL": "SSL",
           "SPENDWATCH_KAFKA_SSL_CAFILE": str(pki.ca), "SPENDWATCH_KAFKA_SSL_CERTFILE": str(pki.client_cert),
           "SPENDWATCH_KAFKA_SSL_KEYFILE": str(pki.client_key), "SPENDWATCH_TOPIC_PREFIX": f"c{unique}."}
    cfg = kafka_config(environ=env)  # Aiven style: TLS with a client certificate
    assert asyncio.run(ensure_topics(cfg, WorkerTopics.of(cfg, "g"), 2, 1)) == 2  # the worker's admin path
    producer = KafkaProducer(**cfg.kafka_python_kwargs())  # the collectors' path (kafka-python)
    producer.send(cfg.topic("training_run"), b'{"x": 1}').get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(cfg.topic("training_run"), **cfg.kafka_python_kwargs(), auto_offset_reset="earliest",
                             consumer_timeout_ms=10_000)
    assert [m.value for m in consumer] == [b'{"x": 1}']
    consumer.close()
    got = asyncio.run(topics.read_topic(cfg, cfg.topic("training_run"), idle_s=1.0))  # the worker's path (aiokafka)
    assert [r.value for r in got] == [b'{"x": 1}']
    no_cert = replace(cfg, ssl_certfile=None, ssl_keyfile=None)
    with pytest.raises(Exception):  # noqa: B017 - the broker requires a client certificate
        asyncio.run(asyncio.wait_for(ensure_topics(no_cert, WorkerTopics.of(no_cert, "g"), 2, 1), 30))


def test_a_broker_without_transactions_falls_back_to_at_least_once(tansu_bootstrap: str, unique: str,
                                                                    tmp_path: Path, stream: Stream) -> None:
    prefix, group = f"t{unique}.", f"g{unique}"
    make_topics(tansu_bootstrap, prefix, group)
    produce(tansu_bootstrap, prefix, stream.lines, idempotent=False)
    w = Worker(tansu_bootstrap, prefix, group, tmp_path, "--exit-when-idle", "3")
    assert w.wait(120) == 0, w.log()[-3000:]
    assert "broker has no transactions" in w.log() and "guarantee=at_least_once" in w.log()
    got = [orjson.loads(r.value) for r in read_topic(tansu_bootstrap, prefix + "spendwatch.anomalies")]
    assert {a["id"] for a in got} == {a["id"] for a in stream.expected}
    assert {a["id"] for a in got if a["state"] == "resolved"} == \
        {a["id"] for a in stream.expected if a["state"] == "resolved"}

