"""`spendwatch report` after a demo day: every section there, and its figures agree with `anomalies summary`.

One real `spendwatch demo` (a simulated day of a 16-GPU fleet with two weeks of billing, every
injected problem, recorded into a SQLite history store), then the report and the summary as real
processes over the same range. The report's waste section must be what the summary says (the
same query and arithmetic), its insight section what ``anomalies summary --insights`` says, and
the Markdown must print those same figures.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

CLI = [sys.executable, "-m", "spendwatch.cli"]
START = 1_774_310_400.0  # Tuesday 2026-03-24 00:00 UTC
END = START + 24 * 3600.0
RANGE = ["--from", str(int(START)), "--to", str(int(END))]


def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp), "PYTHONHASHSEED": "0"}
    for var in ("SPENDWATCH_SLACK_TOKEN", "SPENDWATCH_SLACK_TOKEN_FILE", "SPENDWATCH_DB"):
        env.pop(var, None)
    return env


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    d = tmp_path_factory.mktemp("report")
    url, env = f"sqlite:///{d}/history.db", _env(d)
    p = subprocess.run([*CLI, "demo", "--hours", "24", "--gpus", "16", "--start", str(int(START)), "--no-alerts",
                        "--db", url], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "Report for the simulated day" in p.stdout and "spendwatch report" in p.stdout
    return url, env


def _cli(env: dict[str, str], *args: str) -> str:
    p = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def _md_table(md: str, heading: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under ``## heading``, as dicts by column header."""
    section = md.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    lines = [x for x in section.splitlines() if x.startswith("|")]
    headers = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(headers, (c.strip() for c in x.strip("|").split("|")), strict=True)) for x in lines[2:]]


def _usd(cell: str) -> float:
    return float(cell.replace("$", "").replace(",", ""))


def _close(shown: str, value: float) -> bool:
    """A figure as the Markdown prints it ($1,234 above $1,000, else cents) against the value."""
    return abs(_usd(shown) - value) <= (0.5 if abs(value) >= 1000 else 0.005) + 1e-9


def test_the_report_agrees_with_anomalies_summary(demo_db: tuple[str, dict[str, str]]) -> None:
    url, env = demo_db
    rep = orjson.loads(_cli(env, "report", "--db", url, *RANGE, "--json"))
    summary = orjson.loads(_cli(env, "anomalies", "--db", url, "summary", *RANGE, "--json"))
    insights = orjson.loads(_cli(env, "anomalies", "--db", url, "summary", "--insights", *RANGE, "--json"))
    assert summary["total"]["count"] > 5 and insights["total"]["count"] >= 5  # the demo day has both
    for part in ("total", "by_kind", "by_team", "by_owner"):
        assert rep["waste"][part] == summary[part], part
    assert rep["headline"]["anomalies"] == summary["total"]["count"]
    assert rep["headline"]["waste_usd"] == summary["total"]["waste_usd"]
    assert rep["insights"]["count"] == insights["total"]["count"] == rep["headline"]["insights"]
    assert {r["kind"]: r["count"] for r in rep["insights"]["by_kind"]} == \
        {r["kind"]: r["count"] for r in insights["by_kind"]}
    for r in rep["insights"]["by_kind"]:
        s = next(x for x in insights["by_kind"] if x["kind"] == r["kind"])
        assert r["waste_usd"] == pytest.approx(s["waste_usd"], abs=0.01), r["kind"]
    # no insight kind among the anomalies, no incident kind among the insights
    assert not {r["kind"] for r in summary["by_kind"]} & {r["kind"] for r in insights["by_kind"]}
    # spend: the breakdowns add up to the total
    spend = rep["spend"]
    assert spend["total_usd"] > 1000
    for part, key in (("by_team", "team"), ("by_service", "service")):
        assert sum(r["usd"] for r in spend[part]) == pytest.approx(spend["total_usd"], abs=0.05), key
    assert sum(d["usd"] for d in spend["daily"]) == pytest.approx(spend["total_usd"], abs=0.05)
    # savings: $/month, largest first, each from an open anomaly or any insight of the range
    per_month = [s["usd_per_month"] for s in rep["savings"]]
    assert per_month and per_month == sorted(per_month, reverse=True) and all(x > 0 for x in per_month)
    assert rep["headline"]["savings_usd_per_month"] == pytest.approx(sum(per_month), abs=0.05)
    assert all(s["action"] for s in rep["savings"])


def test_the_markdown_report_prints_the_same_figures(demo_db: tuple[str, dict[str, str]]) -> None:
    url, env = demo_db
    md = _cli(env, "report", "--db", url, *RANGE)
    summary = orjson.loads(_cli(env, "anomalies", "--db", url, "summary", *RANGE, "--json"))
    rep = orjson.loads(_cli(env, "report", "--db", url, *RANGE, "--json"))
    assert md.startswith("# spendwatch report: 2026-03-24T00:00:00Z to 2026-03-25T00:00:00Z")
    for heading in ("Spend by team", "Spend by workload (top 20)", "Spend by service", "Waste (anomalies) by kind",
                    "Waste (anomalies) by owner", "Structural waste (insights) by kind", "GPU idle share by team",
                    "Unit costs (per 1,000 predictions)", "Cost per training run", "Top savings opportunities",
                    "Budgets against forecasts"):
        assert f"\n## {heading}\n" in md, heading
    total = summary["total"]
    headline = re.search(r"Spend \$([\d,.]+); (\d+) anomalies lost \$([\d,.]+); (\d+) insights", md)
    assert headline, md[:400]
    assert int(headline[2]) == total["count"] and _close(headline[3], total["waste_usd"])
    assert _close(headline[1], rep["spend"]["total_usd"]) and int(headline[4]) == rep["insights"]["count"]
    by_kind = {r["kind"]: r for r in _md_table(md, "Waste (anomalies) by kind")}
    assert set(by_kind) == {r["kind"] for r in summary["by_kind"]}
    for s in summary["by_kind"]:
        row = by_kind[s["kind"]]
        assert int(row["count"]) == s["count"] and int(row["open"]) == s["open"], s["kind"]
        assert _close(row["lost"], s["waste_usd"]) and _close(row["$/day open"], s["projected_daily_usd"]), s["kind"]
    kinds = {r["kind"] for r in _md_table(md, "Structural waste (insights) by kind")}
    assert kinds == {r["kind"] for r in rep["insights"]["by_kind"]}
    assert {"underused_gpu", "redundant_training", "unit_cost_rise", "budget_forecast", "spend_growth"} <= kinds
    teams = {r["team"]: r for r in _md_table(md, "Spend by team")}
    for r in rep["spend"]["by_team"]:
        assert _close(teams[r["team"]]["spend"], r["usd"]), r["team"]
    savings = _md_table(md, "Top savings opportunities")
    assert [round(_usd(r["$/month"])) for r in savings] == [round(s["usd_per_month"]) for s in rep["savings"]]


def test_budgets_from_the_settings_are_forecast_and_the_other_formats_render(
        demo_db: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, env = demo_db
    flagged = orjson.loads(_cli(env, "report", "--db", url, *RANGE, "--json"))["budgets"]["insights"]
    assert flagged, "the demo's team heading over budget is an insight"
    # without the settings file the detectors judged, the insights stand for those budgets: the headline, the
    # table and the insights below it agree
    plain = orjson.loads(_cli(env, "report", "--db", url, *RANGE, "--json"))
    open_scopes = {b["scope"] for b in flagged if b["state"] != "resolved"}
    assert open_scopes and plain["headline"]["budgets_over"] == len(open_scopes)
    plain_md = _cli(env, "report", "--db", url, *RANGE)
    plain_rows = {r["scope"]: r for r in _md_table(plain_md, "Budgets against forecasts")}
    assert set(plain_rows) == open_scopes and all(r["status"].startswith("over") for r in plain_rows.values())
    budgets: dict[str, dict[str, float]] = {"teams": {}, "workloads": {}}
    for b in flagged:
        what, name = b["scope"].split(":", 1)
        budgets[f"{what}s"][name] = b["budget_usd"]
    budgets["teams"]["research"] = 1e7  # one that will be met
    config = tmp_path / "settings.yaml"
    config.write_text(yaml.safe_dump({"budgets": budgets}))
    rep = orjson.loads(_cli(env, "report", "--db", url, *RANGE, "--config", str(config), "--json"))
    forecasts = {f["scope"]: f for f in rep["budgets"]["forecasts"]}
    for b in flagged:  # the report's forecast agrees with the insight's: over, crossing in the month
        f = forecasts[b["scope"]]
        assert f["status"] in ("over", "at risk") and f["forecast_usd"] > f["budget_usd"], f
        assert f["forecast_low_usd"] <= f["forecast_usd"] <= f["forecast_high_usd"]
        assert f["crossing_day"] is not None and f["month"] == b["month"] == "2026-03"
    assert forecasts["team:research"]["status"] == "within" and forecasts["team:research"]["crossing_day"] is None
    assert rep["headline"]["budgets_over"] == sum(1 for f in forecasts.values() if f["status"] == "over")
    md = _cli(env, "report", "--db", url, *RANGE, "--config", str(config))
    rows = {r["scope"]: r for r in _md_table(md, "Budgets against forecasts")}
    assert set(rows) == set(forecasts) and rows["team:research"]["status"] == "within"
    # HTML with SVG plots, CSV with one row per figure
    html_path = tmp_path / "report.html"
    _cli(env, "report", "--db", url, *RANGE, "--config", str(config), "--out", str(html_path))
    html = html_path.read_text()
    assert html.startswith("<!doctype html>")
    assert html.count("<svg") >= 2 and "Top savings opportunities" in html
    rows_csv = list(csv.reader(io.StringIO(_cli(env, "report", "--db", url, *RANGE, "--format", "csv"))))
    assert rows_csv[0][0] == "section" and len(rows_csv) > 20
    sections = {r[0] for r in rows_csv[1:]}
    assert {"headline", "Waste (anomalies) by kind", "Top savings opportunities"} <= sections


def test_a_range_with_nothing_recorded_says_so(demo_db: tuple[str, dict[str, str]]) -> None:
    url, env = demo_db
    rep: dict[str, Any] = orjson.loads(_cli(env, "report", "--db", url, "--from", "2020-01-01T00:00:00Z",
                                            "--to", "2020-01-02T00:00:00Z", "--json"))
    assert rep["spend"]["total_usd"] == 0 and rep["waste"]["total"]["count"] == 0 and rep["savings"] == []
    assert any("no usage in the history" in n for n in rep["notes"])
