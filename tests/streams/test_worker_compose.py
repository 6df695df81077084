"""docker-compose.yml (what users run; no Docker engine here): its structure, parsed and checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(10)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_services_and_images(compose: dict[str, Any]) -> None:
    s = compose["services"]
    assert set(s) >= {"kafka", "postgres", "worker", "simulator"}
    assert s["kafka"]["image"].startswith("apache/kafka:")
    assert s["postgres"]["image"].startswith("postgres:")
    assert s["worker"]["build"] == "." and (ROOT / "Dockerfile").is_file()
    assert s["simulator"]["image"] == s["worker"]["image"]


def test_kafka_is_kraft_and_reachable_from_containers_and_host(compose: dict[str, Any]) -> None:
    env = compose["services"]["kafka"]["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"] and "broker" in env["KAFKA_PROCESS_ROLES"]
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{env['KAFKA_NODE_ID']}@kafka:")
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    host_port = env["KAFKA_ADVERTISED_LISTENERS"].split("localhost:")[1]
    assert f"127.0.0.1:{host_port}:{host_port}" in compose["services"]["kafka"]["ports"]
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"  # one broker


def test_worker_environment_ports_and_order(compose: dict[str, Any]) -> None:
    w = compose["services"]["worker"]
    assert w["environment"]["SPENDWATCH_KAFKA"] == "kafka:9092"
    assert w["environment"]["SPENDWATCH_DB"].startswith("postgresql://")
    assert w["command"][0] == "worker"
    port = w["command"][w["command"].index("--metrics-port") + 1]
    assert f"127.0.0.1:{port}:{port}" in w["ports"]  # metrics published on loopback only
    assert w["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert w["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert w["stop_signal"] == "SIGTERM" and w["stop_grace_period"]
    assert compose["services"]["simulator"]["environment"]["SPENDWATCH_KAFKA"] == "kafka:9092"
    assert compose["services"]["simulator"]["depends_on"]["kafka"]["condition"] == "service_healthy"


def test_health_checks(compose: dict[str, Any]) -> None:
    s = compose["services"]
    for name in ("kafka", "postgres", "worker"):
        hc = s[name]["healthcheck"]
        assert hc["test"] and hc["interval"] and hc["retries"] >= 3, name
    assert "kafka-broker-api-versions" in " ".join(s["kafka"]["healthcheck"]["test"])
    assert "pg_isready" in " ".join(s["postgres"]["healthcheck"]["test"])
    assert "/metrics" in " ".join(s["worker"]["healthcheck"]["test"])


def test_kafka_is_the_version_and_settings_the_tests_run(compose: dict[str, Any]) -> None:
    from streams.kafka_local import KAFKA_VERSION, NodeSpec

    kafka = compose["services"]["kafka"]
    assert kafka["image"] == f"apache/kafka:{KAFKA_VERSION}"
    env = kafka["environment"]
    ours = _suite_broker_properties(NodeSpec(1, 1, 2, ROOT / "unused"))
    for prop in ("offsets.topic.replication.factor", "offsets.topic.num.partitions",
                 "transaction.state.log.replication.factor", "transaction.state.log.min.isr",
                 "transaction.state.log.num.partitions", "group.initial.rebalance.delay.ms",
                 "log.cleaner.backoff.ms", "message.max.bytes"):
        assert env["KAFKA_" + prop.upper().replace(".", "_")] == ours[prop], prop


def _suite_broker_properties(spec: Any) -> dict[str, str]:
    from streams.kafka_local import KafkaNode

    node = KafkaNode(spec, "1@127.0.0.1:2", 1, ROOT, "512m", None, {})
    return node.properties()
