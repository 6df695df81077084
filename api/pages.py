"""The dashboard: HTML pages drawn on the server, plots as inline SVG (:mod:`api.plots`).

Pages: ``/`` (spend and waste over time stacked by team, open anomalies ranked by $/day),
``/anomalies`` (the list with filters), ``/anomalies/{id}`` (the plot that explains it, evidence,
events, actions), ``/waste`` (waste by team and by kind for any range), ``/silences`` (list,
create, expire). Filters are plain GET forms (a few lines of ``/static/app.js`` submit them on
change); writes from the page (silences, feedback) call the JSON API with the token the user
types in, kept in the browser's localStorage. Nothing is fetched from the internet.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.plots import line_plot, stacked_bars
from api.queries import auto_step, time_range
from api.series import spend_series, waste_series
from spendwatch.errors import ConfigError
from spendwatch.format import plural
from spendwatch.teams import UNALLOCATED_TEAM, team_of

if TYPE_CHECKING:
    from api.app import ApiContext

KINDS = ("idle_gpu", "gpu_memory_hoarding", "cost_spike", "retrain_loop", "retrain_needed", "retrain_without_drift")
RANGES = ("6h", "24h", "3d", "7d", "14d", "30d")
_PLOT_TITLES = {"spend_band": "Spend per period against its expected value and band",
                "gpu_activity": "GPU activity and memory over time (per update of the anomaly)",
                "drift_scores": "Drift score per feature over time", "runs": "Runs of the loop and their cost",
                "waste": "Money lost so far"}


def _static(name: str) -> str:
    return resources.files("api").joinpath("static", name).read_text(encoding="utf-8")


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _money(x: float | None) -> str:
    x = x or 0.0
    return f"${x:,.2f}" if x < 1000 else f"${x:,.0f}"


def _hours(a: Mapping[str, Any], now: float) -> str:
    end = a["resolved_at"] if a["resolved_at"] is not None else max(a["ts"], now)
    h = max(0.0, end - a["started_at"]) / 3600
    return f"{h * 60:.0f} min" if h < 1 else f"{h:.1f} h"


def layout(title: str, body: str, active: str = "") -> HTMLResponse:
    nav = "".join(f'<a href="{href}" class="{"on" if key == active else ""}">{label}</a>' for key, href, label in (
        ("overview", "/", "Overview"), ("anomalies", "/anomalies", "Anomalies"), ("waste", "/waste", "Waste"),
        ("silences", "/silences", "Silences"), ("api", "/docs", "API")))
    return HTMLResponse(f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · spendwatch</title><link rel="stylesheet" href="/static/app.css"></head>
<body><header><span class="brand">spendwatch</span><nav>{nav}</nav>
<span class="token"><input id="token" type="password" placeholder="API token (for writes)" autocomplete="off">
</span></header><main>{body}</main><script src="/static/app.js"></script></body></html>""")


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>' if rows else \
        '<p class="none">none</p>'


def _owner(a: Mapping[str, Any], unallocated: str = UNALLOCATED_TEAM) -> str:
    wl = a.get("workload") or {}
    return str(wl.get("owner") or (unallocated if a.get("workload") is None else "-"))


def _team(a: Mapping[str, Any], unallocated: str = UNALLOCATED_TEAM) -> str:
    return team_of(a, unallocated) or "-"  # the unallocated team's name: teams.unallocated (spendwatch.teams)


def _badges(status: Mapping[str, Any]) -> str:
    out = []
    if status.get("acknowledged_by"):
        out.append(f'<span class="badge ack">ack {escape(str(status["acknowledged_by"]))}</span>')
    if status.get("snoozed_until") and float(status["snoozed_until"]) > time.time():
        out.append(f'<span class="badge snooze">snoozed to {_when(status["snoozed_until"])}</span>')
    if status.get("not_a_problem_by"):
        out.append(f'<span class="badge nap">not a problem ({escape(str(status["not_a_problem_by"]))})</span>')
    if status.get("silenced_by"):
        out.append('<span class="badge silenced">silenced</span>')
    return " ".join(out)


def _anomaly_rows(items: Sequence[Mapping[str, Any]], status: Mapping[str, Mapping[str, Any]],
                  now: float, unallocated: str = UNALLOCATED_TEAM) -> list[list[str]]:
    rows = []
    for a in items:
        wl = a.get("workload") or {}
        rows.append([
            f'<span class="sev {escape(a["severity"])}">{escape(a["severity"])}</span>',
            f'<a href="/anomalies/{escape(a["id"])}">{escape(a["kind"])}</a>',
            escape(str(wl.get("id") or a["resource"]))[:60],
            escape(_owner(a, unallocated)), escape(_team(a, unallocated)),
            f'<span class="num">{_money(a["projected_daily_usd"])}</span>',
            f'<span class="num">{_money(a["waste_usd"])}</span>', escape(_when(a["started_at"])),
            escape(_hours(a, now)), escape(a["state"]) + " " + _badges(status.get(a["id"], {})),
        ])
    return rows


_ANOMALY_HEADERS = ("severity", "kind", "workload / resource", "owner", "team", "$/day", "lost", "since (UTC)",
                    "for", "state")


def _range_select(current: str) -> str:
    opts = "".join(f'<option value="{r}"{" selected" if r == current else ""}>last {r}</option>' for r in RANGES)
    return f'<label>range <select name="since" class="autosubmit">{opts}</select></label>'


def add_pages(app: FastAPI, ctx: ApiContext) -> None:
    store, now = ctx.store, ctx.now
    unallocated = ctx.options.unallocated_team

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: Annotated[str, Path(pattern=r"^app\.(js|css)$")]) -> Response:
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return Response(_static(name), media_type=f"{media}; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    def _series_range(since: str) -> tuple[float, float, float]:
        f, t = time_range(since, None, None, now())
        t = now() if t is None else t
        f = t - 86400 if f is None else f
        return f, t, auto_step(t - f)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def overview(since: Annotated[str, Query(max_length=16)] = "3d") -> HTMLResponse:
        if since not in RANGES:
            since = "3d"
        f, t, step = _series_range(since)
        spend = spend_series(store.spend.rows(f, t), f, t, step)
        waste = waste_series(store.history(ctx.query(from_=str(f), to=str(t))), "team", f, t, step)
        open_ = store.query(ctx.query(state=["open"], sort="daily", limit=25))
        status = ctx.status_of(open_)
        s = store.summary(ctx.query(from_=str(f), to=str(t)))["total"]
        spend_total = sum(x["total"] for x in spend["series"])
        order = [x["name"] for x in spend["series"]]
        spend_svg = stacked_bars("spend_by_team", f"Spend by team ({_money(spend_total)})", spend, order=order) \
            if spend["series"] else stacked_bars("spend_by_team", "Spend by team", spend).replace(
                "no data in this range", "no spend recorded in this range (spendwatch demo and replay --history "
                                         "record it from billing deltas)")
        body = f"""
<h1>Overview</h1>
<form class="filters" method="get">{_range_select(since)}</form>
<section class="cards">
 <div class="card"><div class="big">{_money(s["projected_daily_usd"])}</div>per day still burning</div>
 <div class="card"><div class="big">{_money(s["waste_usd"])}</div>lost in range</div>
 <div class="card"><div class="big">{s["open"]}</div>open anomalies</div>
 <div class="card"><div class="big">{_money(spend_total)}</div>spend recorded in range</div>
</section>
<section class="plot-box">{spend_svg}</section>
<section class="plot-box">{stacked_bars("waste_by_team", "Waste by team", waste, order=order)}</section>
<h2>Open anomalies by $/day</h2>
{_table(_ANOMALY_HEADERS, _anomaly_rows(open_, status, now(), unallocated), "anomalies")}
"""
        return layout("Overview", body, "overview")

    @app.get("/anomalies", response_class=HTMLResponse, include_in_schema=False)
    def anomalies_page(request: Request) -> HTMLResponse:
        p = request.query_params
        since = p.get("since") or "30d"
        chosen = {k: p.get(k) or "" for k in ("kind", "team", "owner", "workload", "state", "severity", "min_waste")}
        try:
            min_waste = float(chosen["min_waste"]) if chosen["min_waste"] else None
            q = ctx.query(since=since, kind=[chosen["kind"]] if chosen["kind"] else None,
                              team=[chosen["team"]] if chosen["team"] else None,
                              owner=[chosen["owner"]] if chosen["owner"] else None,
                              workload=[chosen["workload"]] if chosen["workload"] else None,
                              state=[chosen["state"]] if chosen["state"] else None,
                              severity=chosen["severity"] or None, min_waste=min_waste, sort=p.get("sort") or "daily",
                              limit=500)
            items, error = store.query(q), ""
        except (ConfigError, ValueError) as exc:
            items, error = [], f'<p class="error">{escape(str(exc))}</p>'
        status = ctx.status_of(items)

        def sel(name: str, options: Sequence[str]) -> str:
            opts = "".join(f'<option value="{escape(o)}"{" selected" if o == chosen[name] else ""}>{escape(o or "any")}'
                           f'</option>' for o in ("", *options))
            return f'<label>{name} <select name="{name}" class="autosubmit">{opts}</select></label>'

        def txt(name: str, hint: str) -> str:
            return (f'<label>{name} <input name="{name}" value="{escape(chosen[name])}" placeholder="{hint}" '
                    f'class="autosubmit" size="14"></label>')

        body = f"""
<h1>Anomalies</h1>
<form class="filters" method="get" id="anomaly-filters">
 <label>range <select name="since" class="autosubmit">{"".join(
     f'<option value="{r}"{" selected" if r == since else ""}>last {r}</option>' for r in RANGES)}</select></label>
 {sel("kind", KINDS)} {sel("state", ("open", "resolved"))} {sel("severity", ("info", "warning", "critical"))}
 {txt("team", "vision")} {txt("owner", "ana@corp")} {txt("workload", "ml/*")} {txt("min_waste", "$")}
 <noscript><button>filter</button></noscript>
</form>
{error}<p class="count"><span id="result-count">{len(items)}</span> {"anomaly" if len(items) == 1 else "anomalies"},
{_money(sum(a["waste_usd"] for a in items))} lost</p>
{_table(_ANOMALY_HEADERS, _anomaly_rows(items, status, now(), unallocated), "anomalies")}
"""
        return layout("Anomalies", body, "anomalies")

    @app.get("/anomalies/{anomaly_id}", response_class=HTMLResponse, include_in_schema=False)
    def anomaly_page(anomaly_id: Annotated[str, Path(max_length=512)]) -> HTMLResponse:
        from api.app import anomaly_detail

        try:
            d = anomaly_detail(ctx, anomaly_id)
        except HTTPException:
            return layout("Not found", f'<h1>No anomaly {escape(anomaly_id)}</h1>')
        plot = d["plot"]
        svg = line_plot(plot["plot"], _PLOT_TITLES.get(plot["plot"], "Plot"), plot)
        wl = d.get("workload") or {}
        facts = [("kind", d["kind"]), ("state", d["state"]), ("severity", d["severity"]), ("resource", d["resource"]),
                 ("workload", wl.get("id") or "-"), ("owner", _owner(d, unallocated)), ("team", _team(d, unallocated)),
                 ("started", _when(d["started_at"]) + " UTC"), ("detected", _when(d["detected_at"]) + " UTC"),
                 ("resolved", _when(d["resolved_at"])), ("lost so far", _money(d["waste_usd"])),
                 ("per day", _money(d["projected_daily_usd"])),
                 ("slack", f'{d["slack_channel"]} ts={d["slack_ts"]}' if d["slack_ts"] else "-")]
        fact_html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts)
        ev_rows = [[escape(k), f"<code>{escape(_short(v))}</code>"] for k, v in d["evidence"].items()]
        hist = [[escape(_when(e.get("ts"))), escape(str(e.get("state"))), escape(str(e.get("severity"))),
                 _money(e.get("waste_usd")), _money(e.get("projected_daily_usd"))] for e in d["events"]]
        acts = [[escape(_when(x["ts"])), escape(x["verdict"]), escape(x["by"]), escape(x["reason"] or ""),
                 escape(_when(x["until"]) if x["until"] else ""), escape(x["source"])] for x in d["actions"]]
        runs = ""
        if plot["plot"] == "runs":
            runs = "<h2>Runs</h2>" + _table(("started", "run", "status", "cost", "metric"), [
                [escape(_when(r["started_at"])), escape(str(r["run_id"])), escape(str(r.get("status") or "-")),
                 _money(r.get("cost_usd")), escape(str(r.get("metric")))] for r in plot.get("runs", [])])
        body = f"""
<h1><span class="sev {escape(d["severity"])}">{escape(d["severity"])}</span> {escape(d["kind"])}
 <small>{escape(d["id"])}</small></h1>
<p class="summary">{escape(d["summary"])}</p>
<p>{_badges(d["status"])}</p>
<section class="plot-box">{svg}</section>
<div class="cols"><dl class="facts">{fact_html}</dl>
<div class="actions" data-anomaly="{escape(d["id"])}"><h2>Feedback</h2>
 <label>by <input id="fb-by" placeholder="your name or e-mail" size="22"></label>
 <label>reason <input id="fb-reason" placeholder="optional" size="22"></label><br>
 <button data-verdict="acknowledged">Acknowledge</button>
 <button data-verdict="snoozed" data-duration="4h">Snooze 4 h</button>
 <button data-verdict="snoozed" data-duration="24h">Snooze 24 h</button>
 <button data-verdict="not_a_problem">Not a problem</button>
 <p class="msg" id="fb-msg"></p></div></div>
{runs}
<h2>Evidence</h2>{_table(("field", "value"), ev_rows, "evidence")}
<h2>History ({plural(len(hist), "event")})</h2>{_table(("at (UTC)", "state", "severity", "lost", "per day"), hist)}
<h2>Actions</h2>{_table(("at (UTC)", "verdict", "by", "reason", "until", "from"), acts)}
"""
        return layout(d["kind"], body, "anomalies")

    @app.get("/waste", response_class=HTMLResponse, include_in_schema=False)
    def waste_page(request: Request) -> HTMLResponse:
        p = request.query_params
        from_, to = p.get("from") or "", p.get("to") or ""
        since = p.get("since") or ("" if from_ or to else "7d")
        try:
            f, t = time_range(since or None, from_ or None, to or None, now())
            t = now() if t is None else t
            f = t - 7 * 86400 if f is None else f
            if t - f < 60:
                raise ConfigError("the range must be at least a minute long")
            q = ctx.query(from_=str(f), to=str(t))
            s, hist, error = store.summary(q), store.history(q), ""
        except ConfigError as exc:
            f, t, s, hist, error = now() - 86400, now(), None, [], f'<p class="error">{escape(str(exc))}</p>'
        step = auto_step(t - f)
        by_team = stacked_bars("waste_by_team", "Waste by team", waste_series(hist, "team", f, t, step))
        by_kind = stacked_bars("waste_by_kind", "Waste by kind", waste_series(hist, "kind", f, t, step))
        tables = ""
        if s is not None:
            for dim in ("team", "kind"):
                rows = [[escape(str(r[dim])), str(r["count"]), str(r["open"]), _money(r["waste_usd"]),
                         _money(r["projected_daily_usd"])] for r in s[f"by_{dim}"]]
                table = _table((dim, "anomalies", "open", "lost", "$/day open"), rows)
                tables += f'<div><h2>By {dim}</h2>{table}</div>'
        body = f"""
<h1>Waste by team and kind</h1>
<form class="filters" method="get">
 <label>range <select name="since" class="autosubmit"><option value="">from/to</option>{"".join(
     f'<option value="{r}"{" selected" if r == since else ""}>last {r}</option>' for r in RANGES)}</select></label>
 <label>from <input name="from" value="{escape(from_)}" placeholder="2026-03-24 or epoch" size="18"></label>
 <label>to <input name="to" value="{escape(to)}" placeholder="2026-03-25T12:00Z" size="18"></label>
 <button>show</button></form>
{error}<p>{escape(_when(f))} to {escape(_when(t))} UTC</p>
<section class="plot-box">{by_team}</section><section class="plot-box">{by_kind}</section>
<div class="cols">{tables}</div>
"""
        return layout("Waste", body, "waste")

    @app.get("/silences", response_class=HTMLResponse, include_in_schema=False)
    def silences_page() -> HTMLResponse:
        n = now()
        items = store.silences.list(("active", "pending", "expired"), now=n)
        rows = [[f'<span class="state {s.state(n)}">{s.state(n)}</span>',
                 "<br>".join(f"<code>{escape(m.text())}</code>" for m in s.matchers),
                 escape(_when(s.starts_at)), escape(_when(s.ends_at)), escape(s.created_by), escape(s.comment),
                 f'<button class="expire" data-silence="{escape(s.id)}">expire</button>' if s.state(n) != "expired"
                 else "", f'<code class="sid">{escape(s.id[:8])}</code>'] for s in items]
        body = f"""
<h1>Silences</h1>
<p>Anomalies matching every matcher of an active silence are still recorded, just not posted.
Matchers: <code>kind=idle_gpu</code>, <code>workload=ml/*</code>, <code>team!=ml</code>,
<code>owner=~.*@corp\\.example</code> on kind, team, owner, workload, resource.</p>
<form id="silence-form" class="silence-form">
 <label>matchers (one a line)<br><textarea name="matchers" rows="3" cols="40" required
   placeholder="kind=idle_gpu&#10;team=vision"></textarea></label>
 <label>for <select name="duration">{"".join(f'<option value="{d}">{d}</option>'
                                              for d in ("1h", "2h", "4h", "12h", "1d", "3d", "7d"))}</select></label>
 <label>by <input name="created_by" required placeholder="you@corp.example"></label>
 <label>comment <input name="comment" size="30"></label>
 <button type="submit">create silence</button> <span class="msg" id="silence-msg"></span>
</form>
{_table(("state", "matchers", "starts (UTC)", "ends (UTC)", "by", "comment", "", "id"), rows, "silences")}
"""
        return layout("Silences", body, "silences")


def _short(v: Any, n: int = 400) -> str:
    import orjson

    text = v if isinstance(v, str) else orjson.dumps(v).decode()
    return text if len(text) <= n else text[: n - 1] + "…"


__all__ = ["add_pages", "layout", "urlencode"]
