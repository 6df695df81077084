"""`spendwatch anomalies` (list, show, summary) and `spendwatch replay --history`, end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spendwatch.cli import main
from spendwatch.history import open_store

T0 = 1_774_384_000.0


def _anomaly(aid: str, state: str, ts: float, waste: float, team: str, kind: str = "idle_gpu") -> dict[str, Any]:
    return {"type": "anomaly", "id": aid, "kind": kind, "state": state, "severity": "warning",
            "workload": {"id": f"{team}/job", "team": team, "owner": f"{team}@corp.example"},
            "resource": f"GPU-{aid}", "started_at": T0, "detected_at": T0 + 600,
            "resolved_at": ts if state == "resolved" else None, "waste_usd": waste, "projected_daily_usd": 70.8,
            "summary": f"GPU idle ({aid})", "evidence": {"node": "dgx-1", "idle_hours": 1.5}, "ts": ts,
            "extra_field": "kept in the event history"}


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("SPENDWATCH_DB", url)
    with open_store(url) as s:
        s.record_many([_anomaly("a1", "open", T0 + 600, 1.0, "vision"),
                       _anomaly("a1", "resolved", T0 + 3600, 3.0, "vision"),
                       _anomaly("b2", "open", T0 + 7200, 9.0, "speech", kind="gpu_memory_hoarding")])
    return url


def test_list_json_has_the_contract_fields(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anomalies", "--json", "--sort", "waste"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["b2", "a1"]
    contract = {"type", "id", "kind", "state", "severity", "workload", "resource", "started_at", "detected_at",
                "resolved_at", "waste_usd", "projected_daily_usd", "summary", "evidence", "ts"}
    # the contract's fields, plus an ISO 8601 twin of each time (an addition)
    assert set(rows[0]) == contract | {"started_at_iso", "detected_at_iso", "resolved_at_iso", "ts_iso"}
    assert rows[1]["resolved_at_iso"] == "2026-03-24T21:26:40Z"  # T0 + 1 h
    assert rows[1]["state"] == "resolved" and rows[1]["resolved_at"] == T0 + 3600


def test_list_filters_and_since(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anomalies", "--json", "--team", "vision,nobody"]) == 0
    assert [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()] == ["a1"]
    # --since counts back from --now: a1 ended at T0+3600, so it is outside the last hour before T0+7300.
    assert main(["anomalies", "--json", "--since", "1h", "--now", str(T0 + 7300)]) == 0
    assert [json.loads(x)["id"] for x in capsys.readouterr().out.splitlines()] == ["b2"]
    assert main(["anomalies", "--json", "--min-waste", "5", "--state", "open", "--kind", "gpu_memory_hoarding"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


def test_table_show_and_summary(db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPENDWATCH_DB", f"sqlite:///{tmp_path}/other.db")  # --db must win
    assert main(["anomalies", "--db", db]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["ID", "STATE", "SEVERITY"]
    assert "b2" in out and "$9.00" in out and "2 anomalies, $12.00 lost, 1 open" in out
    assert main(["anomalies", "--db", db, "show", "a1"]) == 0
    out = capsys.readouterr().out
    assert "idle_hours" in out and "history (2 events)" in out and "resolved" in out
    assert main(["anomalies", "show", "--db", db, "--json", "a1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert [e["state"] for e in shown["events"]] == ["open", "resolved"]
    assert shown["events"][0]["extra_field"] == "kept in the event history"
    assert main(["anomalies", "--db", db, "summary"]) == 0
    out = capsys.readouterr().out
    assert "2 anomalies (1 open): $12.00 lost" in out
    for heading in ("by team", "by owner", "by kind", "by day"):
        assert heading in out
    assert main(["anomalies", "summary", "--db", db, "--team", "speech", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"]["waste_usd"] == 9.0
    assert main(["anomalies", "--db", db, "show", "zzz"]) == 1


def test_bad_duration_is_a_clear_error(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anomalies", "--since", "7 days"]) == 2
    assert "not a duration" in capsys.readouterr().err


def test_replay_history_records_every_anomaly_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SPENDWATCH_DB", f"sqlite:///{tmp_path}/default.db")
    events = tmp_path / "events.jsonl"
    lines = []
    for i in range(200):  # one GPU idle for 50 minutes at $3/h, then busy
        busy = i >= 200 - 40
        lines.append(json.dumps({
            "type": "gpu_sample", "ts": T0 + 15 * i, "node": "dgx-1", "gpu_uuid": "GPU-x",
            "gpu_model": "NVIDIA H100 80GB HBM3", "interval_s": 15, "util_gpu_pct": 90.0 if busy else 0.0,
            "mem_used_bytes": 0, "mem_total_bytes": 85899345920, "price_per_hour_usd": 3.0,
            "workload": {"id": "vision/train", "team": "vision", "owner": "ana@corp.example"}}))
    events.write_text("\n".join(lines) + "\n")
    out = tmp_path / "anomalies.jsonl"
    assert main(["replay", str(events), "--out", str(out), "--history"]) == 0  # bare: SPENDWATCH_DB
    emitted = [json.loads(x) for x in out.read_text().splitlines()]
    assert emitted, "the idle GPU should have been flagged"
    with open_store(None) as s:
        (a,) = s.query()
        assert a["id"] == emitted[-1]["id"]
        closed = emitted[-1]["state"] == "open"  # still open at the file's end: recorded resolved then
        assert a["state"] == "resolved"
        assert (a["evidence"].get("resolution") == "ended_with_input") == closed
        assert len(s.events(a["id"])) == len(emitted) + closed
    assert main(["replay", str(events), "--out", str(out), "--history", f"sqlite:///{tmp_path}/default.db"]) == 0
    assert "recorded 0 new anomaly events" in capsys.readouterr().err  # idempotent


def test_table_counts_an_open_anomaly_until_now_not_until_its_last_event() -> None:
    import io

    from spendwatch.cli.anomalies import print_table

    start = 1_774_000_000.0
    base = {"kind": "retrain_needed", "severity": "info", "started_at": start, "waste_usd": 0.0,
            "projected_daily_usd": 0.0, "workload": {"id": "ops/eta", "team": "ops"}, "resource": "eta"}
    opened = {**base, "id": "a-open", "state": "open", "resolved_at": None, "ts": start + 600}
    ended = {**base, "id": "a-done", "state": "resolved", "resolved_at": start + 2 * 3600, "ts": start + 2 * 3600}
    out = io.StringIO()
    print_table([opened, ended], out, now=start + 11 * 3600)
    rows = {line.split()[0]: line for line in out.getvalue().splitlines()[1:]}
    assert "11.0 h" in rows["a-open"]  # still going: until now, not until the open event 10 min in
    assert "2.0 h" in rows["a-done"]
