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
