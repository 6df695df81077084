"""Time series for the plots, computed from what the history store holds (pure functions).

- :func:`waste_series`: money lost per time bucket, by team, kind or owner. An anomaly event says
  how much was lost *so far*; the growth since its previous event (the first: since the
  anomaly started) is spread evenly over the time between the two, so sparse updates (events
  are only published on material change) still give a smooth, truthful total: the buckets of
  one anomaly add up to its ``waste_usd`` (a figure revised down keeps its earlier maximum, as
  the summary's ``by_day`` does).
- :func:`spend_series`: spend per bucket by team from the hourly spend rows.
- :func:`anomaly_plot_data`: what the per-anomaly plot shows, from the anomaly's own events:
  each event's evidence is one point of a per-update series (see ``docs/dashboard.md``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

NO_GROUP = "(no team)"


def buckets(from_ts: float, to_ts: float, step_s: float, max_buckets: int = 2000) -> list[float]:
    """Bucket starts covering ``[from_ts, to_ts)``, aligned to ``step_s``; the step grows to stay within
    ``max_buckets``."""
    step_s = max(step_s, (to_ts - from_ts) / max_buckets, 1.0)
    start = math.floor(from_ts / step_s) * step_s
    out: list[float] = []
    t = start
    while t < to_ts and len(out) < max_buckets:
        out.append(t)
        t += step_s
    return out or [start]


def _spread(into: dict[int, float], start: float, end: float, amount: float, t0: float, step: float, n: int) -> None:
    """Add ``amount`` spread evenly over ``[start, end]`` into the buckets it overlaps."""
    if amount <= 0:
        return
    if end <= start:
        i = int((end - t0) // step)
        if 0 <= i < n:
            into[i] = into.get(i, 0.0) + amount
        return
    rate = amount / (end - start)
    first, last = int((start - t0) // step), int((end - t0) // step)
    for i in range(max(first, 0), min(last, n - 1) + 1):
        lo, hi = max(start, t0 + i * step), min(end, t0 + (i + 1) * step)
        if hi > lo:
            into[i] = into.get(i, 0.0) + rate * (hi - lo)


def waste_series(history: Iterable[Mapping[str, Any]], group_by: str, from_ts: float, to_ts: float,
                 step_s: float) -> dict[str, Any]:
    """``{"t": [bucket starts], "step_s", "series": [{"name", "values", "total"}]}`` of waste by ``group_by``.

    ``history``: rows with ``anomaly_id, ts, waste_usd, started_at`` and the group column, ordered by
    anomaly and time (:meth:`spendwatch.history.HistoryStore.history`).
    """
    ts_list = buckets(from_ts, to_ts, step_s)
    step = ts_list[1] - ts_list[0] if len(ts_list) > 1 else max(step_s, to_ts - from_ts, 1.0)
    t0, n = ts_list[0], len(ts_list)
    by_group: dict[str, dict[int, float]] = {}
    last_id, last_ts, last_waste = None, 0.0, 0.0
    for h in history:
        if h["anomaly_id"] != last_id:
            last_id, last_ts, last_waste = h["anomaly_id"], float(h["started_at"]), 0.0
        grown = float(h["waste_usd"]) - last_waste
        group = str(h.get(group_by) or NO_GROUP)
        _spread(by_group.setdefault(group, {}), last_ts, float(h["ts"]), grown, t0, step, n)
        last_ts, last_waste = max(last_ts, float(h["ts"])), max(last_waste, float(h["waste_usd"]))
    return _as_series(ts_list, step, by_group)


def spend_series(rows: Iterable[Mapping[str, Any]], from_ts: float, to_ts: float, step_s: float,
                 group_by: str = "team") -> dict[str, Any]:
    """Spend per bucket by team (or workload) from hourly rows (each hour's spend spread over it)."""
    ts_list = buckets(from_ts, to_ts, step_s)
    step = ts_list[1] - ts_list[0] if len(ts_list) > 1 else max(step_s, to_ts - from_ts, 1.0)
    t0, n = ts_list[0], len(ts_list)
    by_group: dict[str, dict[int, float]] = {}
    column = "workload_id" if group_by == "workload" else "team"
    for r in rows:
        group = str(r.get(column) or NO_GROUP)
        hour = float(r["hour"])
        _spread(by_group.setdefault(group, {}), hour, hour + 3600.0, float(r["cost_usd"]), t0, step, n)
    return _as_series(ts_list, step, by_group)


def _as_series(ts_list: list[float], step: float, by_group: Mapping[str, Mapping[int, float]]) -> dict[str, Any]:
    series: list[dict[str, Any]] = []
    for name, vals in by_group.items():
        values = [round(vals.get(i, 0.0), 4) for i in range(len(ts_list))]
        total = round(sum(values), 2)
        if total > 0:
            series.append({"name": name, "values": values, "total": total})
    series.sort(key=lambda s: (-s["total"], s["name"]))
    return {"t": ts_list, "step_s": step, "series": series}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def anomaly_plot_data(anomaly: Mapping[str, Any], events: Sequence[Mapping[str, Any]],
                      hourly_spend: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The data of an anomaly's explaining plot, by kind, from its recorded events.

    ``{"plot": "spend_band" | "gpu_activity" | "drift_scores" | "runs" | "waste", "series": [...],
    "spans": [...], "marks": [...]}``; every series is ``{"name", "points": [[t, y], ...]}``.
    """
    kind = anomaly["kind"]
    events = list(events) or [anomaly]
    end = anomaly.get("resolved_at") or anomaly.get("ts") or anomaly["started_at"]
    spans = [{"from": anomaly["started_at"], "to": end, "label": "anomalous"}]
    if kind == "cost_spike":
        obs, exp, lo, hi = [], [], [], []
        for e in events:
            ev, t = e.get("evidence") or {}, float(e.get("ts") or 0)
            o, x = _num(ev.get("observed_usd")), _num(ev.get("expected_usd"))
            band = ev.get("band_usd")
            if o is not None:
                obs.append([t, o])
            if x is not None:
                exp.append([t, x])
            if isinstance(band, list) and len(band) == 2 and _num(band[0]) is not None and _num(band[1]) is not None:
                lo.append([t, float(band[0])])
                hi.append([t, float(band[1])])
        ev0 = anomaly.get("evidence") or {}
        series = [{"name": "observed", "points": obs}, {"name": "expected", "points": exp}]
        if hourly_spend and (_num(ev0.get("period_s")) or 3600) == 3600:
            lo_t = float(anomaly["started_at"]) - 12 * 3600
            hours = sorted((float(r["hour"]), float(r["cost_usd"])) for r in hourly_spend if float(r["hour"]) >= lo_t)
            if hours:  # the workload's recorded hourly spend, for context around the updates
                series.append({"name": "hourly spend (recorded)", "points": [[h + 1800, c] for h, c in hours]})
        return {"plot": "spend_band", "unit": f"$ per {(_num(ev0.get('period_s')) or 3600) / 3600:g} h",
                "series": series, "band": {"low": lo, "high": hi}, "spans": spans, "marks": []}
    if kind in ("idle_gpu", "gpu_memory_hoarding"):
        act, mem, util = [], [], []
        for e in events:
            ev, t = e.get("evidence") or {}, float(e.get("ts") or 0)
            a, m, u = _num(ev.get("mean_activity_pct")), _num(ev.get("mem_used_pct")), _num(ev.get("mean_util_gpu_pct"))
            if a is not None:
                act.append([t, a])
            if m is not None:
                mem.append([t, m])
            if u is not None and ev.get("activity_source") == "sm_active_pct":
                util.append([t, u])  # NVML util beside SM activity: shows a busy-wait
        ev0 = anomaly.get("evidence") or {}
        dwell = _num(ev0.get("dwell_s")) or 0.0
        marks = [{"t": float(anomaly["started_at"]) + dwell, "label": f"dwell {dwell / 60:.0f} min reached"}]
        th = _num(ev0.get("threshold_pct"))
        hoard = _num(ev0.get("hoard_threshold_pct"))
        levels = [{"y": th, "label": "idle below"}] if th is not None else []
        if hoard is not None:
            levels.append({"y": hoard, "label": "hoarding at"})
        series = [{"name": "activity %", "points": act}, {"name": "memory used %", "points": mem}]
        if util and any(p[1] >= 10 for p in util):
            series.append({"name": "NVML util %", "points": util})
        return {"plot": "gpu_activity", "unit": "%", "series": series,
                "spans": [{"from": anomaly["started_at"], "to": float(anomaly["started_at"]) + dwell,
                           "label": "dwell"}, {"from": float(anomaly["started_at"]) + dwell, "to": end,
                                               "label": "anomalous"}],
                "marks": marks, "levels": levels}
    if kind == "retrain_needed":
        per: dict[str, list[list[float]]] = {}
        for e in events:
            ev, t = e.get("evidence") or {}, float(e.get("ts") or 0)
            for feature, f in (ev.get("drifting_features") or {}).items():
                s = _num((f or {}).get("score")) if isinstance(f, dict) else None
                if s is not None:
                    per.setdefault(str(feature), []).append([t, s])
        return {"plot": "drift_scores", "unit": "drift score",
                "series": [{"name": n, "points": p} for n, p in sorted(per.items())], "spans": spans, "marks": []}
    if kind in ("retrain_loop", "retrain_without_drift"):
        runs: dict[str, dict[str, Any]] = {}
        for e in events:
            for r in (e.get("evidence") or {}).get("runs") or []:
                if isinstance(r, dict) and r.get("run_id") is not None and _num(r.get("started_at")) is not None:
                    runs[str(r["run_id"])] = r
        ordered = sorted(runs.values(), key=lambda r: float(r["started_at"]))
        by_status: dict[str, list[list[float]]] = {}
        for r in ordered:
            status = str(r.get("status") or ("succeeded" if kind == "retrain_without_drift" else "run"))
            by_status.setdefault(status, []).append([float(r["started_at"]), _num(r.get("cost_usd")) or 0.0])
        return {"plot": "runs", "unit": "$ per run",
                "series": [{"name": n, "points": p} for n, p in sorted(by_status.items())],
                "runs": [{"run_id": r["run_id"], "started_at": r["started_at"], "ended_at": r.get("ended_at"),
                          "cost_usd": _num(r.get("cost_usd")), "status": r.get("status"),
                          "metric": r.get("metric")} for r in ordered],
                "spans": spans, "marks": []}
    return {"plot": "waste", "unit": "$ lost so far",
            "series": [{"name": "waste", "points": [[float(e.get("ts") or 0), float(e.get("waste_usd") or 0)]
                                                    for e in events]}], "spans": spans, "marks": []}
