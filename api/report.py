"""``spendwatch report``: the FinOps report, from the history store alone (SQLite or PostgreSQL).

:func:`build_report` reads one time range and returns one plain dict (what ``--json`` prints);
:func:`to_markdown`, :func:`to_html` (SVG plots from :mod:`api.plots`) and :func:`to_csv` render
it. Sections:

- **Spend (showback)** by team, workload, billed model and service, from the hourly usage the
  history keeps (``sw_usage_hourly``, :mod:`spendwatch.history.usage`);
- **Waste (anomalies)** by kind, owner and team: exactly what ``spendwatch anomalies summary``
  says for the same range (the same query and arithmetic, :meth:`HistoryStore.summary`);
- **Structural waste (insights)** by kind: what is reported, not paged;
- **GPU idle share by team** (the idle-cost view): GPU-hours held, idle, and their dollars;
- **Unit costs**: cost per 1,000 predictions per served model, per day, with its trend (the
  workload's billed spend split by its models' traffic: this join needs no partitioning, so the
  report has it even where a stream worker could not make it), and cost per training run;
- **Top savings opportunities** in $/month, each with the action that realises it, from the
  insights and the anomalies still open;
- **Budgets against forecasts**: every budget of the ``budgets`` settings section, forecast to
  month-end from the history's daily spend (:func:`spendwatch.forecast.forecast_month`, the same
  model as the ``budget_forecast`` insight), and the ``budget_forecast`` insights of the range.

Ranges: an anomaly or insight counts when it was active in the range (as ``spendwatch
anomalies``); spend, GPU hours and predictions count by the hour they happened in.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from html import escape
from typing import Any

from api.plots import empty_svg, line_plot, stacked_bars
from spendwatch.forecast import BudgetsConfig, day_label, forecast_month, month_days
from spendwatch.history import AnomalyQuery, HistoryStore
from spendwatch.teams import UNALLOCATED_TEAM, team_of

DAY = 86400.0
HOUR = 3600.0
MONTH_DAYS = 30.0
TOP = 12
ACTIONS = {
    "idle_gpu": "stop or release the idle GPU (or its notebook/job)",
    "gpu_memory_hoarding": "kill the hung job or unload the model and release the GPU",
    "cost_spike": "find and stop what spends above the baseline",
    "retrain_loop": "fix the crash or stop the schedule retraining on unchanged data",
    "retrain_without_drift": "retrain on drift (or a metric gain), not on a schedule",
    "underused_gpu": "pack the queue's jobs onto fewer GPUs or release the GPU between jobs",
    "underused_endpoint": "right-size or autoscale the endpoint",
    "batch_on_realtime": "run the scoring as a scheduled batch job and release the endpoint's GPUs",
    "redundant_training": "share one training's artefact between the teams",
    "unit_cost_rise": "undo what made a prediction dearer (instance type, model, replicas, batching)",
}
SAVING_KINDS = ("underused_gpu", "underused_endpoint", "batch_on_realtime", "redundant_training", "unit_cost_rise")


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _r(x: float, n: int = 2) -> float:
    return round(float(x), n)


def _sorted(acc: Mapping[str, float], key: str, top: int | None = None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [{key: k, "usd": _r(v)} for k, v in acc.items() if abs(v) > 1e-9]
    rows.sort(key=lambda r: (-float(r["usd"]), str(r[key])))
    return rows[:top] if top else rows


# ---------------------------------------------------------------------------- building
def build_report(store: HistoryStore, from_ts: float, to_ts: float,
                 budgets: BudgetsConfig | None = None, unallocated_team: str = UNALLOCATED_TEAM) -> dict[str, Any]:
    """Everything the report says about ``[from_ts, to_ts)``, as plain data (``unallocated_team``:
    the team of what has no workload, ``teams.unallocated``)."""
    usage = store.usage.rows(from_ts, to_ts)
    q = AnomalyQuery(from_ts=from_ts, to_ts=to_ts, unallocated_team=unallocated_team)
    anomalies = store.query(q)
    waste = store.summary(q)
    insights = store.query(AnomalyQuery(from_ts=from_ts, to_ts=to_ts, types=("insight",)))
    report: dict[str, Any] = {"from": from_ts, "to": to_ts, "from_iso": _iso(from_ts), "to_iso": _iso(to_ts),
                              "notes": []}
    report["spend"] = _spend(usage)
    report["waste"] = waste
    report["insights"] = _insights(insights)
    report["gpu_idle"] = _gpu_idle(usage, unallocated_team)
    report["unit_costs"] = _unit_costs(usage)
    report["training"] = _training(usage)
    report["savings"] = _savings(insights, anomalies, from_ts, to_ts, unallocated_team)
    report["budgets"] = _budgets(store, budgets or BudgetsConfig(), to_ts, insights)
    spend_total = report["spend"]["total_usd"]
    report["headline"] = {
        "spend_usd": spend_total, "anomalies": waste["total"]["count"], "waste_usd": waste["total"]["waste_usd"],
        "insights": len(insights),
        "savings_usd_per_month": _r(sum(s["usd_per_month"] for s in report["savings"])),
        "budgets_over": sum(1 for b in report["budgets"]["forecasts"] if b["status"] == "over")
        + len(report["budgets"]["over_by_insight"])}
    if not usage:
        report["notes"].append("no usage in the history for this range: spend, GPU idle and unit-cost sections are "
                               "empty (usage is recorded by `spendwatch demo` and `spendwatch replay --history`; the "
                               "stream worker does not record it yet)")
    return report


def _spend(usage: list[dict[str, Any]]) -> dict[str, Any]:
    by_team: dict[str, float] = defaultdict(float)
    by_workload: dict[str, float] = defaultdict(float)
    by_service: dict[str, float] = defaultdict(float)
    by_model: dict[str, float] = defaultdict(float)
    daily: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    team_of: dict[str, str] = {}
    for r in usage:
        if r["metric"] == "spend":
            v = r["value"]
            team = r["team"] or "(no team)"
            by_team[team] += v
            by_workload[r["workload_id"]] += v
            team_of[r["workload_id"]] = team
            by_service[r["dim"] or "(unspecified)"] += v
            daily[day_label(int(r["hour"] // DAY))][team] += v
        elif r["metric"] == "spend_model":
            by_model[r["dim"]] += r["value"]
    workloads = _sorted(by_workload, "workload", 20)
    for w in workloads:
        w["team"] = team_of.get(w["workload"], "(no team)")
    return {"total_usd": _r(sum(by_team.values())), "by_team": _sorted(by_team, "team"), "by_workload": workloads,
            "workloads": len(by_workload), "by_service": _sorted(by_service, "service"),
            "by_model": _sorted(by_model, "model"),
            "daily": [{"day": d, "by_team": {k: _r(v) for k, v in sorted(t.items())}, "usd": _r(sum(t.values()))}
                      for d, t in sorted(daily.items())]}


def _insights(insights: list[dict[str, Any]]) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for a in insights:
        k = by_kind.setdefault(a["kind"], {"kind": a["kind"], "count": 0, "open": 0, "waste_usd": 0.0,
                                           "usd_per_day_open": 0.0})
        k["count"] += 1
        k["waste_usd"] += a["waste_usd"]
        if a["state"] == "open":
            k["open"] += 1
            k["usd_per_day_open"] += a["projected_daily_usd"]
    rows = sorted(({**v, "waste_usd": _r(v["waste_usd"]), "usd_per_day_open": _r(v["usd_per_day_open"])}
                   for v in by_kind.values()), key=lambda r: (-r["waste_usd"], r["kind"]))
    items = [{"id": a["id"], "kind": a["kind"], "state": a["state"], "resource": a["resource"],
              "team": (a["workload"] or {}).get("team"), "workload": (a["workload"] or {}).get("id"),
              "waste_usd": a["waste_usd"], "projected_daily_usd": a["projected_daily_usd"], "summary": a["summary"]}
             for a in sorted(insights, key=lambda a: (-a["projected_daily_usd"], a["id"]))]
    return {"count": len(insights), "by_kind": rows, "items": items}


def _gpu_idle(usage: list[dict[str, Any]], unallocated: str = UNALLOCATED_TEAM) -> list[dict[str, Any]]:
    acc: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in usage:
        if r["metric"].startswith("gpu_"):  # workload '' = a GPU allocated to nobody
            team = r["team"] or (unallocated if not r["workload_id"] else "(no team)")
            acc[team][r["metric"]] += r["value"]
    rows: list[dict[str, Any]] = []
    for team, m in acc.items():
        hours = m.get("gpu_hours", 0.0)
        rows.append({"team": team, "gpu_hours": _r(hours, 1), "idle_hours": _r(m.get("gpu_idle_hours", 0.0), 1),
                     "idle_share_pct": _r(100 * m.get("gpu_idle_hours", 0.0) / hours, 1) if hours else 0.0,
                     "gpu_usd": _r(m.get("gpu_usd", 0.0)), "idle_usd": _r(m.get("gpu_idle_usd", 0.0))})
    rows.sort(key=lambda r: (-float(r["idle_usd"]), str(r["team"])))
    return rows


def _unit_costs(usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Cost per 1,000 predictions per model and day: the workload's billed spend split by its models' traffic."""
    spend: dict[tuple[str, str], float] = defaultdict(float)  # (workload, day) -> $
    preds: dict[tuple[str, str, str], float] = defaultdict(float)  # (workload, model, day) -> predictions
    team_of: dict[str, str] = {}
    for r in usage:
        day = day_label(int(r["hour"] // DAY))
        if r["metric"] == "spend":
            spend[(r["workload_id"], day)] += r["value"]
        elif r["metric"] == "predictions" and r["dim"]:
            preds[(r["workload_id"], r["dim"], day)] += r["value"]
            team_of[r["dim"]] = r["team"]
    total_preds: dict[tuple[str, str], float] = defaultdict(float)
    for (w, _m, d), n in preds.items():
        total_preds[(w, d)] += n
    models: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for (w, m, d), n in sorted(preds.items()):
        cost = spend.get((w, d), 0.0) * n / total_preds[(w, d)] if total_preds[(w, d)] else 0.0
        models[(m, w)].append({"day": d, "predictions": n, "cost_usd": cost})
    out: list[dict[str, Any]] = []
    for (m, w), days in sorted(models.items()):
        n = sum(x["predictions"] for x in days)
        c = sum(x["cost_usd"] for x in days)
        billed = [x for x in days if x["cost_usd"] > 0 and x["predictions"] > 0]
        series = [{"day": x["day"], "usd_per_1k": _r(1000 * x["cost_usd"] / x["predictions"], 4),
                   "predictions": _r(x["predictions"], 0)} for x in billed]
        trend = _r(100 * (series[-1]["usd_per_1k"] / series[0]["usd_per_1k"] - 1), 1) \
            if len(series) >= 2 and series[0]["usd_per_1k"] > 0 else None
        out.append({"model_id": m, "workload": w, "team": team_of.get(m) or "(no team)", "predictions": _r(n, 0),
                    "cost_usd": _r(c), "usd_per_1k": _r(1000 * c / n, 4) if n and c else None,
                    "trend_pct": trend, "daily": series, "billed": bool(c)})
    out.sort(key=lambda r: (-float(r["cost_usd"] or 0.0), str(r["model_id"])))
    return out


def _training(usage: list[dict[str, Any]]) -> list[dict[str, Any]]:
    acc: dict[str, dict[str, Any]] = {}
    for r in usage:
        if r["metric"] in ("training_usd", "training_runs"):
            a = acc.setdefault(r["dim"], {"model_id": r["dim"], "team": r["team"] or "(no team)", "runs": 0.0,
                                          "cost_usd": 0.0})
            a["runs" if r["metric"] == "training_runs" else "cost_usd"] += r["value"]
    rows = [{**a, "runs": int(a["runs"]), "cost_usd": _r(a["cost_usd"]),
             "usd_per_run": _r(a["cost_usd"] / a["runs"]) if a["runs"] else None} for a in acc.values()]
    rows.sort(key=lambda r: (-r["cost_usd"], r["model_id"]))
    return rows


def _savings(insights: list[dict[str, Any]], anomalies: list[dict[str, Any]], from_ts: float,
             to_ts: float, unallocated: str = UNALLOCATED_TEAM) -> list[dict[str, Any]]:
    """Top opportunities in $/month: one per workload (or GPU) and kind, with the action."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for a in insights:
        if a["kind"] in SAVING_KINDS:
            key = a["resource"] if a["kind"] == "underused_gpu" else str(a["resource"]).split(" @")[0]
            groups[(a["kind"], key)].append(a)
    out: list[dict[str, Any]] = []
    for (kind, key), items in groups.items():
        wl = items[0]["workload"] or {}
        if kind == "underused_gpu":  # one insight per GPU and day: the mean day, a month of them
            per_month = MONTH_DAYS * sum(a["waste_usd"] for a in items) / len(items)
            what = f"GPU {key} idle {sum(a['evidence'].get('idle_share_pct', 0) for a in items) / len(items):.0f}% " \
                   f"between jobs ({len(items)} day(s))"
        elif kind == "redundant_training":  # a duplicate run: what it cost, each time
            per_month = sum(a["waste_usd"] for a in items)
            what = f"{len(items)} duplicate training run(s) on {key}"
        else:  # ongoing: the latest figure per day (partitions of one workload added up)
            latest: dict[str, dict[str, Any]] = {}
            for a in sorted(items, key=lambda a: a["ts"]):
                latest[a["resource"]] = a
            per_month = MONTH_DAYS * sum(a["projected_daily_usd"] for a in latest.values())
            what = items[-1]["summary"].split(":")[0]
        action = next((a["evidence"].get("action") for a in reversed(items) if a["evidence"].get("action")),
                      ACTIONS.get(kind, ""))
        out.append({"kind": kind, "what": what, "workload": wl.get("id"), "team": wl.get("team") or "(no team)",
                    "owner": wl.get("owner"), "usd_per_month": _r(per_month), "action": action,
                    "source": "insight", "ids": sorted(a["id"] for a in items)[:5]})
    for a in anomalies:
        if a["state"] == "open" and a["projected_daily_usd"] > 0:
            wl = a["workload"] or {}
            out.append({"kind": a["kind"], "what": a["summary"].split(";")[0][:120], "workload": wl.get("id"),
                        "team": team_of(a, unallocated) or "(no team)", "owner": wl.get("owner"),
                        "usd_per_month": _r(MONTH_DAYS * a["projected_daily_usd"]),
                        "action": ACTIONS.get(a["kind"], "see the anomaly"), "source": "anomaly", "ids": [a["id"]]})
    out.sort(key=lambda r: (-float(r["usd_per_month"]), str(r["kind"]), str(r["workload"])))
    return out[:TOP]


def _budgets(store: HistoryStore, cfg: BudgetsConfig, to_ts: float, insights: list[dict[str, Any]]) -> dict[str, Any]:
    """Every configured budget against its month-end forecast, as of the last complete day before ``to_ts``."""
    scopes = [("team", k, v) for k, v in sorted(cfg.teams.items())] + \
             [("workload", k, v) for k, v in sorted(cfg.workloads.items())] + \
             [("model", k, v) for k, v in sorted(cfg.models.items())]
    forecasts = []
    if scopes:
        upto = int(to_ts // DAY) - 1  # the last complete day
        since = (upto - cfg.fit_days - 40) * DAY
        rows = store.usage.rows(since, (upto + 1) * DAY, metrics=("spend", "spend_model"))
        for what, name, budget in scopes:
            daily: dict[int, float] = defaultdict(float)
            for r in rows:
                if (what == "team" and r["metric"] == "spend" and r["team"] == name) or \
                        (what == "workload" and r["metric"] == "spend" and r["workload_id"] == name) or \
                        (what == "model" and r["metric"] == "spend_model" and r["dim"] == name):
                    daily[int(r["hour"] // DAY)] += r["value"]
            scope = f"{what}:{name}"
            if not daily:
                forecasts.append({"scope": scope, "budget_usd": budget, "status": "no spend recorded"})
                continue
            first = min(daily)
            first_hour = min(r["hour"] for r in rows if int(r["hour"] // DAY) == first)
            if first_hour - first * DAY >= HOUR:
                first += 1  # the history began after that day's first hour: it is partial
            days = list(range(max(first, upto - cfg.fit_days + 1), upto + 1))
            if len(days) < cfg.min_days:
                forecasts.append({"scope": scope, "budget_usd": budget,
                                  "status": f"under {cfg.min_days} days of spend"})
                continue
            start = month_days(upto + 1)[0]
            mtd = sum(v for d, v in daily.items() if start <= d <= upto)
            f = forecast_month(days, [daily.get(d, 0.0) for d in days], budget=budget, month_to_date=mtd,
                               fit_days=cfg.fit_days, known_from=first, damping=cfg.trend_damping)
            status = "over" if f.p_over >= cfg.alert_probability else "at risk" if f.p_over >= cfg.resolve_probability \
                else "within"
            forecasts.append({"scope": scope, "month": f.month, "budget_usd": budget,
                              "month_to_date_usd": _r(f.month_to_date_usd), "forecast_usd": _r(f.forecast_usd),
                              "forecast_low_usd": _r(f.low_usd), "forecast_high_usd": _r(f.high_usd),
                              "p_over": _r(f.p_over, 3), "crossing_day": f.crossing_day,
                              "growth_pct_week": _r(f.growth_pct_week, 2), "as_of": day_label(upto),
                              "estimated_days": f.estimated_days, "status": status,
                              "daily_actual": [[d * DAY, _r(daily.get(d, 0.0))] for d in range(start, upto + 1)],
                              "daily_forecast": [[(upto + 1 + i) * DAY, v] for i, v in enumerate(f.daily)]})
    flagged = [{"id": a["id"], "state": a["state"], "scope": a["evidence"].get("scope", a["resource"]),
                "month": a["evidence"].get("month"), "forecast_usd": a["evidence"].get("forecast_usd"),
                "budget_usd": a["evidence"].get("budget_usd"), "crossing_day": a["evidence"].get("crossing_day"),
                "summary": a["summary"]} for a in insights if a["kind"] == "budget_forecast"]
    growth = [{"workload": a["resource"], "state": a["state"], "growth_pct_week": a["evidence"].get("growth_pct_week"),
               "summary": a["summary"]} for a in insights if a["kind"] == "spend_growth"]
    # budgets the detectors judged (the worker's settings) that this report's --config does not name: the insight's
    # own forecast stands for them, so that the headline and the table agree with the insights below them
    configured = {f["scope"] for f in forecasts}
    elsewhere: dict[str, dict[str, Any]] = {}
    for b in flagged:
        if b["state"] != "resolved" and b["scope"] not in configured:
            elsewhere[b["scope"]] = b
    return {"forecasts": forecasts, "insights": flagged, "growth": growth,
            "over_by_insight": sorted(elsewhere.values(), key=lambda b: b["scope"])}


# ---------------------------------------------------------------------------- rendering
def _usd(x: float | None) -> str:
    if x is None:
        return "-"
    return f"${x:,.2f}" if abs(x) < 1000 else f"${x:,.0f}"


def _md_table(headers: list[str], rows: Iterable[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")
    if len(out) == 2:
        out.append("| " + " | ".join(["none"] + [""] * (len(headers) - 1)) + " |")
    return out


def _sections(rep: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(title, headers, rows) of every table, shared by Markdown, HTML and CSV."""
    s, w = rep["spend"], rep["waste"]
    out: list[tuple[str, list[str], list[list[Any]]]] = [
        ("Spend by team", ["team", "spend"], [[r["team"], _usd(r["usd"])] for r in s["by_team"]]),
        ("Spend by workload (top 20)", ["workload", "team", "spend"],
         [[r["workload"], r["team"], _usd(r["usd"])] for r in s["by_workload"]]),
        ("Spend by billed model", ["model", "spend"], [[r["model"], _usd(r["usd"])] for r in s["by_model"]]),
        ("Spend by service", ["service", "spend"], [[r["service"], _usd(r["usd"])] for r in s["by_service"]]),
        ("Waste (anomalies) by kind", ["kind", "count", "open", "lost", "$/day open"],
         [[r["kind"], r["count"], r["open"], _usd(r["waste_usd"]), _usd(r["projected_daily_usd"])]
          for r in w["by_kind"]]),
        ("Waste (anomalies) by owner", ["owner", "count", "lost", "$/day open"],
         [[r["owner"], r["count"], _usd(r["waste_usd"]), _usd(r["projected_daily_usd"])] for r in w["by_owner"]]),
        ("Structural waste (insights) by kind", ["kind", "count", "open", "so far", "$/day open"],
         [[r["kind"], r["count"], r["open"], _usd(r["waste_usd"]), _usd(r["usd_per_day_open"])]
          for r in rep["insights"]["by_kind"]]),
        ("GPU idle share by team", ["team", "GPU-hours", "idle hours", "idle share", "GPU $", "idle $"],
         [[r["team"], r["gpu_hours"], r["idle_hours"], f"{r['idle_share_pct']}%", _usd(r["gpu_usd"]),
           _usd(r["idle_usd"])] for r in rep["gpu_idle"]]),
        ("Unit costs (per 1,000 predictions)", ["model", "workload", "predictions", "cost", "$ / 1k", "trend"],
         [[r["model_id"], r["workload"], f"{r['predictions']:,.0f}",
           _usd(r["cost_usd"]) if r["billed"] else "not billed",
           f"${r['usd_per_1k']:.4f}" if r["usd_per_1k"] else "-",
           f"{r['trend_pct']:+.0f}%" if r["trend_pct"] is not None else "-"] for r in rep["unit_costs"]]),
        ("Cost per training run", ["model", "team", "runs", "cost", "$ / run"],
         [[r["model_id"], r["team"], r["runs"], _usd(r["cost_usd"]), _usd(r["usd_per_run"])]
          for r in rep["training"][:15]]),
        ("Top savings opportunities", ["$/month", "what", "team", "action"],
         [[_usd(r["usd_per_month"]), f"{r['kind']}: {r['what']}", r["team"], r["action"]] for r in rep["savings"]]),
        ("Budgets against forecasts", ["scope", "month", "budget", "so far", "forecast (80%)", "crosses", "status"],
         [[b["scope"], b.get("month", "-"), _usd(b["budget_usd"]), _usd(b.get("month_to_date_usd")),
           f"{_usd(b['forecast_usd'])} ({_usd(b['forecast_low_usd'])}-{_usd(b['forecast_high_usd'])})"
           if "forecast_usd" in b else "-", b.get("crossing_day") or "-", b["status"]]
          for b in rep["budgets"]["forecasts"]]
         + [[b["scope"], b.get("month") or "-", _usd(b.get("budget_usd")), "-", _usd(b.get("forecast_usd")),
             b.get("crossing_day") or "-", "over (budget_forecast insight; not in --config)"]
            for b in rep["budgets"].get("over_by_insight", [])]),
    ]
    return out


def _headline(rep: dict[str, Any]) -> list[str]:
    h = rep["headline"]
    anomalies = f"{h['anomalies']} {'anomaly' if h['anomalies'] == 1 else 'anomalies'}"
    insights = f"{h['insights']} {'insight' if h['insights'] == 1 else 'insights'}"
    return [f"Spend {_usd(h['spend_usd'])}; {anomalies} lost {_usd(h['waste_usd'])}; "
            f"{insights}; savings available {_usd(h['savings_usd_per_month'])}/month; "
            f"{h['budgets_over']} budget(s) forecast over."]


def to_markdown(rep: dict[str, Any]) -> str:
    lines = [f"# spendwatch report: {rep['from_iso']} to {rep['to_iso']}", "", *_headline(rep), ""]
    for note in rep["notes"]:
        lines += [f"> {note}", ""]
    for title, headers, rows in _sections(rep):
        lines += [f"## {title}", "", *_md_table(headers, rows), ""]
    if rep["budgets"]["insights"] or rep["budgets"]["growth"]:
        lines += ["Budget and growth insights:", ""]
        lines += [f"- {b['summary']}" for b in rep["budgets"]["insights"]]
        lines += [f"- {g['summary']}" for g in rep["budgets"]["growth"]]
        lines.append("")
    return "\n".join(lines)


def to_csv(rep: dict[str, Any]) -> str:
    """One CSV of every table: ``section`` first, then the table's own columns (padded)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    width = max(len(h) for _t, h, _r in _sections(rep))
    w.writerow(["section", *[f"c{i + 1}" for i in range(width)]])
    w.writerow(["headline", *_headline(rep)])
    for title, headers, rows in _sections(rep):
        w.writerow([title, *headers])
        for r in rows:
            w.writerow([title, *r])
    return buf.getvalue()


def _plots(rep: dict[str, Any]) -> dict[str, str]:
    daily = rep["spend"]["daily"]
    teams = [r["team"] for r in rep["spend"]["by_team"]][:10]
    if daily:
        t = [datetime.strptime(d["day"], "%Y-%m-%d").replace(tzinfo=UTC).timestamp() for d in daily]
        series = [{"name": team, "values": [d["by_team"].get(team, 0.0) for d in daily]} for team in teams]
        spend = stacked_bars("report_spend", "Spend per day by team", {"t": t, "series": series, "step_s": DAY},
                             order=teams)
    else:
        spend = empty_svg("report_spend", "Spend per day by team", "no spend recorded in this range")
    units = [u for u in rep["unit_costs"] if len(u["daily"]) >= 1][:8]
    if units:
        unit = line_plot("report_unit_costs", "Cost per 1,000 predictions, per day", {
            "unit": "$ per 1k", "series": [{"name": u["model_id"], "points": [
                [datetime.strptime(d["day"], "%Y-%m-%d").replace(tzinfo=UTC).timestamp() + DAY / 2, d["usd_per_1k"]]
                for d in u["daily"]]} for u in units]})
    else:
        unit = empty_svg("report_unit_costs", "Cost per 1,000 predictions", "no billed model traffic in this range")
    idle = rep["gpu_idle"]
    if idle:
        idle_svg = stacked_bars("report_gpu_idle", "GPU dollars by team: busy and idle", {
            "t": [float(i) for i in range(len(idle))], "step_s": 1.0,
            "series": [{"name": "busy", "values": [r["gpu_usd"] - r["idle_usd"] for r in idle]},
                       {"name": "idle", "values": [r["idle_usd"] for r in idle]}]})
        idle_svg = idle_svg.replace("</svg>", "".join(
            f'<text x="{64 + (860 - 80) * (i + 0.5) / len(idle):.1f}" y="250" font-size="10" text-anchor="middle">'
            f'{escape(r["team"][:14])}</text>' for i, r in enumerate(idle)) + "</svg>")
    else:
        idle_svg = empty_svg("report_gpu_idle", "GPU dollars by team", "no GPU samples recorded in this range")
    budget_svgs = []
    for b in rep["budgets"]["forecasts"]:
        if "daily_actual" not in b:
            continue
        cum, pts_a = 0.0, []
        base = b["month_to_date_usd"] - sum(v for _t, v in b["daily_actual"])  # estimated days before the data
        cum = base
        for t, v in b["daily_actual"]:
            cum += v
            pts_a.append([t + DAY, cum])
        pts_f = [pts_a[-1]] if pts_a else []
        for t, v in b["daily_forecast"]:
            cum += v
            pts_f.append([t + DAY, cum])
        budget_svgs.append(line_plot("report_budget", f"{b['scope']}: month to date and forecast, {b['month']}", {
            "unit": "$", "series": [{"name": "actual", "points": pts_a}, {"name": "forecast", "points": pts_f}],
            "levels": [{"y": b["budget_usd"], "label": "budget"}]}))
    return {"spend": spend, "unit_costs": unit, "gpu_idle": idle_svg, "budgets": "\n".join(budget_svgs)}


def to_html(rep: dict[str, Any]) -> str:
    plots = _plots(rep)
    where = {"Spend by team": plots["spend"], "GPU idle share by team": plots["gpu_idle"],
             "Unit costs (per 1,000 predictions)": plots["unit_costs"], "Budgets against forecasts": plots["budgets"]}
    body = [f"<h1>spendwatch report: {escape(str(rep['from_iso']))} to {escape(str(rep['to_iso']))}</h1>",
            f"<p class=\"headline\">{escape(_headline(rep)[0])}</p>"]
    body += [f"<p class=\"note\">{escape(n)}</p>" for n in rep["notes"]]
    for title, headers, rows in _sections(rep):
        body.append(f"<h2>{escape(title)}</h2>")
        if title in where:
            body.append(f'<div class="figure">{where[title]}</div>')
        body.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr></thead><tbody>")
        body += ["<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows]
        body.append("</tbody></table>")
    items = rep["budgets"]["insights"] + rep["budgets"]["growth"]
    if items:
        body.append("<ul>" + "".join(f"<li>{escape(i['summary'])}</li>" for i in items) + "</ul>")
    style = ("body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border-bottom:1px solid #ddd;padding:3px 10px;"
             "text-align:left;font-size:14px}svg.plot{width:100%;height:auto}.note{color:#a55}")
    return (f"<!doctype html><html><head><meta charset=\"utf-8\"><title>spendwatch report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def render(rep: dict[str, Any], fmt: str) -> str:
    """The report as ``md``, ``html``, ``csv`` or ``json``."""
    if fmt == "json":
        import orjson

        return orjson.dumps(rep, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode() + "\n"
    return {"md": to_markdown, "html": to_html, "csv": to_csv}[fmt](rep)

