"""`spendwatch replay`: incidents to --out, structural waste (insights) to --insights, never mixed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from collectors.simulate import SimConfig, simulate
from spendwatch.anomaly import INSIGHT_KINDS, KINDS

CLI = [sys.executable, "-m", "spendwatch.cli"]


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A day of a 24-GPU fleet with every phenomenon injected (incidents and structural waste), its budgets."""
    sim = simulate(SimConfig(hours=24, gpus=24, seed=5, billing_days=14, bad_fraction=0.001))
    d = tmp_path_factory.mktemp("insights")
    path, config = d / "events.jsonl", d / "settings.yaml"
    with open(path, "wb") as f:
        sim.write(f)
    config.write_text(yaml.safe_dump({"budgets": sim.budgets}))
    return path, config


def _replay(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, "replay", *args], capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONHASHSEED": "0"})


def test_incidents_go_to_out_and_insights_to_their_own_file(stream: tuple[Path, Path], tmp_path: Path) -> None:
    path, config = stream
    out, ins = tmp_path / "anomalies.jsonl", tmp_path / "insights.jsonl"
    p = _replay(str(path), "--config", str(config), "--out", str(out), "--insights", str(ins))
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout == b""
    anomalies = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    insights = [orjson.loads(x) for x in ins.read_bytes().splitlines()]
    assert anomalies and insights
    assert {a["type"] for a in anomalies} == {"anomaly"} and {a["kind"] for a in anomalies} <= set(KINDS)
    assert {a["type"] for a in insights} == {"insight"} and {a["kind"] for a in insights} == set(INSIGHT_KINDS)
    for a in insights:  # the same fields as an anomaly
        assert set(a) >= {"id", "kind", "state", "severity", "workload", "resource", "started_at", "detected_at",
                          "resolved_at", "waste_usd", "projected_daily_usd", "summary", "evidence"}
    err = p.stderr.decode()
    assert f"{len(anomalies):,} anomaly events, {len(insights):,} insight events" in err


def test_without_insights_the_anomaly_output_is_the_same_and_has_no_insight(
        stream: tuple[Path, Path], tmp_path: Path) -> None:
    path, config = stream
    with_file = tmp_path / "a.jsonl"
    p1 = _replay(str(path), "--config", str(config), "--out", str(with_file), "--insights", str(tmp_path / "i.jsonl"))
    p2 = _replay(str(path), "--config", str(config))  # to stdout, no --insights
    assert p1.returncode == p2.returncode == 0
    assert p2.stdout == with_file.read_bytes()
    assert b'"type":"insight"' not in p2.stdout
    assert b"(not written: --insights FILE)" in p2.stderr
