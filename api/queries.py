"""Query parameters → history queries, and times in and out (epoch seconds and ISO 8601).

Times in: epoch seconds (``1774310400``) or ISO 8601 (``2026-03-24``, ``2026-03-24T18:00Z``,
``2026-03-24T20:00+02:00``); a time without a zone is UTC. Times out: the contract's epoch
seconds, with an ``*_iso`` twin (``2026-03-24T18:00:00Z``) next to each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from spendwatch.errors import ConfigError
from spendwatch.history import AnomalyQuery, parse_duration, parse_time
from spendwatch.teams import UNALLOCATED_TEAM

MAX_TS = 253402300799.0  # 9999-12-31T23:59:59Z: beyond it ISO 8601 has no four-digit year
TIME_FIELDS = ("started_at", "detected_at", "resolved_at", "ts")


def iso(ts: float | None) -> str | None:
    """``2026-03-24T18:00:00Z`` for an epoch time (None stays None)."""
    if ts is None:
        return None
    t = min(max(float(ts), 0.0), MAX_TS)
    d = datetime.fromtimestamp(t, UTC)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + (f".{d.microsecond // 1000:03d}" if d.microsecond else "") + "Z"


def time_in(value: str | float | int | None, name: str) -> float | None:
    """An epoch time from a parameter (epoch or ISO 8601); :class:`ConfigError` names the parameter."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected epoch seconds or an ISO 8601 time, got {value!r}")
    try:
        t = float(value) if isinstance(value, int | float) else parse_time(str(value))
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    except (OverflowError, ValueError):
        raise ConfigError(f"{name}: {value!r} is not a time") from None
    if not math.isfinite(t) or not 0 <= t <= MAX_TS:
        raise ConfigError(f"{name}: {value!r} is outside 1970 to 9999")
    return t


def duration_in(value: str | None, name: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        d = parse_duration(value)
    except ConfigError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    if not math.isfinite(d) or d <= 0 or d > 100 * 365 * 86400:
        raise ConfigError(f"{name}: {value!r} must be a positive duration of at most 100 years")
    return d


def values(items: Sequence[str] | None) -> tuple[str, ...]:
    """Repeated and comma-separated values as one tuple (as the command line takes them)."""
    return tuple(v.strip() for item in items or () for v in item.split(",") if v.strip())


def time_range(since: str | None, from_: str | None, to: str | None, now: float) -> tuple[float | None, float | None]:
    """``(from, to)`` from ``since`` / ``from`` / ``to`` as ``spendwatch anomalies`` reads them."""
    from_ts = time_in(from_, "from")
    d = duration_in(since, "since")
    if d is not None:
        s = max(now - d, 0.0)
        from_ts = s if from_ts is None else max(from_ts, s)
    to_ts = time_in(to, "to")
    if from_ts is not None and to_ts is not None and from_ts > to_ts:
        raise ConfigError("from/since is after to; nothing can match")
    return from_ts, to_ts


def anomaly_query(*, now: float, since: str | None = None, from_: str | None = None, to: str | None = None,
                  kind: Sequence[str] | None = None, team: Sequence[str] | None = None,
                  owner: Sequence[str] | None = None, workload: Sequence[str] | None = None,
                  resource: Sequence[str] | None = None, state: Sequence[str] | None = None,
                  severity: str | None = None, min_waste: float | None = None, sort: str = "started",
                  order: str = "desc", limit: int | None = None, offset: int = 0,
                  unallocated_team: str = UNALLOCATED_TEAM) -> AnomalyQuery:
    """The :class:`AnomalyQuery` for the API's filters (the same as ``spendwatch anomalies``);
    ``unallocated_team``: the team of anomalies with no workload (``teams.unallocated``)."""
    from_ts, to_ts = time_range(since, from_, to, now)
    return AnomalyQuery(from_ts=from_ts, to_ts=to_ts, kinds=values(kind), teams=values(team), owners=values(owner),
                        workloads=values(workload), resources=values(resource), states=values(state),
                        min_severity=severity, min_waste_usd=min_waste, sort=sort, descending=order != "asc",
                        limit=limit, offset=offset, unallocated_team=unallocated_team)


def with_iso(a: dict[str, Any]) -> dict[str, Any]:
    """An anomaly (or event) with ``*_iso`` twins of its time fields."""
    out = dict(a)
    for f in TIME_FIELDS:
        if f in a:
            out[f"{f}_iso"] = iso(a[f])
    return out


def auto_step(span_s: float, target: int = 72) -> float:
    """A readable bucket size giving about ``target`` buckets over ``span_s``."""
    for step in (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400):
        if span_s / step <= target:
            return float(step)
    return 30 * 86400.0
