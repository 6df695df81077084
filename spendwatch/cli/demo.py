"""`spendwatch demo`: a simulated day of a GPU fleet with every kind of problem, through the detectors.

The driver is :func:`streams.demo.run_demo` (simulate, detect, alert, record); this module
parses the flags and prints what it reports: the open and resolved anomalies (owner, $ wasted,
$/day), waste by team, and which injected problems were caught.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from alerting.environment import alert_environment
from detectors.registry import default_detector_classes
from spendwatch.cli.flags import add_kafka, apply_kafka
from spendwatch.cli.output import (
    non_negative_int,
    plural,
    port,
    positive_float,
    positive_int,
    print_json,
    time_arg,
)
from spendwatch.cli.settings import load as load_settings
from spendwatch.config import Settings
from spendwatch.format import anomaly_duration
from spendwatch.teams import UNALLOCATED_TEAM, team_of, unallocated_team
from streams.demo import DemoOptions, DemoRun, demo_store, run_demo


def register(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="simulate a day of a GPU fleet with injected problems and show what spendwatch catches",
        description="Simulate a fleet for a day of event time with every kind of injected problem, run the "
                    "detectors over it in-process, and print the anomalies (owner, $ wasted, $/day), waste by "
                    "team and which injected problems were caught. Alerts go through the alert pipeline to the "
                    "console (to Slack only with --slack) and the anomalies are recorded in a history store of the "
                    "demo's own (fresh at every run; --db URL for another), never in $SPENDWATCH_DB.",
    )
    p.add_argument("--hours", type=positive_float, default=24.0, help="event time to simulate (default: 24)")
    p.add_argument("--gpus", type=positive_int, default=32, help="physical GPUs in the fleet (default: 32)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    p.add_argument("--config", metavar="FILE", help="settings file (YAML or JSON)")
    p.add_argument("--start", type=time_arg, metavar="TIME",
                   help="start of the simulated day, epoch s or ISO 8601 (default: the last full hours up to "
                        "now, so the anomalies land in the recent history)")
    p.add_argument("--alerts", action=argparse.BooleanOptionalAction, default=True,
                   help="route anomalies through the alert pipeline (default: on)")
    p.add_argument("--max-alerts", type=non_negative_int, default=6, metavar="N",
                   help="send alerts for at most N anomalies (default: 6)")
    p.add_argument("--history", action=argparse.BooleanOptionalAction, default=True,
                   help="record the anomalies in the history store (default: on)")
    p.add_argument("--db", metavar="URL", help="history store URL (default: a fresh demo store, "
                   "$XDG_DATA_HOME/spendwatch/demo/history.db; never $SPENDWATCH_DB unless given here)")
    p.add_argument("--slack", action="store_true",
                   help="post the alerts to Slack with SPENDWATCH_SLACK_TOKEN (default: the console, even when a "
                        "token is set)")
    p.add_argument("--serve", action="store_true",
                   help="then keep the dashboard and API up (until Ctrl-C) over the demo's history")
    p.add_argument("--host", default="127.0.0.1", help="with --serve: address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=port, default=8080, help="with --serve: port (default: 8080; 0 = a free one)")
    p.add_argument("--kafka", action="store_true",
                   help="run the events through a Kafka broker and the stream worker instead of in-process "
                        "(a local Apache Kafka unless --bootstrap or SPENDWATCH_KAFKA names one)")
    add_kafka(p)  # with --kafka: the broker and topic prefix, like every command that talks to Kafka
    p.add_argument("--json", action="store_true",
                   help="print one JSON document instead of the tables: what was caught per family (truth, caught, "
                        "missed, false), the structural-waste cases, the anomalies and where the history store is; "
                        "console alerts go to stderr")
    p.set_defaults(func=run)


# --------------------------------------------------------------------------- formatting
def _utc(ts: float) -> str:
    return time.strftime("%m-%d %H:%M", time.gmtime(ts))


def _usd(x: float) -> str:
    return f"${x:,.2f}" if x < 1000 else f"${x:,.0f}"


def _owner(a: dict[str, Any], unallocated: str = UNALLOCATED_TEAM) -> str:
    w = a.get("workload") or {}
    return str(w.get("owner") or team_of(a, unallocated) or "-")


def _team(a: dict[str, Any], unallocated: str = UNALLOCATED_TEAM) -> str:
    """The team as ``spendwatch anomalies`` shows it (the unallocated team's name: teams.unallocated)."""
    return team_of(a, unallocated) or "-"


def _table(rows: list[list[str]], right: Iterable[int] = ()) -> list[str]:
    """Plain aligned columns (no dependency on a table library)."""
    right = set(right)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r))
            .rstrip() for r in rows]


class _Printer:
    """Prints what the demo reports, on stdout (progress notes on stderr)."""

    def __init__(self, db: str | None = None, slack: bool = False, unallocated: str = UNALLOCATED_TEAM) -> None:
        self.p = sys.stdout.write
        self.db, self.slack = db, slack
        self.unallocated = unallocated

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def detected(self, run: DemoRun) -> None:
        p, cfg, stats = self.p, run.config, run.stats
        nodes = math.ceil(cfg.gpus / 8)
        p(f"spendwatch demo: {plural(cfg.gpus, 'GPU')} on {plural(nodes, 'node')} ({run.sim.streams} GPU/MIG streams), "
          f"{cfg.hours:g} h of event time ({_utc(cfg.start)} to {_utc(cfg.end)} UTC), "
          f"{plural(len(run.sim.truth), 'injected problem')}\n")
        p(f"  simulated {plural(stats.events, 'event')} ({cfg.billing_days:g} days of billing history) in "
          f"{run.simulate_s:.1f}s; {'broker + worker' if run.through_kafka else 'detectors'} ran over them in "
          f"{run.detect_s:.1f}s ({stats.events / max(run.detect_s, 1e-9):,.0f} events/s); "
          f"{plural(stats.bad, 'malformed line')} skipped\n"
          f"  (the malformed lines are injected on purpose, to show that bad input is counted and skipped, "
          f"never fatal)\n\n")
        latest = run.latest
        now = cfg.end
        u = self.unallocated
        _print_anomalies(p, [a for a in latest.values() if a["state"] == "open"], "Open anomalies", now, u)
        _print_anomalies(p, [a for a in latest.values() if a["state"] == "resolved"], "Resolved anomalies", now, u)
        _print_teams(p, list(latest.values()), u)
        _print_insights(p, list(run.latest_insights.values()), cfg.start, u)
        _print_truth(p, run.matched, run.waste_score)

    def alerting(self, count: int) -> None:
        costliest = "the costliest anomaly" if count == 1 else f"the {count} costliest anomalies"
        where = "Slack (--slack)" if self.slack else "the console; --slack to post them to Slack"
        self.p(f"Alerts for {costliest} ({where}; --max-alerts N for more, --no-alerts for none)\n")
        sys.stdout.flush()

    def alerted(self, said_anything: bool) -> None:
        sys.stdout.flush()
        if not said_anything:
            self.p("  (nothing new to say: these anomalies were alerted by an earlier run; the notification log "
                   "deduplicates)\n")
        self.p("\n")

    def recorded(self, count: int) -> None:
        where = f" --db {self.db}" if self.db else ""
        self.p(f"Recorded {plural(count, 'anomaly and insight event')} in the demo's history store"
               f"{f' ({self.db})' if self.db else ''}. Query them with:\n"
               f"  spendwatch anomalies{where} --since 30d             # incidents\n"
               f"  spendwatch anomalies{where} --insights --since 30d  # structural waste\n")

    def reported(self, run: DemoRun, settings: Any, db: str | None) -> None:
        from api.report import build_report
        from spendwatch.forecast import BudgetsConfig
        from spendwatch.history import open_store

        cfg = run.config
        with open_store(db) as store:
            rep = build_report(store, cfg.start, cfg.end, settings.build(BudgetsConfig, "budgets"),
                               unallocated_team=self.unallocated)
        _print_report(self.p, rep)
        where = f" --db {db}" if db else ""
        self.p(f"The whole report (spend by team/workload/model/service, GPU idle share, unit costs, budgets):\n"
               f"  spendwatch report{where} --since 2d                  # Markdown\n"
               f"  spendwatch report{where} --since 2d --out report.html # with plots\n")

    def dashboard(self, serving: str | None, db: str | None) -> None:
        if serving:
            self.p(f"\nDashboard: {serving}  (the API at {serving}docs; Ctrl-C stops it)\n")
        else:
            where = f" --db {db}" if db else ""
            self.p(f"\nSee them as pictures: run\n  .venv/bin/spendwatch serve{where}\nand open "
                   f"http://127.0.0.1:8080/ (or run: spendwatch demo --serve)\n")
        sys.stdout.flush()


class _JsonReport:
    """Keeps what the demo reports, for one JSON document at the end (``demo --json``)."""

    def __init__(self, db: str | None, slack: bool, unallocated: str = UNALLOCATED_TEAM) -> None:
        self.db, self.slack, self.unallocated = db, slack, unallocated
        self.doc: dict[str, Any] = {}

    def note(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def detected(self, run: DemoRun) -> None:
        cfg, stats, u = run.config, run.stats, self.unallocated
        waste = run.waste_score
        latest = list(run.latest.values())
        self.doc.update({
            "fleet": {"gpus": cfg.gpus, "nodes": math.ceil(cfg.gpus / 8), "streams": run.sim.streams,
                      "seed": cfg.seed, "hours": cfg.hours, "billing_days": cfg.billing_days},
            "start_ts": cfg.start, "end_ts": cfg.end,
            "events": stats.events, "malformed_lines": stats.bad, "malformed_lines_injected": True,
            "simulate_s": round(run.simulate_s, 3), "detect_s": round(run.detect_s, 3),
            "through_kafka": run.through_kafka,
            "families": run.families,
            "injected": [_truth_row(t, a) for t, a in run.matched],
            "structural_waste": {
                "injected": len(waste.caught) + len(waste.missed), "caught": len(waste.caught),
                "missed": len(waste.missed), "false": len(waste.false),
                "cases": [{**_case(t), "caught": True} for t in waste.caught]
                + [{**_case(t), "caught": False} for t in waste.missed],
                "false_insights": [{"id": a["id"], "kind": a["kind"], "resource": a["resource"]} for a in waste.false],
            },
            "anomalies": {"open": sum(a["state"] == "open" for a in latest),
                          "resolved": sum(a["state"] == "resolved" for a in latest),
                          "items": [_anomaly_row(a, u, cfg.end) for a in
                                    sorted(latest, key=lambda a: (-a["waste_usd"], a["started_at"], a["id"]))]},
            "insights": [_anomaly_row(a, u, cfg.end) for a in run.latest_insights.values()
                         if a["resolved_at"] is None or a["resolved_at"] >= cfg.start],
            "waste_by_team": _team_rows(latest, u),
            "alerts": None, "history": None, "report": None,
        })

    def alerting(self, count: int) -> None:
        self.doc["alerts"] = {"anomalies": count, "to": "slack" if self.slack else "console (stderr)",
                              "said_anything": None}

    def alerted(self, said_anything: bool) -> None:
        self.doc["alerts"]["said_anything"] = said_anything

    def recorded(self, count: int) -> None:
        self.doc["history"] = {"db": self.db, "file": _sqlite_file(self.db), "events_recorded": count,
                               "notification_log": "in the history store"}

    def reported(self, run: DemoRun, settings: Any, db: str | None) -> None:
        from api.report import build_report
        from spendwatch.forecast import BudgetsConfig
        from spendwatch.history import open_store

        with open_store(db) as store:
            rep = build_report(store, run.config.start, run.config.end, settings.build(BudgetsConfig, "budgets"),
                               unallocated_team=self.unallocated)
        self.doc["report"] = {"headline": rep["headline"], "savings": rep["savings"][:8]}


def _truth_row(t: dict[str, Any], a: dict[str, Any] | None) -> dict[str, Any]:
    return {**_case(t), "expected_kinds": t["expected_kinds"], "start_ts": t["start"], "end_ts": t["end"],
            "caught": a is not None, "as": a["kind"] if a else None, "anomaly_id": a["id"] if a else None,
            "detected_after_s": round(a["detected_at"] - t["start"], 1) if a else None}


def _case(t: dict[str, Any]) -> dict[str, Any]:
    return {"kind": t["kind"], "resource": t["resource"], "workload": t["workload"], "team": t.get("team")}


def _anomaly_row(a: dict[str, Any], unallocated: str, now: float) -> dict[str, Any]:
    w = a.get("workload") or {}
    return {"id": a["id"], "kind": a["kind"], "state": a["state"], "severity": a["severity"],
            "resource": a["resource"], "workload": w.get("id"), "team": team_of(a, unallocated),
            "owner": w.get("owner"), "waste_usd": a["waste_usd"], "projected_daily_usd": a["projected_daily_usd"],
            "started_at": a["started_at"], "detected_at": a["detected_at"], "resolved_at": a["resolved_at"],
            "duration": anomaly_duration(a, now), "summary": a["summary"]}


def _team_rows(latest: list[dict[str, Any]], unallocated: str) -> list[dict[str, Any]]:
    teams: dict[str | None, dict[str, Any]] = {}
    for a in latest:
        team = team_of(a, unallocated)
        row = teams.setdefault(team, {"team": team, "anomalies": 0, "waste_usd": 0.0, "daily_usd_now": 0.0})
        row["anomalies"] += 1
        row["waste_usd"] += a["waste_usd"]
        if a["state"] == "open":
            row["daily_usd_now"] += a["projected_daily_usd"]
    rows = sorted(teams.values(), key=lambda r: (-r["waste_usd"], str(r["team"])))
    return [{**r, "waste_usd": round(r["waste_usd"], 2), "daily_usd_now": round(r["daily_usd_now"], 2)} for r in rows]


def _sqlite_file(db: str | None) -> str | None:
    """The file of a ``sqlite:///PATH`` URL (None for another database)."""
    return db.removeprefix("sqlite:///") if db and db.startswith("sqlite:///") else None


def _json_settings(settings: Settings) -> Settings:
    """``demo --json`` keeps stdout for the document: console alerts go to stderr unless the settings say where."""
    alerting = dict(settings.section("alerting") or {})
    if alerting.get("console", "stdout") == "stdout":
        alerting["console"] = "stderr"
    return replace(settings, sections={**settings.sections, "alerting": alerting})


def run(args: argparse.Namespace) -> int:
    apply_kafka(args)
    settings = load_settings(args.config)
    if args.json:
        settings = _json_settings(settings)
    environment = alert_environment(os.environ)
    if not args.slack:  # never a real Slack by accident: a token in the shell is for the real alerter
        environment = replace(environment, slack_token=None)
    db = args.db or (demo_store() if args.history else None)
    options = DemoOptions(hours=args.hours, gpus=args.gpus, seed=args.seed, start=args.start, alerts=args.alerts,
                          max_alerts=args.max_alerts, history=args.history, db=db, kafka=args.kafka,
                          alert_environment=environment)
    printer: _Printer | _JsonReport = (_JsonReport if args.json else _Printer)(db, args.slack,
                                                                              unallocated_team(settings))
    if not args.db and os.environ.get("SPENDWATCH_DB"):
        printer.note("spendwatch demo: SPENDWATCH_DB is set; the demo records into its own store instead "
                     "(--db URL to choose one)")
    code = run_demo(settings, options, printer)
    if code:
        return code
    if not args.serve or not args.history:
        if isinstance(printer, _JsonReport):
            print_json({**printer.doc, "dashboard_url": None})
        elif args.history:
            printer.dashboard(None, db)
        return code
    from api.server import bind, build, run_forever, serve_environment, url_of

    served = build(settings, db, serve_environment(os.environ))
    try:
        sock = bind(args.host, args.port)
        if isinstance(printer, _JsonReport):
            print_json({**printer.doc, "dashboard_url": url_of(sock)})
            sys.stdout.flush()
        else:
            printer.dashboard(url_of(sock), db)
        run_forever(served.app, sock)
    finally:
        served.close()
    return 0


def _print_anomalies(p: Any, anomalies: list[dict[str, Any]], title: str, now: float,
                     unallocated: str = UNALLOCATED_TEAM) -> None:
    p(f"{title} ({len(anomalies)})\n")
    if not anomalies:
        p("  none\n\n")
        return
    anomalies.sort(key=lambda a: (-a["waste_usd"], -a["projected_daily_usd"], a["started_at"]))
    rows = [["SEVERITY", "KIND", "RESOURCE", "OWNER", "WASTED", "$/DAY", "SINCE"]]
    for a in anomalies:
        rows.append([a["severity"], a["kind"], str(a["resource"])[:24], _owner(a, unallocated)[:32],
                     _usd(a["waste_usd"]), _usd(a["projected_daily_usd"]),
                     f"{_utc(a['started_at'])} ({anomaly_duration(a, now)})"])
    table = _table(rows, right=(4, 5))
    p(table[0] + "\n")
    for line, a in zip(table[1:], anomalies, strict=True):
        p(line + "\n")
        p(f"      {a['summary']}\n")
    p("\n")


def _print_teams(p: Any, latest: list[dict[str, Any]], unallocated: str = UNALLOCATED_TEAM) -> None:
    teams: dict[str, list[float]] = {}
    for a in latest:
        row = teams.setdefault(_team(a, unallocated), [0, 0.0, 0.0])
        row[0] += 1
        row[1] += a["waste_usd"]
        if a["state"] == "open":
            row[2] += a["projected_daily_usd"]
    p("Waste by team\n")
    if not teams:
        p("  none\n\n")
        return
    rows = [["TEAM", "ANOMALIES", "WASTED", "$/DAY NOW"]]
    for team, (n, waste, daily) in sorted(teams.items(), key=lambda kv: (-kv[1][1], kv[0])):
        rows.append([team, str(int(n)), _usd(waste), _usd(daily)])
    total = [sum(r[i] for r in teams.values()) for i in range(3)]
    rows.append(["total", str(int(total[0])), _usd(total[1]), _usd(total[2])])
    for line in _table(rows, right=(1, 2, 3)):
        p(line + "\n")
    p("\n")


def _print_insights(p: Any, insights: list[dict[str, Any]], window_start: float,
                    unallocated: str = UNALLOCATED_TEAM) -> None:
    """Structural waste: what the insight stream says (reported here and in the report, never paged)."""
    shown = [a for a in insights if a["resolved_at"] is None or a["resolved_at"] >= window_start]
    p(f"Structural waste: insights, reported not paged ({len(shown)})\n")
    if not shown:
        p("  none\n\n")
        return
    shown.sort(key=lambda a: (a["kind"], -a["projected_daily_usd"], a["id"]))
    rows = [["KIND", "RESOURCE", "TEAM", "$/DAY", "STATE"]]
    for a in shown:
        rows.append([a["kind"], str(a["resource"])[:34], _team(a, unallocated), _usd(a["projected_daily_usd"]),
                     a["state"]])
    table = _table(rows, right=(3,))
    p(table[0] + "\n")
    for line, a in zip(table[1:], shown, strict=True):
        p(line + "\n")
        p(f"      {a['summary'][:220]}\n")
    p("\n")


def _print_report(p: Any, rep: dict[str, Any]) -> None:
    """The report's headline, top savings and budgets (``spendwatch report`` has every section)."""
    h = rep["headline"]
    p(f"\nReport for the simulated day (from the history store; spendwatch report)\n"
      f"  spend {_usd(h['spend_usd'])}, anomalies lost {_usd(h['waste_usd'])}, "
      f"savings available {_usd(h['savings_usd_per_month'])}/month, {h['budgets_over']} budget(s) forecast over\n")
    rows = [["$/MONTH", "KIND", "TEAM", "ACTION"]]
    for r in rep["savings"][:8]:
        rows.append([_usd(r["usd_per_month"]), r["kind"], str(r["team"])[:16], str(r["action"])[:90]])
    p("  Top savings opportunities\n")
    for line in _table(rows, right=(0,)):
        p("  " + line + "\n")
    rows = [["SCOPE", "BUDGET", "FORECAST (80%)", "CROSSES", "STATUS"]]
    for b in rep["budgets"]["forecasts"]:
        rows.append([b["scope"], _usd(b["budget_usd"]),
                     f"{_usd(b['forecast_usd'])} ({_usd(b['forecast_low_usd'])}-{_usd(b['forecast_high_usd'])})"
                     if "forecast_usd" in b else "-", str(b.get("crossing_day") or "-"), b["status"]])
    if len(rows) > 1:
        p("  Budgets against month-end forecasts\n")
        for line in _table(rows, right=(1,)):
            p("  " + line + "\n")
    units = [u for u in rep["unit_costs"] if u["usd_per_1k"]]
    if units:
        p("  Unit costs\n")
        rows = [["MODEL", "$ PER 1K", "TREND", "PREDICTIONS"]]
        for u in units[:6]:
            rows.append([u["model_id"], f"${u['usd_per_1k']:.4f}",
                         f"{u['trend_pct']:+.0f}%" if u["trend_pct"] is not None else "-", f"{u['predictions']:,.0f}"])
        for line in _table(rows, right=(1, 2, 3)):
            p("  " + line + "\n")
    p("\n")


def _print_truth(p: Any, matched: list[tuple[dict[str, Any], Any]], waste: Any = None) -> None:
    caught = sum(1 for _t, a in matched if a is not None)
    if waste is not None:
        caught_w = len(waste.caught)
        false = f"; {plural(len(waste.false), 'insight')} match no injected problem" if waste.false else ""
        p(f"Injected structural waste reported: {caught_w} of {caught_w + len(waste.missed)}{false}\n")
        rows = [["", "INJECTED", "RESOURCE"]]
        for t in waste.caught:
            rows.append(["ok", t["kind"], str(t["resource"] or t["workload"])[:40]])
        for t in waste.missed:
            rows.append(["--", t["kind"], str(t["resource"] or t["workload"])[:40]])
        for line in _table(rows):
            p(line + "\n")
        p("\n")
    p(f"Injected problems caught: {caught} of {len(matched)}\n")
    rows = [["", "INJECTED", "RESOURCE", "STARTED", "DETECTED AFTER", "AS"]]
    for t, a in matched:
        rows.append(["ok" if a else "--", t["kind"], str(t["resource"] or t["workload"])[:24], _utc(t["start"]),
                     f"{(a['detected_at'] - t['start']) / 60:.0f} min" if a else "not detected",
                     a["kind"] if a else f"expected {'/'.join(t['expected_kinds'])}"])
    for line in _table(rows, right=(4,)):
        p(line + "\n")
    kinds = {a["kind"] for _t, a in matched if a}
    missing = sorted({k for t, a in matched if a is None for k in t["expected_kinds"]} - kinds)
    if missing:
        p(f"  (not caught: {', '.join(missing)}; detectors running: "
          f"{', '.join(sorted(cls.name for cls in default_detector_classes()))})\n")
    p("\n")
