"""The command line: `spendwatch --help`, every sub-command's `--help`, simulate and demo."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import pytest

from spendwatch.cli import COMMAND_MODULES, build_parser, main

START_TS = time.time()
CLI = [sys.executable, "-m", "spendwatch.cli"]


def test_top_level_help_in_a_real_process() -> None:
    p = subprocess.run([*CLI, "--help"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0
    for name in COMMAND_MODULES:
        assert name in p.stdout


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: spendwatch" in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMAND_MODULES)
def test_every_sub_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"spendwatch {command}" in out and len(out) > 100


def test_simulate_writes_a_sorted_stream_and_the_truth(tmp_path: Path) -> None:
    ev, truth = tmp_path / "ev.jsonl", tmp_path / "truth.json"
    args = ["simulate", "--hours", "3", "--gpus", "8", "--seed", "4", "--billing-days", "1",
            "--inject", "idle,hoarding,cost_spike", "--out", str(ev), "--truth", str(truth)]
    assert main(args) == 0
    lines = ev.read_bytes().splitlines()
    ts = [orjson.loads(x)["ts"] for x in lines]
    assert ts == sorted(ts) and len(ts) > 1000
    doc = orjson.loads(truth.read_bytes())
    assert sorted({t["kind"] for t in doc["truth"]}) == ["cost_spike", "hoarding", "idle"]
    assert doc["events"] == len(lines)
    again = tmp_path / "again.jsonl"
    assert main([*args[:-4], "--out", str(again)]) == 0
    assert again.read_bytes() == ev.read_bytes()  # deterministic for a seed


def test_simulate_rejects_an_unknown_injection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--inject", "idle,meteor"]) == 2
    assert "meteor" in capsys.readouterr().err


def test_simulate_to_stdout_pipes_into_replay(tmp_path: Path) -> None:
    sim = subprocess.run([*CLI, "simulate", "--hours", "4", "--gpus", "8", "--billing-days", "0"],
                         capture_output=True, timeout=120)
    assert sim.returncode == 0 and sim.stdout.count(b"\n") > 1000
    rep = subprocess.run([*CLI, "replay", "-"], input=sim.stdout, capture_output=True, timeout=120)
    assert rep.returncode == 0
    assert any(orjson.loads(x)["kind"] in ("idle_gpu", "gpu_memory_hoarding") for x in rep.stdout.splitlines())


def test_demo_runs_and_summarises(tmp_path: Path) -> None:
    """The demo is safe anywhere: its own fresh store (not SPENDWATCH_DB), the console even with a Slack token."""
    real = tmp_path / "real-history.db"
    env = {**os.environ, "SPENDWATCH_DB": f"sqlite:///{real}", "XDG_DATA_HOME": str(tmp_path),
           "SPENDWATCH_SLACK_TOKEN": "xoxb-not-a-real-token", "SPENDWATCH_SLACK_BASE_URL": "http://127.0.0.1:9/api/"}
    env.pop("SPENDWATCH_SLACK_TOKEN_FILE", None)
    demo_db = f"sqlite:///{tmp_path}/spendwatch/demo/history.db"
    for _run in range(2):  # a second run alerts again: the demo's store (and notification log) is fresh
        p = subprocess.run([*CLI, "demo", "--hours", "8", "--gpus", "8", "--max-alerts", "2"], capture_output=True,
                           text=True, timeout=300, env=env)
        assert p.returncode == 0, p.stderr[-3000:]
        out = p.stdout
        for heading in ("Open anomalies", "Resolved anomalies", "Waste by team", "Injected problems caught"):
            assert heading in out
        assert "idle_gpu" in out and "$" in out
        assert f"spendwatch anomalies --db {demo_db} --since 30d" in out
        assert "ALERT" in out and "nothing new to say" not in out  # console alerts, though a token is set
        assert "injected on purpose" in out and "1 nodes" not in out
        assert "SPENDWATCH_DB is set; the demo records into its own store" in p.stderr
    assert not real.exists()  # demo data never mixes with the real history
    listed = subprocess.run([*CLI, "anomalies", "--db", demo_db, "--since", "30d", "--json"], capture_output=True,
                            text=True, timeout=120, env=env)
    assert listed.returncode == 0 and "idle_gpu" in listed.stdout  # the demo recorded into its store


def test_demo_json_says_what_was_caught_as_the_tables_do(tmp_path: Path) -> None:
    """`demo --json`: one document on stdout (alerts on stderr) whose counts are the tables' counts."""
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    for var in ("SPENDWATCH_DB", "SPENDWATCH_SLACK_TOKEN", "SPENDWATCH_SLACK_TOKEN_FILE"):
        env.pop(var, None)
    args = ["demo", "--hours", "6", "--gpus", "16", "--start", "2026-03-24T00:00Z", "--max-alerts", "2"]
    text = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    assert text.returncode == 0, text.stderr[-3000:]
    p = subprocess.run([*CLI, *args, "--json"], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    doc = orjson.loads(p.stdout)  # the whole of stdout is the document: the console alerts went to stderr
    assert "ALERT" in p.stderr and "ALERT" not in p.stdout
    assert doc["start_ts"] == 1774310400 and doc["start_ts_iso"] == "2026-03-24T00:00:00Z"
    assert doc["end_ts_iso"] == "2026-03-24T06:00:00Z" and doc["fleet"]["gpus"] == 16

    caught, injected = map(int, re.search(r"Injected problems caught: (\d+) of (\d+)", text.stdout).groups())
    families = doc["families"]
    assert set(families) >= {"idle", "cost", "loop", "drift", "nodrift"}
    assert sum(f["truth"] for f in families.values()) == injected == len(doc["injected"]) > 0
    assert sum(f["caught"] for f in families.values()) == caught == sum(r["caught"] for r in doc["injected"])
    assert all(f["caught"] + f["missed"] == f["truth"] for f in families.values())
    ids = {a["id"] for a in doc["anomalies"]["items"]}
    assert all(r["anomaly_id"] in ids for r in doc["injected"] if r["caught"])
    assert sum(f["caught"] + f["false"] + f["duplicates"] for f in families.values()) <= len(ids)

    w_caught, w_injected = map(int, re.search(r"Injected structural waste reported: (\d+) of (\d+)",
                                              text.stdout).groups())
    waste = doc["structural_waste"]
    assert (waste["caught"], waste["injected"]) == (w_caught, w_injected)
    assert sum(c["caught"] for c in waste["cases"]) == w_caught and len(waste["cases"]) == w_injected

    n_open = int(re.search(r"Open anomalies \((\d+)\)", text.stdout).group(1))
    assert doc["anomalies"]["open"] == n_open
    demo_db = tmp_path / "spendwatch" / "demo" / "history.db"
    assert doc["history"]["db"] == f"sqlite:///{demo_db}" and doc["history"]["file"] == str(demo_db)
    assert demo_db.exists() and doc["history"]["events_recorded"] > 0
    assert doc["alerts"]["anomalies"] == 2 and doc["dashboard_url"] is None
    assert '"-"' not in p.stdout  # no display placeholder: a missing team is null


@pytest.mark.kafka
def test_demo_through_kafka_catches_what_the_in_process_demo_catches(kafka_bootstrap: str) -> None:
    """`spendwatch demo --kafka`: broker, keyed topics and one worker give the in-process result."""
    env = {**os.environ, "SPENDWATCH_KAFKA": kafka_bootstrap}
    args = ["demo", "--hours", "6", "--gpus", "8", "--start", "1774000800", "--no-alerts", "--no-history"]
    local = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    kafka = subprocess.run([*CLI, *args, "--kafka"], capture_output=True, text=True, timeout=300, env=env)
    assert local.returncode == 0, local.stderr[-3000:]
    assert kafka.returncode == 0, kafka.stderr[-3000:]
    assert "broker + worker ran over them" in kafka.stdout

    def caught(out: str) -> list[str]:
        start = out.index("Injected problems caught")
        return [line for line in out[start:].splitlines() if line.startswith("  ok ") or "caught" in line]

    assert caught(kafka.stdout) == caught(local.stdout)
    assert "Injected problems caught: 0 of" not in kafka.stdout
    # the worker's data dir and the local broker's log dir were temp folders, removed at the end
    assert [p for p in Path(tempfile.gettempdir()).glob("spendwatch-demo-*") if p.stat().st_mtime >= START_TS] == []
