"""The history store: every anomaly and insight event, and the latest state per id.

Insights (structural waste: reported, not paged) are stored like anomalies, with ``type``
``insight``; every query takes :attr:`AnomalyQuery.types` (anomalies only by default).

One SQLAlchemy Core implementation serves SQLite and PostgreSQL; the only dialect-specific part
is ``INSERT … ON CONFLICT DO NOTHING``, which both spell the same way in SQLAlchemy.

Text is stored the same on both databases: NUL (allowed in the contract's strings, refused by
PostgreSQL in text) becomes U+FFFD in the text columns; the JSON columns keep it, escaped. An event
that still cannot be stored (a field of the wrong type, an id longer than its column) is *set
aside* in ``sw_set_aside`` with its reason, logged and counted (:attr:`HistoryStore.set_aside`):
it never blocks the events recorded with it.

Idempotence: an event is identified by ``(anomaly id, sha1 of its canonical JSON)``; recording
the same event again inserts nothing and changes nothing. The latest state of an anomaly is the
event with the greatest ``(ts, state rank)`` where ``resolved`` ranks above ``open``, so events
that arrive late or twice (Kafka redelivery after a restart) never roll the state back.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from spendwatch.contract import ANOMALY, INSIGHT
from spendwatch.errors import BadEvent, ExternalError
from spendwatch.history import schema
from spendwatch.history.feedback import FeedbackLog
from spendwatch.history.query import AnomalyQuery, summarize, team_column, where_clauses
from spendwatch.history.schema import clean_text
from spendwatch.history.silences import Silences
from spendwatch.history.spend import SpendLedger
from spendwatch.history.usage import UsageLedger

log = logging.getLogger(__name__)

_STATE_RANK = {"open": 0, "resolved": 1}


def _fingerprint(event: Mapping[str, Any]) -> str:
    return hashlib.sha1(orjson.dumps(event, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _num(event: Mapping[str, Any], name: str, default: float | None = None) -> float | None:
    value = event.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadEvent(f"anomaly {event.get('id')!r}: {name}: expected a finite number, got {value!r}")
    return float(value)


_COLUMN_LEN = {"id": 512, "kind": 64, "state": 16, "severity": 16, "workload_id": 512, "owner": 512, "team": 512,
               "resource": 512}


def _fit(name: str, value: str) -> str:
    value = clean_text(value)
    limit = _COLUMN_LEN.get(name)
    if limit is not None and len(value) > limit:
        raise BadEvent(f"anomaly event: {name}: {len(value)} characters, more than {limit}")
    return value


def _str(event: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = event.get(name, default)
    if not isinstance(value, str) or not value:
        raise BadEvent(f"anomaly event: {name}: expected a non-empty string, got {str(value)[:80]!r}")
    return _fit(name, value)


def _opt_str(workload: Mapping[str, Any], name: str, column: str) -> str | None:
    value = workload.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadEvent(f"anomaly event: workload.{name}: expected a string, got {type(value).__name__}")
    return _fit(column, value)


def _row_for(event: Mapping[str, Any], now: float) -> dict[str, Any]:
    """The ``sw_anomalies`` columns for one anomaly event (validated enough to store)."""
    workload = event.get("workload")
    if workload is not None and not isinstance(workload, dict):
        raise BadEvent(f"anomaly {event.get('id')!r}: workload: expected an object or null")
    wl = workload or {}
    started = _num(event, "started_at")
    if started is None:
        raise BadEvent(f"anomaly {event.get('id')!r}: started_at is required")
    ts = _num(event, "ts") or _num(event, "resolved_at") or _num(event, "detected_at") or started
    evidence = event.get("evidence") or {}
    etype = event.get("type", ANOMALY)
    if etype not in (ANOMALY, INSIGHT):
        raise BadEvent(f"anomaly {event.get('id')!r}: type: expected anomaly or insight, got {etype!r}")
    return {
        "id": _str(event, "id"),
        "type": etype,
        "kind": _str(event, "kind"),
        "state": _str(event, "state"),
        "severity": _str(event, "severity", "info"),
        "workload_id": _opt_str(wl, "id", "workload_id"),
        "owner": _opt_str(wl, "owner", "owner"),
        "team": _opt_str(wl, "team", "team"),
        "resource": _fit("resource", str(event.get("resource") or "")),
        "started_at": started,
        "detected_at": _num(event, "detected_at", started),
        "resolved_at": _num(event, "resolved_at"),
        "waste_usd": _num(event, "waste_usd", 0.0),
        "projected_daily_usd": _num(event, "projected_daily_usd", 0.0),
        "summary": clean_text(str(event.get("summary") or "")),
        "workload": None if workload is None else orjson.dumps(workload).decode(),
        "evidence": orjson.dumps(evidence).decode(),  # JSON escapes NUL: safe on both databases
        "last_ts": ts,
        "updated_at": now,
    }


def row_to_anomaly(row: Mapping[str, Any]) -> dict[str, Any]:
    """The contract's anomaly fields (plus ``ts``, ``event_count`` and the Slack message) for a row."""
    return {
        "type": row.get("type") or ANOMALY,
        "id": row["id"],
        "kind": row["kind"],
        "state": row["state"],
        "severity": row["severity"],
        "workload": orjson.loads(row["workload"]) if row["workload"] else None,
        "resource": row["resource"],
        "started_at": row["started_at"],
        "detected_at": row["detected_at"],
        "resolved_at": row["resolved_at"],
        "waste_usd": row["waste_usd"],
        "projected_daily_usd": row["projected_daily_usd"],
        "summary": row["summary"],
        "evidence": orjson.loads(row["evidence"]),
        "ts": row["last_ts"],
        "event_count": row["event_count"],
        "slack_channel": row["slack_channel"],
        "slack_ts": row["slack_ts"],
    }


def insert_ignore(conn: Connection, table: sa.Table, values: Mapping[str, Any]) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING``; True when a row was inserted."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        stmt: Any = pg_dialect.insert(table).values(**values).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite_dialect.insert(table).values(**values).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two dialects above are supported
        raise ExternalError(f"history store: unsupported database dialect {dialect}")
    # RETURNING rather than rowcount: psycopg reports rowcount 1 for a skipped conflicting row.
    pk = next(iter(table.primary_key.columns))
    return conn.execute(stmt.returning(pk)).first() is not None


def _unstorable(exc: BaseException) -> bool:
    """Whether ``exc`` says one event cannot be stored (its content), not that the database failed."""
    if isinstance(exc, BadEvent | ValueError | TypeError):  # ours, orjson's, an encoding error
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        return isinstance(exc, sa.exc.DataError | sa.exc.IntegrityError)
    return isinstance(exc, sa.exc.StatementError)  # a parameter the driver could not take


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BadEvent):
        return exc.reason
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0] if str(orig) else ''}"[:2000]


def _payload(event: Any) -> str:
    """The event as text any database stores: JSON (NUL escaped), else its repr (escapes the rest)."""
    try:
        text = orjson.dumps(event, default=repr, option=orjson.OPT_NON_STR_KEYS).decode()
    except Exception:  # noqa: BLE001 - not JSON: its repr, which escapes surrogates and NUL
        try:
            text = repr(event)
        except Exception:  # noqa: BLE001 - too deep even for repr
            text = f"<{type(event).__name__} that cannot be shown>"
    return clean_text(text[:65536])


class HistoryStore:
    """Anomaly history on one database (``url`` is a SQLAlchemy URL).

    ``engine`` is public so the notification log of :mod:`alerting` can share the database.
    """

    def __init__(self, url: str, engine: sa.Engine) -> None:
        self.url = url
        self.engine = engine
        self.set_aside = 0  # anomaly events this process could not store (kept in sw_set_aside)
        try:
            schema.migrate(engine)
        except sa.exc.OperationalError as exc:
            raise ExternalError(f"history store {self.safe_url}: cannot open or migrate the database: "
                                f"{exc.orig}") from None

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for messages."""
        return sa.make_url(self.url).render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"HistoryStore({self.safe_url!r})"

    # --- writing ---------------------------------------------------------------------------

    def record(self, event: Mapping[str, Any]) -> bool:
        """Record one anomaly event; True when it changed something (False for a repeat)."""
        with self.engine.begin() as conn:
            return self._record(conn, event, time.time())

    def record_many(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Record events in one transaction; returns how many changed something.

        An event that cannot be stored is set aside (``sw_set_aside``, with the reason) and the
        others are recorded all the same."""
        batch = list(events)
        now = time.time()
        try:
            with self.engine.begin() as conn:
                return sum(self._record(conn, event, now) for event in batch)
        except Exception as exc:  # noqa: BLE001 - sorted below: only what one event caused is handled
            if not _unstorable(exc):
                raise
        changed = 0  # one of them cannot be stored: again, one savepoint each, setting aside what fails
        with self.engine.begin() as conn:
            for event in batch:
                try:
                    with conn.begin_nested():
                        changed += self._record(conn, event, now)
                except Exception as exc:  # noqa: BLE001 - as above
                    if not _unstorable(exc):
                        raise
                    self._set_aside(conn, event, _reason(exc), now)
        return changed

    def _set_aside(self, conn: Connection, event: Mapping[str, Any], reason: str, now: float) -> None:
        aid = event.get("id") if isinstance(event, Mapping) else None
        aid = clean_text(aid)[:512] if isinstance(aid, str) else None
        self.set_aside += 1
        log.warning("history store %s: anomaly event %r set aside: %s", self.safe_url, aid, reason)
        try:
            with conn.begin_nested():
                conn.execute(schema.set_aside.insert().values(anomaly_id=aid, reason=clean_text(reason),
                                                              payload=_payload(event), recorded_at=now))
        except sa.exc.DBAPIError as exc:  # counted and logged above; the others still go in
            log.warning("history store %s: could not keep the set-aside event %r: %s", self.safe_url, aid,
                        _reason(exc))

    def set_aside_events(self, limit: int = 100) -> list[dict[str, Any]]:
        """The latest events set aside (``anomaly_id``, ``reason``, ``payload``, ``recorded_at``), newest first."""
        t = schema.set_aside
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.anomaly_id, t.c.reason, t.c.payload, t.c.recorded_at)
                                .order_by(t.c.seq.desc()).limit(limit))
            return [dict(r._mapping) for r in rows]

    def _record(self, conn: Connection, event: Mapping[str, Any], now: float) -> bool:
        row = _row_for(event, now)
        fp = _fingerprint(event)
        new_event = insert_ignore(conn, schema.anomaly_events, {
            "anomaly_id": row["id"], "ts": row["last_ts"], "state": row["state"], "severity": row["severity"],
            "waste_usd": row["waste_usd"], "projected_daily_usd": row["projected_daily_usd"],
            "fingerprint": fp, "payload": orjson.dumps(event).decode(), "recorded_at": now})
        if not new_event:
            return False
        t = schema.anomalies
        current = conn.execute(
            sa.select(t.c.last_ts, t.c.state, t.c.first_ts).where(t.c.id == row["id"]).with_for_update()
        ).first()
        if current is None:
            if insert_ignore(conn, t, {**row, "first_ts": row["last_ts"], "event_count": 1}):
                return True
            current = conn.execute(sa.select(t.c.last_ts, t.c.state, t.c.first_ts)
                                   .where(t.c.id == row["id"]).with_for_update()).one()
        newer = (row["last_ts"], _STATE_RANK.get(row["state"], 0)) >= \
                (current.last_ts, _STATE_RANK.get(current.state, 0))
        values: dict[str, Any] = {"event_count": t.c.event_count + 1, "updated_at": now,
                                  "first_ts": min(current.first_ts, row["last_ts"])}
        if newer:
            values.update({k: v for k, v in row.items() if k != "id"})
        conn.execute(t.update().where(t.c.id == row["id"]).values(**values))
        return True

    def set_message(self, anomaly_id: str, channel: str, ts: str) -> None:
        """Remember the Slack message an anomaly was posted as (no-op when the id is not recorded)."""
        t = schema.anomalies
        with self.engine.begin() as conn:
            conn.execute(t.update().where(t.c.id == anomaly_id).values(slack_channel=channel, slack_ts=ts))

    # --- reading ---------------------------------------------------------------------------

    def query(self, q: AnomalyQuery | None = None) -> list[dict[str, Any]]:
        """Anomalies (latest state) matching ``q``, sorted and limited as it says."""
        q = q or AnomalyQuery()
        t = schema.anomalies
        stmt = sa.select(t).where(*where_clauses(q))
        column = {"started": t.c.started_at, "detected": t.c.detected_at, "waste": t.c.waste_usd,
                  "daily": t.c.projected_daily_usd, "last": t.c.last_ts, "kind": t.c.kind,
                  "team": team_column(q), "owner": t.c.owner, "severity": t.c.severity}[q.sort]
        stmt = stmt.order_by(column.desc() if q.descending else column.asc(), t.c.id)
        if q.limit:
            stmt = stmt.limit(q.limit)
        if q.offset:
            stmt = stmt.offset(q.offset)
        with self.engine.connect() as conn:
            return [row_to_anomaly(dict(r._mapping)) for r in conn.execute(stmt)]

    def count(self, q: AnomalyQuery | None = None) -> int:
        """How many anomalies match ``q`` (its sort, limit and offset do not matter)."""
        q = q or AnomalyQuery()
        t = schema.anomalies
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(t).where(*where_clauses(q))).scalar() or 0)

    def history(self, q: AnomalyQuery | None = None) -> list[dict[str, Any]]:
        """(anomaly_id, ts, waste_usd, team, kind, owner, started_at) of every event of the anomalies
        matching ``q``, by anomaly and time: what the waste-over-time series are drawn from."""
        q = q or AnomalyQuery()
        t, e = schema.anomalies, schema.anomaly_events
        stmt = (sa.select(e.c.anomaly_id, e.c.ts, e.c.waste_usd, team_column(q).label("team"), t.c.kind, t.c.owner,
                          t.c.started_at)
                .join(t, t.c.id == e.c.anomaly_id).where(*where_clauses(q)).order_by(e.c.anomaly_id, e.c.ts, e.c.seq))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    @property
    def silences(self) -> Silences:
        """The silences kept in this database."""
        return Silences(self.engine)

    @property
    def feedback(self) -> FeedbackLog:
        """What people said about anomalies (acknowledged, snoozed, not a problem)."""
        return FeedbackLog(self.engine)

    @property
    def spend(self) -> SpendLedger:
        """Hourly spend by team and workload, for the dashboard."""
        return SpendLedger(self.engine)

    @property
    def usage(self) -> UsageLedger:
        """Hourly spend by service and model, GPU hours and idle hours, predictions: for the report."""
        return UsageLedger(self.engine)

    def ping(self) -> None:
        """Raise :class:`ExternalError` when the database does not answer."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise ExternalError(f"history store {self.safe_url}: {type(exc).__name__}") from None

    def get(self, anomaly_id: str) -> dict[str, Any] | None:
        """One anomaly by id, or by a unique id prefix; None when there is none."""
        t = schema.anomalies
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == anomaly_id)).first()
            if row is None:
                rows = conn.execute(sa.select(t).where(t.c.id.startswith(anomaly_id, autoescape=True))
                                    .limit(2)).all()
                row = rows[0] if len(rows) == 1 else None
        return None if row is None else row_to_anomaly(dict(row._mapping))

    def events(self, anomaly_id: str) -> list[dict[str, Any]]:
        """Every distinct event recorded for one anomaly, oldest first."""
        e = schema.anomaly_events
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(e.c.payload).where(e.c.anomaly_id == anomaly_id)
                                .order_by(e.c.ts, e.c.seq)).scalars()
            return [orjson.loads(p) for p in rows]

    def summary(self, q: AnomalyQuery | None = None) -> dict[str, Any]:
        """Waste and count by team, owner, kind and (UTC) day for the anomalies matching ``q``."""
        q = q or AnomalyQuery()
        t, e = schema.anomalies, schema.anomaly_events
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(
                sa.select(t.c.id, t.c.kind, team_column(q).label("team"), t.c.owner, t.c.state, t.c.waste_usd,
                          t.c.projected_daily_usd).where(*where_clauses(q)))]
            ids = sa.select(t.c.id).where(*where_clauses(q)).scalar_subquery()
            history = [dict(r._mapping) for r in conn.execute(
                sa.select(e.c.anomaly_id, e.c.ts, e.c.waste_usd).where(e.c.anomaly_id.in_(ids))
                .order_by(e.c.anomaly_id, e.c.ts, e.c.seq))]
        return summarize(rows, history)

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
