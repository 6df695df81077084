"""`spendwatch replay --db`: what is open when the file ends is resolved then (ended_with_input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spendwatch.cli import main
from tests.factories import gpu_sample, workload

T0 = 1_774_384_000.0
STEP = 60.0
END = T0 + 4 * 3600 - STEP  # the file's last event


def _stream(path: Path) -> None:
    """One training GPU busy for an hour, then idle for three: an idle anomaly open at the file's end."""
    lines = []
    ts = T0
    while ts <= END:
        busy = ts < T0 + 3600
        lines.append(json.dumps(gpu_sample(ts, interval_s=STEP, util_gpu_pct=90.0 if busy else 0.0,
                                           mem_used_bytes=(60 if busy else 0) << 30, price_per_hour_usd=4.0,
                                           workload=workload("ml/train", kind="training", team="vision"))))
        ts += STEP
    path.write_text("\n".join(lines) + "\n")


def _anomalies(db: str, capsys: pytest.CaptureFixture[str], *flags: str) -> list[dict]:
    capsys.readouterr()
    assert main(["anomalies", "--db", db, "--json", *flags]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_open_at_the_end_is_recorded_resolved_at_the_files_end(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "ev.jsonl"
    _stream(events)
    db = f"sqlite:///{tmp_path}/h.db"
    assert main(["replay", str(events), "--db", db, "--out", str(tmp_path / "closed.jsonl")]) == 0
    err = capsys.readouterr().err
    out = [json.loads(line) for line in (tmp_path / "closed.jsonl").read_text().splitlines()]
    assert out and out[-1]["state"] == "open"  # the Engine's own events: the last one is still open
    assert "still open at the file's end recorded as resolved then (ended_with_input" in err
    assert _anomalies(db, capsys, "--state", "open") == []
    [a] = _anomalies(db, capsys, "--kind", "idle_gpu,gpu_memory_hoarding")
    assert a["id"] == out[-1]["id"] and a["state"] == "resolved"
    assert a["resolved_at"] == END and a["evidence"]["resolution"] == "ended_with_input"
    assert a["waste_usd"] == out[-1]["waste_usd"]
    capsys.readouterr()
    assert main(["anomalies", "--db", db]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(a["id"]))
    assert " d " not in row  # lasted hours, to the file's end, not until today
    assert main(["anomalies", "summary", "--db", db, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["projected_daily_usd"] == 0  # nothing burning now


def test_no_close_at_end_keeps_them_open_and_the_output_is_the_same(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "ev.jsonl"
    _stream(events)
    db = f"sqlite:///{tmp_path}/open.db"
    assert main(["replay", str(events), "--db", db, "--no-close-at-end", "--out", str(tmp_path / "open.jsonl")]) == 0
    assert main(["replay", str(events), "--out", str(tmp_path / "plain.jsonl")]) == 0
    assert (tmp_path / "open.jsonl").read_bytes() == (tmp_path / "plain.jsonl").read_bytes()
    assert main(["replay", str(events), "--db", f"sqlite:///{tmp_path}/c.db", "--json",
                 "--out", str(tmp_path / "closed.jsonl")]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary["closed_at_end"] == 1 and summary["still_open"] == 1
    assert (tmp_path / "closed.jsonl").read_bytes() == (tmp_path / "plain.jsonl").read_bytes()
    [a] = _anomalies(db, capsys, "--state", "open")
    assert a["resolved_at"] is None and "resolution" not in a["evidence"]
