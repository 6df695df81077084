"""Filters for history queries, the time-range parser, and the summary arithmetic.

Time-range semantics: an anomaly matches ``[from, to]`` when it was *active* at some moment of the
range: it started at or before ``to`` and was still open or resolved at or after ``from``. So
``--since 7d`` shows what was burning money in the last week, also if it began earlier.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from spendwatch.errors import ConfigError
from spendwatch.teams import UNALLOCATED_TEAM

SORT_KEYS = ("started", "detected", "waste", "daily", "last", "kind", "team", "owner", "severity")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SEVERITY_ORDER = ("info", "warning", "critical")


def parse_duration(text: str) -> float:
    """Seconds in ``90s``, ``30m``, ``12h``, ``7d``, ``2w`` (or a bare number of seconds).

    >>> parse_duration("7d")
    604800.0
    >>> parse_duration("1h30m")
    5400.0
    """
    text = text.strip().lower()
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
    if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smhdw])", "", text).strip():
        raise ConfigError(f"{text!r} is not a duration; use e.g. 90s, 30m, 12h, 7d or 2w")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


def parse_time(text: str) -> float:
    """Epoch seconds from epoch seconds, or an ISO 8601 date or date-time (UTC unless it says).

    >>> parse_time("2026-03-24")
    1774310400.0
    >>> parse_time("1774310400")
    1774310400.0
    """
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r} is not a time; use epoch seconds or ISO 8601 like 2026-03-24T18:00Z") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass(frozen=True)
class AnomalyQuery:
    """What ``spendwatch anomalies`` asks the store. Empty tuples mean "any"."""

    from_ts: float | None = None
    to_ts: float | None = None
    kinds: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()    # exact ids, or globs with * (e.g. "ml/*")
    resources: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    min_severity: str | None = None
    min_waste_usd: float | None = None
    types: tuple[str, ...] = ("anomaly",)  # "anomaly" (incidents), "insight" (structural waste); () = both
    sort: str = "started"
    descending: bool = True
    limit: int | None = None
    offset: int = 0
    unallocated_team: str = UNALLOCATED_TEAM  # the team of anomalies with no workload (teams.unallocated)

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ConfigError(f"sort: {self.sort!r} is not one of {', '.join(SORT_KEYS)}")
        bad = sorted(set(self.types) - {"anomaly", "insight"})
        if bad:
            raise ConfigError(f"types: {', '.join(bad)} is not anomaly or insight")
        if self.min_severity is not None and self.min_severity not in _SEVERITY_ORDER:
            raise ConfigError(f"severity: {self.min_severity!r} is not one of {', '.join(_SEVERITY_ORDER)}")
        if self.limit is not None and (type(self.limit) is not int or self.limit < 1):
            raise ConfigError(f"limit: must be a positive integer (at least 1) or none for all, got {self.limit!r}")


def _match_any(column: Any, values: Sequence[str]) -> Any:
    from spendwatch.history.schema import clean_text

    values = [clean_text(v) for v in values]  # as the store keeps them (NUL refused by PostgreSQL)
    exact = [v for v in values if "*" not in v]
    clauses = [column.in_(exact)] if exact else []
    for pattern in (v for v in values if "*" in v):
        escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").replace("*", "%")
        clauses.append(column.like(escaped, escape="\\"))
    return sa.or_(*clauses)


def team_column(q: AnomalyQuery) -> Any:
    """The team of a row: its workload's, or ``q.unallocated_team`` when it has no workload."""
    from spendwatch.history.schema import anomalies as t

    return sa.case((t.c.workload.is_(None), sa.literal(q.unallocated_team)), else_=t.c.team)


def where_clauses(q: AnomalyQuery) -> list[Any]:
    """SQL conditions on ``sw_anomalies`` for a query."""
    from spendwatch.history.schema import anomalies as t

    out: list[Any] = []
    if q.to_ts is not None:
        out.append(t.c.started_at <= q.to_ts)
    if q.from_ts is not None:
        out.append(sa.or_(t.c.resolved_at.is_(None), t.c.resolved_at >= q.from_ts))
    for column, values in ((t.c.kind, q.kinds), (team_column(q), q.teams), (t.c.owner, q.owners),
                           (t.c.workload_id, q.workloads), (t.c.resource, q.resources), (t.c.state, q.states)):
        if values:
            out.append(_match_any(column, values))
    if q.types:
        out.append(t.c.type.in_(q.types))
    if q.min_severity is not None:
        out.append(t.c.severity.in_(_SEVERITY_ORDER[_SEVERITY_ORDER.index(q.min_severity):]))
    if q.min_waste_usd is not None:
        out.append(t.c.waste_usd >= q.min_waste_usd)
    return out


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def summarize(rows: Iterable[Mapping[str, Any]], history: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Totals by team, owner and kind from latest states; by day from the event history.

    By day, the waste of an anomaly is split over the days it accrued: each event adds the growth
    of ``waste_usd`` since the previous event to the day of its ``ts``; ``count`` is the number of
    anomalies with an event that day.
    """
    rows = list(rows)
    total = {"count": len(rows), "open": sum(r["state"] == "open" for r in rows),
             "waste_usd": round(sum(r["waste_usd"] for r in rows), 2),
             "projected_daily_usd": round(sum(r["projected_daily_usd"] for r in rows if r["state"] == "open"), 2)}
    out: dict[str, Any] = {"total": total}
    for dim in ("team", "owner", "kind"):
        acc: dict[str, dict[str, Any]] = {}
        for r in rows:
            key = r[dim] or "-"
            a = acc.setdefault(key, {dim: key, "count": 0, "open": 0, "waste_usd": 0.0, "projected_daily_usd": 0.0})
            a["count"] += 1
            a["waste_usd"] += r["waste_usd"]
            if r["state"] == "open":
                a["open"] += 1
                a["projected_daily_usd"] += r["projected_daily_usd"]
        out[f"by_{dim}"] = sorted(({**a, "waste_usd": round(a["waste_usd"], 2),
                                    "projected_daily_usd": round(a["projected_daily_usd"], 2)} for a in acc.values()),
                                  key=lambda a: (-a["waste_usd"], str(a[dim])))
    days: dict[str, float] = defaultdict(float)
    active: dict[str, set[str]] = defaultdict(set)
    last: dict[str, float] = {}
    for h in history:
        aid = h["anomaly_id"]
        grown = max(0.0, h["waste_usd"] - last.get(aid, 0.0))
        last[aid] = max(last.get(aid, 0.0), h["waste_usd"])
        day = _day(h["ts"])
        days[day] += grown
        active[day].add(aid)
    out["by_day"] = [{"day": d, "count": len(active[d]), "waste_usd": round(days[d], 2)} for d in sorted(days)]
    return out
