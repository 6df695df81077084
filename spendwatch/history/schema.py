"""Tables of the history store and the notification log, and their versioned migrations.

One SQLAlchemy Core schema serves SQLite (embedded default) and PostgreSQL. Migrations are a plain
list of ``(version, name, function)``: :func:`migrate` applies the ones a database lacks, in order,
in one transaction, and writes each version to ``sw_schema_migrations``. On PostgreSQL a
transaction-scoped advisory lock keeps two processes starting at once from migrating twice.
To change the schema, append a migration; never edit one that has shipped.

Tables (all prefixed ``sw_`` so they sit beside other applications' tables):

- ``sw_anomalies``: the latest state of each anomaly id, with its owner fields pulled out of the
  ``workload`` object so filters use indexes, and the Slack message (channel, ts) it was posted as.
  Its ``type`` column says ``anomaly`` (an incident, paged) or ``insight`` (structural waste,
  reported: never listed by ``spendwatch anomalies`` unless asked for, never posted one by one).
- ``sw_anomaly_events``: every distinct anomaly event (open, updates, resolved), deduplicated by a
  fingerprint of its content, for ``anomalies show`` and the by-day summary.
- ``sw_set_aside``: anomaly events that could not be stored (a field of the wrong type or too
  long), with the reason, so one bad event never blocks the ones after it and is not lost either.
- ``sw_silences``: silences (matchers, start, end, creator); see :mod:`spendwatch.history.silences`.
- ``sw_anomaly_feedback``: what people said about an anomaly (acknowledged, snoozed, not a problem),
  every action kept; see :mod:`spendwatch.history.feedback`.
- ``sw_spend_hourly``: spend per hour, team and workload from the billing deltas a driver saw, for
  the dashboard's spend plots; see :mod:`spendwatch.history.spend`.
- ``sw_usage_hourly``: what ``spendwatch report`` adds up: spend by service and billed model, GPU
  hours and idle hours (and their dollars) by team and workload, predictions per served model,
  training cost per model; see :mod:`spendwatch.history.usage`.
- ``sw_alert_*``: the notification log of :mod:`alerting` (messages, their members, the outbox of
  Slack calls not yet done, and the e-mail → Slack user cache). Kept in the same database so a
  restart of the worker or alerter sees exactly what was posted.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

metadata = sa.MetaData()


def clean_text(value: str) -> str:
    """Text as both databases store it: NUL becomes U+FFFD (PostgreSQL refuses NUL in text)."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL wants a BIGINT identity.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

migrations_table = sa.Table(
    "sw_schema_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.Float, nullable=False),
)

anomalies = sa.Table(
    "sw_anomalies", metadata,
    sa.Column("id", sa.String(512), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("workload_id", sa.String(512)),
    sa.Column("owner", sa.String(512)),
    sa.Column("team", sa.String(512)),
    sa.Column("resource", sa.String(512), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("detected_at", sa.Float, nullable=False),
    sa.Column("resolved_at", sa.Float),
    sa.Column("waste_usd", sa.Float, nullable=False),
    sa.Column("projected_daily_usd", sa.Float, nullable=False),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("workload", sa.Text),          # the contract's workload object, JSON
    sa.Column("evidence", sa.Text, nullable=False),  # JSON
    sa.Column("first_ts", sa.Float, nullable=False),  # event time of the first event seen
    sa.Column("last_ts", sa.Float, nullable=False),   # event time of the event the row reflects
    sa.Column("event_count", sa.Integer, nullable=False),
    sa.Column("slack_channel", sa.String(200)),
    sa.Column("slack_ts", sa.String(64)),
    sa.Column("updated_at", sa.Float, nullable=False),  # wall clock of the last change
    sa.Column("type", sa.String(16), nullable=False, server_default="anomaly"),  # anomaly | insight (migration 4)
)

anomaly_events = sa.Table(
    "sw_anomaly_events", metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("anomaly_id", sa.String(512), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("waste_usd", sa.Float, nullable=False),
    sa.Column("projected_daily_usd", sa.Float, nullable=False),
    sa.Column("fingerprint", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
    sa.UniqueConstraint("anomaly_id", "fingerprint", name="uq_sw_anomaly_events_fp"),
)

set_aside = sa.Table(
    "sw_set_aside", metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("anomaly_id", sa.String(512)),          # as given (cleaned, cut), when it has one
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),     # the event as JSON (or its repr when not JSON)
    sa.Column("recorded_at", sa.Float, nullable=False),
)

# Indexes for the `spendwatch anomalies` filters: each filter column paired with started_at so a
# filter plus a time range is one index range scan.
_HISTORY_INDEXES = [
    sa.Index("ix_sw_anomalies_started", anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_resolved", anomalies.c.resolved_at),
    sa.Index("ix_sw_anomalies_kind", anomalies.c.kind, anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_team", anomalies.c.team, anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_owner", anomalies.c.owner, anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_workload", anomalies.c.workload_id, anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_resource", anomalies.c.resource, anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_state", anomalies.c.state, anomalies.c.started_at),
    sa.Index("ix_sw_anomalies_waste", anomalies.c.waste_usd),
    sa.Index("ix_sw_anomaly_events_anomaly", anomaly_events.c.anomaly_id, anomaly_events.c.ts),
    sa.Index("ix_sw_anomaly_events_ts", anomaly_events.c.ts),
]

# --- notification log (alerting) -------------------------------------------------------------

alert_messages = sa.Table(
    "sw_alert_messages", metadata,
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("channel", sa.String(200), nullable=False),
    sa.Column("route", sa.String(200), nullable=False),
    sa.Column("group_key", sa.String(1000), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),     # pending (grouping) | queued | posted
    sa.Column("first_ts", sa.Float, nullable=False),        # event time of the first member
    sa.Column("due_at", sa.Float, nullable=False),          # when the group stops waiting
    sa.Column("slack_ts", sa.String(64)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

alert_members = sa.Table(
    "sw_alert_members", metadata,
    sa.Column("channel", sa.String(200), primary_key=True),
    sa.Column("anomaly_id", sa.String(512), primary_key=True),
    sa.Column("message_key", sa.String(600), nullable=False),
    sa.Column("ts", sa.Float, nullable=False),              # event time of the snapshot
    sa.Column("snapshot", sa.Text, nullable=False),         # latest anomaly event, JSON
    sa.Column("notified_state", sa.String(16)),             # figures last told to people
    sa.Column("notified_severity", sa.String(16)),
    sa.Column("notified_waste_usd", sa.Float),
    sa.Column("notified_daily_usd", sa.Float),
    sa.Column("seq", sa.Integer, nullable=False),            # order within the message
)

alert_outbox = sa.Table(
    "sw_alert_outbox", metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("message_key", sa.String(600), nullable=False),
    sa.Column("op", sa.String(16), nullable=False),          # post_root | update_root | reply
    sa.Column("payload", sa.Text, nullable=False),           # JSON: text for replies
    sa.Column("done", sa.Boolean, nullable=False, default=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", sa.Float, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.Float, nullable=False),
)

slack_users = sa.Table(
    "sw_slack_users", metadata,
    sa.Column("email", sa.String(512), primary_key=True),
    sa.Column("user_id", sa.String(64)),                     # null: looked up, not found
    sa.Column("looked_up_at", sa.Float, nullable=False),
)

_ALERT_INDEXES = [
    sa.Index("ix_sw_alert_messages_group", alert_messages.c.channel, alert_messages.c.group_key,
             alert_messages.c.status),
    sa.Index("ix_sw_alert_messages_due", alert_messages.c.status, alert_messages.c.due_at),
    sa.Index("ix_sw_alert_members_message", alert_members.c.message_key),
    sa.Index("ix_sw_alert_outbox_pending", alert_outbox.c.done, alert_outbox.c.next_attempt_at),
]


# --- silences, feedback, spend (the HTTP API and dashboard) ---------------------------------

silences = sa.Table(
    "sw_silences", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("matchers", sa.Text, nullable=False),           # JSON list of {name, op, value}
    sa.Column("starts_at", sa.Float, nullable=False),
    sa.Column("ends_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(512), nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

anomaly_feedback = sa.Table(
    "sw_anomaly_feedback", metadata,
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=True),
    sa.Column("anomaly_id", sa.String(512), nullable=False),
    sa.Column("verdict", sa.String(32), nullable=False),      # acknowledged | snoozed | not_a_problem
    sa.Column("by", sa.String(512), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("until", sa.Float),                            # snoozed: until when (epoch s)
    sa.Column("ts", sa.Float, nullable=False),               # when it was said (wall clock)
    sa.Column("source", sa.String(32), nullable=False),      # slack | api | cli
    sa.Column("event", sa.Text, nullable=False),             # the contract's feedback event, JSON
)

spend_hourly = sa.Table(
    "sw_spend_hourly", metadata,
    sa.Column("hour", sa.Float, primary_key=True, autoincrement=False),   # epoch s of the UTC hour
    sa.Column("team", sa.String(512), primary_key=True),                  # '' = no team
    sa.Column("workload_id", sa.String(512), primary_key=True),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

usage_hourly = sa.Table(
    "sw_usage_hourly", metadata,
    sa.Column("hour", sa.Float, primary_key=True, autoincrement=False),   # epoch s of the UTC hour
    sa.Column("metric", sa.String(32), primary_key=True),                 # see spendwatch.history.usage
    sa.Column("team", sa.String(512), primary_key=True),                  # '' = no team
    sa.Column("workload_id", sa.String(512), primary_key=True),           # '' = no workload (unallocated GPUs)
    sa.Column("dim", sa.String(512), primary_key=True),                   # service, model or model id; '' = none
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

_API_INDEXES = [
    sa.Index("ix_sw_silences_ends", silences.c.ends_at),
    sa.Index("ix_sw_anomaly_feedback_anomaly", anomaly_feedback.c.anomaly_id, anomaly_feedback.c.seq),
]


def _m1_history(conn: Connection) -> None:
    for table in (anomalies, anomaly_events):
        table.create(conn, checkfirst=True)
    for index in _HISTORY_INDEXES:
        index.create(conn, checkfirst=True)


def _m2_notification_log(conn: Connection) -> None:
    for table in (alert_messages, alert_members, alert_outbox, slack_users):
        table.create(conn, checkfirst=True)
    for index in _ALERT_INDEXES:
        index.create(conn, checkfirst=True)


def _m3_silences_feedback_spend(conn: Connection) -> None:
    for table in (silences, anomaly_feedback, spend_hourly):
        table.create(conn, checkfirst=True)
    for index in _API_INDEXES:
        index.create(conn, checkfirst=True)


def _m4_set_aside(conn: Connection) -> None:
    set_aside.create(conn, checkfirst=True)


def _m5_insights_usage(conn: Connection) -> None:
    # existing rows are all anomalies; insights are recorded from now on with type 'insight'. A database
    # created by this version already has the column (migration 1 creates the table as defined above).
    if "type" not in {c["name"] for c in sa.inspect(conn).get_columns("sw_anomalies")}:
        conn.execute(sa.text("ALTER TABLE sw_anomalies ADD COLUMN type VARCHAR(16) NOT NULL DEFAULT 'anomaly'"))
    # plain SQL (both databases speak it): an Index object made here would attach to the table for good
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_sw_anomalies_type ON sw_anomalies (type, started_at)"))
    usage_hourly.create(conn, checkfirst=True)
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_sw_usage_hourly_metric ON sw_usage_hourly (metric, hour)"))


MIGRATIONS: list[tuple[int, str, Callable[[Connection], None]]] = [
    (1, "history: anomalies and anomaly events", _m1_history),
    (2, "alerting: notification log", _m2_notification_log),
    (3, "api: silences, feedback, hourly spend", _m3_silences_feedback_spend),
    (4, "history: anomaly events set aside", _m4_set_aside),
    (5, "insights (sw_anomalies.type) and the report's hourly usage", _m5_insights_usage),
]
LATEST_VERSION = MIGRATIONS[-1][0]


def migrate(engine: sa.Engine) -> list[int]:
    """Apply the migrations this database lacks; returns the versions applied (empty when current)."""
    applied: list[int] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Serialise concurrent starters; released at commit.
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(7312601)"))
        migrations_table.create(conn, checkfirst=True)
        have = set(conn.execute(sa.select(migrations_table.c.version)).scalars())
        for version, name, fn in MIGRATIONS:
            if version in have:
                continue
            fn(conn)
            conn.execute(migrations_table.insert().values(version=version, name=name, applied_at=time.time()))
            applied.append(version)
    return applied


def schema_version(engine: sa.Engine) -> int:
    """The highest migration applied (0 for an empty database)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(migrations_table.name):
            return 0
        return int(conn.execute(sa.select(sa.func.max(migrations_table.c.version))).scalar() or 0)
