"""Small face items: `emit --stdout` leaves the spool alone, the report's headline counts in the singular."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import orjson

from api.report import _headline
from collectors.publisher import Spool

ROOT = Path(__file__).resolve().parents[1]
OLD = {"type": "training_run", "ts": 1.0, "run_id": "old-run", "model_id": "m", "workload": {"id": "ml/x"},
       "status": "failed"}


def test_emit_stdout_never_reads_or_drains_the_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "client.sqlite")
    spool.append([("spendwatch.training.runs", b"m", orjson.dumps(OLD))])  # left by an earlier emit
    spool.close()
    env = {**os.environ, "SPENDWATCH_SPOOL_DIR": str(tmp_path), "SPENDWATCH_KAFKA": "127.0.0.1:1"}
    p = subprocess.run([sys.executable, "-m", "spendwatch.cli", "emit", "training-run", "--run-id", "new-run",
                        "--model-id", "m", "--workload", "ml/x", "--status", "started", "--stdout"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    printed = [json.loads(line) for line in p.stdout.splitlines()]
    assert [e["run_id"] for e in printed] == ["new-run"]
    assert "printed" in p.stderr and "spendwatch.training.runs" in p.stderr  # says what it did
    again = Spool(tmp_path / "client.sqlite")
    try:
        assert [orjson.loads(r[2])["run_id"] for _seq, r in again.head(10)] == ["old-run"]  # still there
    finally:
        again.close()


def test_report_headline_singular() -> None:
    one = {"headline": {"spend_usd": 10.0, "anomalies": 1, "waste_usd": 2.0, "insights": 1,
                        "savings_usd_per_month": 0.0, "budgets_over": 0}}
    line = _headline(one)[0]
    assert "1 anomaly lost" in line and "1 insight;" in line and "anomalies" not in line
    two = {"headline": {**one["headline"], "anomalies": 2, "insights": 3}}
    assert "2 anomalies lost" in _headline(two)[0] and "3 insights;" in _headline(two)[0]
