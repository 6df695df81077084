"""What people said about an anomaly: acknowledged, snoozed, not a problem (``sw_anomaly_feedback``).

Every action is kept (the anomaly's page and ``anomalies show`` list them) together with the
contract's ``feedback`` event it became (:func:`feedback_event`; the key rule is
:func:`spendwatch.contract.detector_key`). :meth:`FeedbackLog.status` folds them into what the
alert pipeline needs:

- ``acknowledged_by`` / ``acknowledged_at``: the latest acknowledgement (shown in the message);
- ``snoozed_until``: the latest snooze's end (updates are not posted before it; a resolution is);
- ``not_a_problem_by`` / ``reason``: set once someone said so (updates are not posted any more;
  the detector is told through the feedback topic and resolves it).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import sqlalchemy as sa

from spendwatch.contract import FEEDBACK, FEEDBACK_VERDICTS, detector_key
from spendwatch.errors import ConfigError
from spendwatch.history import schema

SOURCES = ("slack", "api", "cli", "replay")


def feedback_event(anomaly: Mapping[str, Any], verdict: str, by: str, reason: str | None = None,
                   until: float | None = None, ts: float | None = None) -> dict[str, Any]:
    """The contract's ``feedback`` event for a verdict on ``anomaly`` (its latest state)."""
    if verdict not in FEEDBACK_VERDICTS:
        raise ConfigError(f"feedback: verdict {verdict!r} is not one of {', '.join(FEEDBACK_VERDICTS)}")
    if verdict == "snoozed" and until is None:
        raise ConfigError("feedback: a snooze needs an end (until)")
    return {"type": FEEDBACK, "ts": round(time.time() if ts is None else ts, 3), "anomaly_id": anomaly["id"],
            "kind": anomaly["kind"], "resource": anomaly.get("resource"), "workload": anomaly.get("workload"),
            "key": detector_key(dict(anomaly)), "verdict": verdict, "by": by, "reason": reason or None,
            "until": None if until is None else round(until, 3), "evidence": anomaly.get("evidence") or {}}


class FeedbackLog:
    """The ``sw_anomaly_feedback`` table of a history database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def record(self, event: Mapping[str, Any], source: str) -> dict[str, Any]:
        """Keep one feedback event (from :func:`feedback_event`); returns it as listed."""
        if source not in SOURCES:
            raise ConfigError(f"feedback: source {source!r} is not one of {', '.join(SOURCES)}")
        values = {"anomaly_id": event["anomaly_id"], "verdict": event["verdict"], "by": event["by"],
                  "reason": event.get("reason"), "until": event.get("until"), "ts": float(event["ts"]),
                  "source": source, "event": orjson.dumps(event).decode()}
        with self.engine.begin() as conn:
            conn.execute(schema.anomaly_feedback.insert().values(**values))
        return {k: v for k, v in values.items() if k != "event"}

    def list(self, anomaly_id: str) -> list[dict[str, Any]]:
        """Every action on one anomaly, oldest first."""
        t = schema.anomaly_feedback
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.verdict, t.c.by, t.c.reason, t.c.until, t.c.ts, t.c.source)
                                .where(t.c.anomaly_id == anomaly_id).order_by(t.c.seq)).all()
        return [dict(r._mapping) for r in rows]

    def status(self, anomaly_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """What was said about each of ``anomaly_ids`` (only those with any action)."""
        ids = list(dict.fromkeys(anomaly_ids))
        if not ids:
            return {}
        t = schema.anomaly_feedback
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.anomaly_id, t.c.verdict, t.c.by, t.c.reason, t.c.until, t.c.ts)
                                .where(t.c.anomaly_id.in_(ids)).order_by(t.c.seq)).all()
        return fold_status(dict(r._mapping) for r in rows)


def fold_status(rows: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Actions (oldest first) folded into each anomaly's current status."""
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        s = out.setdefault(r["anomaly_id"], {})
        if r["verdict"] == "acknowledged":
            s["acknowledged_by"], s["acknowledged_at"] = r["by"], r["ts"]
        elif r["verdict"] == "snoozed":
            s["snoozed_until"], s["snoozed_by"] = r["until"], r["by"]
        elif r["verdict"] == "not_a_problem":
            s["not_a_problem_by"], s["not_a_problem_at"], s["reason"] = r["by"], r["ts"], r["reason"]
    return out


def muted(status: Mapping[str, Any] | None, now: float) -> str | None:
    """Why updates of an anomaly are not posted at ``now`` (None: they are)."""
    if not status:
        return None
    if status.get("not_a_problem_by"):
        return f"marked not a problem by {status['not_a_problem_by']}"
    until = status.get("snoozed_until")
    if until is not None and now < float(until):
        return f"snoozed by {status.get('snoozed_by')} until {until:.0f}"
    return None
