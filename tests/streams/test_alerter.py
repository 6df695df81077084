"""`spendwatch alerter` against a real Kafka-protocol broker: consume, record, alert, commit."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from spendwatch.config import load_settings
from spendwatch.history import open_store
from streams.alerter import AlerterOptions, run_alerter

T0 = 1_774_384_000.0


@pytest.mark.kafka
def test_alerter_records_history_and_alerts(kafka_bootstrap: str, unique: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from kafka import KafkaProducer

    monkeypatch.setenv("SPENDWATCH_KAFKA", kafka_bootstrap)
    monkeypatch.setenv("SPENDWATCH_TOPIC_PREFIX", f"al{unique}.")
    db = f"sqlite:///{tmp_path}/alerter.db"
    events = [{"type": "anomaly", "id": f"idle_gpu-{i}", "kind": "idle_gpu", "state": state, "severity": "warning",
               "workload": {"id": "vision/train", "team": f"team{i}", "owner": "ana@corp.example"},
               "resource": f"GPU-{i}", "started_at": T0, "detected_at": T0 + 600,
               "resolved_at": T0 + 3600 if state == "resolved" else None, "waste_usd": 1.0 + i,
               "projected_daily_usd": 70.8, "summary": f"GPU-{i} idle", "evidence": {"node": "dgx-1"},
               "ts": T0 + (3600 if state == "resolved" else 600)}
              for i, state in ((0, "open"), (1, "open"), (0, "resolved"))]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    topic = f"al{unique}.spendwatch.anomalies"
    for e in events:
        producer.send(topic, key=str(e["id"]).encode(), value=orjson.dumps(e))
    producer.send(topic, value=b"not json")  # bad input: skipped, counted, never stops the alerter
    producer.flush()
    producer.close()
    options = AlerterOptions(db=db, group_id=f"g{unique}", metrics_port=0, metrics_addr="127.0.0.1",
                             flush_interval_s=0.5, exit_when_idle_s=5.0, session_timeout_ms=2000)
    assert run_alerter(load_settings(None), options) == 0
    with open_store(db) as store:
        got = {a["id"]: a["state"] for a in store.query()}
        assert got == {"idle_gpu-0": "resolved", "idle_gpu-1": "open"}
    out = capsys.readouterr().out
    assert out.count("ALERT") == 2 and "GPU-1 idle" in out
    # idle_gpu-0 was resolved either before its post was due (posted showing resolved) or after (edited).
    assert "resolved 2026-03-24 21:26 utc" in out.lower()
    # Committed: a second run of the same group reads nothing and posts nothing.
    assert run_alerter(load_settings(None), options) == 0
    assert "ALERT" not in capsys.readouterr().out


def test_open_anomaly_gauges_follow_the_history(tmp_path: Path) -> None:
    from prometheus_client import generate_latest

    from streams.alerter import Metrics

    def anomaly(i: int, team: str | None, kind: str, state: str, waste: float) -> dict[str, object]:
        return {"type": "anomaly", "id": f"{kind}-{i}", "kind": kind, "state": state, "severity": "warning",
                "workload": {"id": f"w/{i}", **({"team": team} if team else {})}, "resource": f"r{i}",
                "started_at": T0, "detected_at": T0, "resolved_at": T0 + 60 if state == "resolved" else None,
                "waste_usd": waste, "projected_daily_usd": 10.0 * i, "summary": "s", "evidence": {},
                "ts": T0 + (60 if state == "resolved" else 0)}

    metrics = Metrics()
    with open_store(f"sqlite:///{tmp_path}/h.db") as store:
        store.record_many([anomaly(1, "vision", "idle_gpu", "open", 2.5), anomaly(2, "vision", "idle_gpu", "open", 1.0),
                           anomaly(3, None, "cost_spike", "open", 7.0)])
        metrics.refresh_open(store)
        assert metrics.open.labels("vision", "idle_gpu", "warning")._value.get() == 2
        assert metrics.open_waste.labels("vision", "idle_gpu")._value.get() == 3.5
        assert metrics.open_daily.labels("vision", "idle_gpu")._value.get() == 30.0
        assert metrics.open_waste.labels("", "cost_spike")._value.get() == 7.0
        store.record_many([anomaly(3, None, "cost_spike", "resolved", 8.0)])
        metrics.refresh_open(store)
    text = generate_latest(metrics.registry).decode()
    assert 'spendwatch_open_anomalies{kind="idle_gpu",severity="warning",team="vision"} 2.0' in text
    assert "cost_spike" not in text  # a resolved anomaly leaves no stale series
