"""How long an anomaly lasted, written one way by every part that shows it; counts in the singular.

The demo's table, the Slack alert (and its thread replies), ``spendwatch anomalies`` and the
console alerts all call :func:`anomaly_duration`, so one anomaly reads the same everywhere:

>>> duration(42 * 60)
'42 min'
>>> duration(3 * 3600 + 12 * 60)
'3.2 h'
>>> duration(252 * 86400)
'252.0 d'
>>> anomaly_duration({"started_at": 0, "resolved_at": 5400, "ts": 5400})
'1.5 h'

Rounding: minutes to the whole minute below an hour, hours to a tenth below a day, days to a
tenth above; a value that rounds up to the next unit is written in that unit (59.7 min is
``1.0 h``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 anomaly``, ``2 anomalies``, ``0 events`` (the command line and the dashboard).

    >>> plural(1, "anomaly", "anomalies"), plural(3, "anomaly", "anomalies"), plural(0, "event")
    ('1 anomaly', '3 anomalies', '0 events')
    >>> plural(1234, "event")
    '1,234 events'
    """
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def duration(seconds: float) -> str:
    """``42 min``, ``3.2 h``, ``2.5 d`` (negative counts as 0)."""
    s = max(0.0, float(seconds))
    if round(s / MINUTE) < 60:
        return f"{s / MINUTE:.0f} min"
    if round(s / HOUR, 1) < 24:
        return f"{s / HOUR:.1f} h"
    return f"{s / DAY:.1f} d"


def anomaly_seconds(a: Mapping[str, Any], now: float | None = None) -> float:
    """Seconds from ``started_at`` to ``resolved_at`` (resolved), else to ``now`` (default: the
    anomaly's last event time ``ts``)."""
    start = float(a["started_at"])
    if a.get("resolved_at") is not None:
        end = float(a["resolved_at"])
    elif now is not None:
        end = float(now)
    else:
        end = float(a.get("ts") or start)
    return max(0.0, end - start)


def anomaly_duration(a: Mapping[str, Any], now: float | None = None) -> str:
    """:func:`duration` of :func:`anomaly_seconds`."""
    return duration(anomaly_seconds(a, now))
