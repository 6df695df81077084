"""Plots drawn on the server as SVG (no JavaScript library, nothing fetched at run time).

Each plot is one ``<svg class="plot" data-plot=KIND>``; each series is one
``<g class="series" data-series=NAME>`` so a reader (or a browser test) can count them; the
legend names them in the same order. Times on the x axis are UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from typing import Any

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#2f4b7c", "#a05195")
W, H = 860, 300
ML, MR, MT, MB = 64, 16, 28, 64   # margins: left (y labels), right, top (title), bottom (x labels + legend)


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def color_indexes(names: Sequence[str], order: Sequence[str] = ()) -> list[int]:
    """Colour index per name: a name's place in ``order`` (so one team has one colour on every plot
    of a page), names not in it after."""
    known = {n: i for i, n in enumerate(order)}
    out, extra = [], len(order)
    for n in names:
        if n in known:
            out.append(known[n])
        else:
            out.append(extra)
            extra += 1
    return out


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * exp:
            return m * exp
    return 10 * exp


def _time_label(t: float, span: float) -> str:
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%m-%d") if span > 6 * 86400 else d.strftime("%m-%d %H:%M") if span > 86400 else d.strftime(
        "%H:%M")


def _money(v: float) -> str:
    return f"${v:,.0f}" if abs(v) >= 100 else f"${v:,.2f}" if abs(v) >= 1 else f"${v:.3g}"


def _frame(kind: str, title: str, x0: float, x1: float, ymax: float, unit: str, legend: Sequence[str],
           y_money: bool, colors: Sequence[int] | None = None) -> list[str]:
    span = max(x1 - x0, 1.0)
    out = [f'<svg class="plot" data-plot="{escape(kind)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" '
           f'role="img" aria-label="{escape(title)}">',
           f'<text class="title" x="{ML}" y="18" font-size="14" font-weight="600">{escape(title)}</text>']
    pw, ph = W - ML - MR, H - MT - MB
    for i in range(5):
        yv = ymax * i / 4
        y = MT + ph - ph * i / 4
        label = _money(yv) if y_money else f"{yv:.3g}"
        out.append(f'<line x1="{ML}" x2="{W - MR}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{ML - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" fill="#555">'
                   f'{escape(label)}</text>')
    for i in range(6):
        tv = x0 + span * i / 5
        x = ML + pw * i / 5
        out.append(f'<text x="{x:.1f}" y="{MT + ph + 16}" font-size="11" text-anchor="middle" fill="#555">'
                   f'{escape(_time_label(tv, span))}</text>')
    out.append(f'<text x="{W - MR}" y="18" font-size="11" text-anchor="end" fill="#555">{escape(unit)} · UTC</text>')
    x = ML
    for i, name in enumerate(legend[:12]):
        c = color(colors[i] if colors else i)
        out.append(f'<g class="legend-item"><rect x="{x}" y="{H - 22}" width="10" height="10" fill="{c}"/>'
                   f'<text x="{x + 14}" y="{H - 13}" font-size="11">{escape(name[:28])}</text></g>')
        x += 24 + 7 * min(len(name), 28)
        if x > W - 120:
            break
    return out


def empty_svg(kind: str, title: str, message: str) -> str:
    return (f'<svg class="plot empty" data-plot="{escape(kind)}" xmlns="http://www.w3.org/2000/svg" '
            f'viewBox="0 0 {W} 120"><text x="{ML}" y="18" font-size="14" font-weight="600">{escape(title)}</text>'
            f'<text x="{ML}" y="64" font-size="13" fill="#777">{escape(message)}</text></svg>')


def stacked_bars(kind: str, title: str, data: Mapping[str, Any], unit: str = "$", y_money: bool = True,
                 order: Sequence[str] = ()) -> str:
    """Stacked bars, one stack per bucket of ``data["t"]``, one colour per series (see :func:`color_indexes`)."""
    t, series = list(data["t"]), list(data["series"])
    if not series or not t:
        return empty_svg(kind, title, "no data in this range")
    step = float(data.get("step_s") or (t[1] - t[0] if len(t) > 1 else 3600.0))
    x0, x1 = t[0], t[-1] + step
    totals = [sum(s["values"][i] for s in series) for i in range(len(t))]
    ymax = _nice_max(max(totals) if totals else 1.0)
    colors = color_indexes([s["name"] for s in series], order)
    out = _frame(kind, title, x0, x1, ymax, unit, [s["name"] for s in series], y_money, colors)
    pw, ph = W - ML - MR, H - MT - MB
    bw = max(pw / len(t) - 1.0, 0.8)
    base = [0.0] * len(t)
    for si, s in enumerate(series):
        out.append(f'<g class="series" data-series="{escape(s["name"])}" fill="{color(colors[si])}">')
        for i, v in enumerate(s["values"]):
            if v <= 0:
                continue
            x = ML + pw * (t[i] - x0) / (x1 - x0)
            y = MT + ph - ph * (base[i] + v) / ymax
            h = ph * v / ymax
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw:.1f}" height="{max(h, 0.5):.1f}">'
                       f'<title>{escape(s["name"])} {escape(_time_label(t[i], x1 - x0))}: {_money(v)}</title></rect>')
            base[i] += v
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def line_plot(kind: str, title: str, data: Mapping[str, Any]) -> str:
    """Lines with points, an optional band, shaded spans, vertical marks and horizontal levels."""
    series = [s for s in data.get("series", []) if s.get("points")]
    band = data.get("band") or {}
    if not series:
        return empty_svg(kind, title, "the recorded events carry no values for this plot")
    xs = [p[0] for s in series for p in s["points"]] + [float(sp["from"]) for sp in data.get("spans", [])] + \
        [float(sp["to"]) for sp in data.get("spans", [])]
    ys = [p[1] for s in series for p in s["points"]] + [p[1] for p in band.get("high", [])] + \
        [lv["y"] for lv in data.get("levels", []) if lv.get("y") is not None]
    x0, x1 = min(xs), max(xs)
    if x1 - x0 < 60:
        x0, x1 = x0 - 1800, x1 + 1800
    pad = (x1 - x0) * 0.03
    x0, x1 = x0 - pad, x1 + pad
    ymax = _nice_max(max(ys) * 1.05 if ys else 1.0)
    y_money = str(data.get("unit", "")).startswith("$")
    out = _frame(kind, title, x0, x1, ymax, str(data.get("unit", "")), [s["name"] for s in series], y_money)
    pw, ph = W - ML - MR, H - MT - MB

    def px(x: float) -> float:
        return ML + pw * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        return MT + ph - ph * y / ymax

    for sp in data.get("spans", []):
        a, b = px(float(sp["from"])), px(float(sp["to"]))
        fill = "#fde2e1" if sp.get("label") == "anomalous" else "#eef1f6"
        out.append(f'<rect class="span" data-span="{escape(str(sp.get("label")))}" x="{a:.1f}" y="{MT}" '
                   f'width="{max(b - a, 1):.1f}" height="{ph}" fill="{fill}"><title>{escape(str(sp.get("label")))}'
                   f'</title></rect>')
    lo, hi = band.get("low") or [], band.get("high") or []
    if lo and hi:
        band_pts = [f"{px(p[0]):.1f},{py(p[1]):.1f}" for p in hi] + [f"{px(p[0]):.1f},{py(p[1]):.1f}" for p in
                                                                  reversed(lo)]
        if len(lo) == 1:  # one update: a band as a short vertical bar
            out.append(f'<line class="band" x1="{px(lo[0][0]):.1f}" x2="{px(lo[0][0]):.1f}" y1="{py(lo[0][1]):.1f}" '
                       f'y2="{py(hi[0][1]):.1f}" stroke="#9fb9d8" stroke-width="10"/>')
        else:
            out.append(f'<polygon class="band" points="{" ".join(band_pts)}" fill="#c9d8ea" opacity="0.7">'
                       f'<title>expected band</title></polygon>')
    for lv in data.get("levels", []):
        y = py(float(lv["y"]))
        out.append(f'<line class="level" x1="{ML}" x2="{W - MR}" y1="{y:.1f}" y2="{y:.1f}" stroke="#999" '
                   f'stroke-dasharray="2 3"/><text x="{W - MR - 4}" y="{y - 3:.1f}" font-size="10" '
                   f'text-anchor="end" fill="#777">{escape(str(lv["label"]))} {lv["y"]:g}</text>')
    for m in data.get("marks", []):
        x = px(float(m["t"]))
        out.append(f'<line class="mark" x1="{x:.1f}" x2="{x:.1f}" y1="{MT}" y2="{MT + ph}" stroke="#333" '
                   f'stroke-dasharray="4 3"/><text x="{x + 4:.1f}" y="{MT + 12}" font-size="10">'
                   f'{escape(str(m["label"]))}</text>')
    bars = data.get("plot") == "runs"
    for si, s in enumerate(series):
        c = color(si)
        out.append(f'<g class="series" data-series="{escape(s["name"])}" stroke="{c}" fill="{c}">')
        pts: list[tuple[float, float]] = sorted((float(p[0]), float(p[1])) for p in s["points"])
        if bars:
            for x, y in pts:
                out.append(f'<rect x="{px(x) - 4:.1f}" y="{py(y):.1f}" width="8" height="{max(py(0) - py(y), 1):.1f}">'
                           f'<title>{escape(s["name"])} {_money(y)}</title></rect>')
        else:
            if len(pts) > 1:
                path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(pts))
                out.append(f'<path d="{path}" fill="none" stroke-width="2"/>')
            for x, y in pts:
                out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5"><title>{escape(s["name"])}: '
                           f'{y:.4g}</title></circle>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
