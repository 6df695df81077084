"""One name for the team of what is allocated to nobody: routing, silences, history, demo and report agree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alerting.routing import parse_routes
from spendwatch.cli import main
from spendwatch.history import open_store
from spendwatch.history.silences import Silences, parse_matcher
from spendwatch.teams import UNALLOCATED_TEAM

T0 = 1_774_384_000.0


def _anomaly(aid: str, workload: dict[str, Any] | None, waste: float = 5.0, state: str = "open") -> dict[str, Any]:
    return {"type": "anomaly", "id": aid, "kind": "idle_gpu", "state": state, "severity": "warning",
            "workload": workload, "resource": f"GPU-{aid}", "started_at": T0, "detected_at": T0 + 600,
            "resolved_at": T0 + 7200 if state == "resolved" else None, "waste_usd": waste,
            "projected_daily_usd": 70.8, "summary": f"GPU idle ({aid})", "evidence": {"node": "dgx-1"},
            "ts": T0 + 3600}


NOBODY = _anomaly("nobody", None, waste=7.0)
VISION = _anomaly("vision", {"id": "vision/train", "team": "vision", "owner": "ana@corp.example"})
NO_TEAM = _anomaly("noteam", {"id": "misc/job", "owner": "bo@corp.example"}, waste=2.0)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/teams.db"
    monkeypatch.setenv("SPENDWATCH_DB", url)
    monkeypatch.delenv("SPENDWATCH__TEAMS__UNALLOCATED", raising=False)
    with open_store(url) as s:
        s.record_many([NOBODY, VISION, NO_TEAM])
    return url


def test_the_default_name_is_unallocated() -> None:
    assert UNALLOCATED_TEAM == "unallocated"


def test_routing_matches_the_unallocated_team_by_its_configured_name() -> None:
    tree = {"route": {"channel": "#all", "routes": [{"name": "fleet", "match": {"team": "unallocated"},
                                                      "channel": "#fleet"}]}}
    assert [r.channel for r in parse_routes(tree).routes_for(NOBODY)] == ["#fleet"]
    assert [r.channel for r in parse_routes(tree).routes_for(NO_TEAM)] == ["#all"]  # no team is not nobody's
    renamed = {"route": {"channel": "#all", "routes": [{"name": "fleet", "match": {"team": "platform"},
                                                         "channel": "#fleet"}]}}
    assert [r.channel for r in parse_routes(renamed, unallocated_team="platform").routes_for(NOBODY)] == ["#fleet"]
    assert [r.channel for r in parse_routes(renamed).routes_for(NOBODY)] == ["#all"]
    assert parse_routes(tree).root.group_key(NOBODY).endswith("team=unallocated")


def test_alert_pipeline_reads_the_setting(tmp_path: Path) -> None:
    from alerting.pipeline import build_alert_pipeline
    from spendwatch.config import load_settings

    cfg = tmp_path / "s.yaml"
    cfg.write_text("teams: {unallocated: fleet-ops}\n"
                   "alerting: {route: {channel: '#all', routes: [{match: {team: fleet-ops}, channel: '#fleet'}]}}\n")
    pipeline = build_alert_pipeline(load_settings(cfg), store_url=f"sqlite:///{tmp_path}/p.db")
    try:
        assert [r.channel for r in pipeline.router.routes_for(NOBODY)] == ["#fleet"]
    finally:
        pipeline.close()


def test_silences_match_the_unallocated_team(db: str) -> None:
    with open_store(db) as store:
        silences = Silences(store.engine)
        silences.add([parse_matcher("team=unallocated")], ends_at=T0 + 10 ** 9, created_by="t", now=T0)
        assert [len(silences.matching(a, now=T0 + 1)) for a in (NOBODY, VISION, NO_TEAM)] == [1, 0, 0]
        assert Silences(store.engine, "fleet").matching(NOBODY, now=T0 + 1) == []


def test_anomalies_team_selects_the_unallocated_ones(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anomalies", "--team", "unallocated", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in rows] == ["nobody"]
    assert rows[0]["workload"] is None  # the data keeps the contract's null
    assert main(["anomalies", "--sort", "waste"]) == 0
    table = capsys.readouterr().out.splitlines()
    row = next(line for line in table if line.startswith("nobody"))
    assert " unallocated " in row
    assert " - " in next(line for line in table if line.startswith("noteam"))  # no team: not "unallocated"
    assert main(["anomalies", "summary", "--json"]) == 0
    by_team = {r["team"]: r["count"] for r in json.loads(capsys.readouterr().out)["by_team"]}
    assert by_team == {"unallocated": 1, "vision": 1, None: 1}


def test_anomalies_team_uses_the_configured_name(db: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "teams.yaml"
    cfg.write_text("teams: {unallocated: fleet}\n")
    assert main(["anomalies", "--config", str(cfg), "--team", "fleet", "--json"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["nobody"]
    assert main(["anomalies", "--config", str(cfg), "--team", "unallocated", "--json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["anomalies", "show", "nobody", "--config", str(cfg)]) == 0
    assert "  team         fleet" in capsys.readouterr().out


def test_unknown_teams_setting_is_refused(db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("teams: {unalocated: fleet}\n")
    assert main(["anomalies", "--config", str(cfg)]) == 2
    assert "unalocated" in capsys.readouterr().err


def test_demo_tables_and_report_use_the_same_name(db: str) -> None:
    from api.report import build_report
    from spendwatch.cli.demo import _owner, _print_teams, _team

    out: list[str] = []
    _print_teams(out.append, [NOBODY, VISION, NO_TEAM])
    teams_table = "".join(out)
    assert "  unallocated " in teams_table and "(unallocated)" not in teams_table
    assert (_team(NOBODY), _team(NO_TEAM), _owner(NOBODY)) == ("unallocated", "-", "unallocated")
    assert _team(NOBODY, "fleet") == "fleet"
    with open_store(db) as store:
        rep = build_report(store, T0 - 3600, T0 + 86400)
        renamed = build_report(store, T0 - 3600, T0 + 86400, unallocated_team="fleet")
    teams = {r["team"] for r in rep["savings"] if r["source"] == "anomaly"}
    assert teams == {"unallocated", "vision", "(no team)"}
    assert {r["team"] for r in rep["waste"]["by_team"]} == {"unallocated", "vision", "-"}
    assert "fleet" in {r["team"] for r in renamed["savings"]}


def test_serve_reads_the_setting_from_config(db: str, tmp_path: Path) -> None:
    """`spendwatch serve --config`: the API's filters, summaries, series and silences and the dashboard's
    tables use teams.unallocated, as the command line does."""
    import os
    import subprocess
    import sys

    import httpx

    cfg = tmp_path / "teams.yaml"
    cfg.write_text("teams: {unallocated: fleet-ops}\n")
    with open_store(db) as store:
        store.silences.add([parse_matcher("team=fleet-ops")], ends_at=T0 + 10 ** 10, created_by="t", now=T0)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPENDWATCH_API_TOKEN", "SPENDWATCH_KAFKA"))}
    proc = subprocess.Popen([sys.executable, "-m", "spendwatch.cli", "serve", "--db", db, "--config", str(cfg),
                             "--port", "0"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "dashboard and API at" in line, line
        url = line.split(" at ", 1)[1].split(" ", 1)[0]
        with httpx.Client(base_url=url, timeout=30) as http:
            span = {"from": str(T0 - 3600), "to": str(T0 + 86400)}
            items = http.get("/api/v1/anomalies", params={"team": "fleet-ops", **span}).json()["items"]
            assert [a["id"] for a in items] == ["nobody"]
            assert items[0]["status"]["silenced_by"]  # the silence on team=fleet-ops matches it
            assert http.get("/api/v1/anomalies", params={"team": "unallocated", **span}).json()["items"] == []
            by_team = {r["team"] for r in http.get("/api/v1/summary", params=span).json()["by_team"]}
            assert "fleet-ops" in by_team and "unallocated" not in by_team
            series = http.get("/api/v1/series/waste", params={"by": "team", **span}).json()["series"]
            assert "fleet-ops" in {s["name"] for s in series}
            page = http.get("/anomalies/nobody").text
            assert "<dt>team</dt><dd>fleet-ops</dd>" in page and "<dd>unallocated</dd>" not in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
