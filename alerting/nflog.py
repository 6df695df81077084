"""The notification log: what was (to be) said where, persisted so a restart neither repeats nor forgets.

Like Alertmanager's ``nflog``, it is the memory the dedup stage decides from. It lives in the
history database (tables ``sw_alert_*``, created by the history store's migrations):

- a *message* is one Slack root message in one channel: ``pending`` while its group collects
  members, ``queued`` once its post is in the outbox, ``posted`` once Slack gave its ``ts``;
- a *member* is an anomaly in a message, with its latest snapshot and the figures last told to
  people (the dedup stage compares against those to decide what is a material change);
- the *outbox* holds every Slack call not yet done (post, edit, thread reply), written in the
  same transaction as the decision that made it, and marked done only after Slack said ok. A crash
  in between repeats the call after the restart: a duplicate rather than a lost alert.

Its clock is injectable (``now``, the wall clock by default), as in Alertmanager's nflog: it
stamps rows and ages the e-mail → Slack user cache; tests pass a fixed one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from spendwatch.history import schema
from spendwatch.history.store import insert_ignore

M, MB, OB, SU = schema.alert_messages, schema.alert_members, schema.alert_outbox, schema.slack_users


class NotificationLog:
    """Operations on the ``sw_alert_*`` tables; each method runs inside the caller's transaction."""

    def __init__(self, engine: sa.Engine, now: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.now = now

    # --- members ---------------------------------------------------------------------------

    def member(self, conn: Connection, channel: str, anomaly_id: str) -> dict[str, Any] | None:
        row = conn.execute(sa.select(MB).where(MB.c.channel == channel, MB.c.anomaly_id == anomaly_id)).first()
        return None if row is None else dict(row._mapping)

    def members(self, conn: Connection, message_key: str) -> list[dict[str, Any]]:
        rows = conn.execute(sa.select(MB).where(MB.c.message_key == message_key).order_by(MB.c.seq))
        return [dict(r._mapping) for r in rows]

    def snapshots(self, conn: Connection, message_key: str) -> list[dict[str, Any]]:
        return [orjson.loads(m["snapshot"]) for m in self.members(conn, message_key)]

    def add_member(self, conn: Connection, message_key: str, channel: str, anomaly: Mapping[str, Any],
                   notified: bool = False) -> None:
        seq = conn.execute(sa.select(sa.func.count()).select_from(MB).where(MB.c.message_key == message_key)).scalar()
        values: dict[str, Any] = {"channel": channel, "anomaly_id": anomaly["id"], "message_key": message_key,
                                  "ts": float(anomaly.get("ts") or 0.0), "snapshot": orjson.dumps(anomaly).decode(),
                                  "seq": int(seq or 0)}
        insert_ignore(conn, MB, values)
        if notified:
            self.set_notified(conn, channel, anomaly)

    def update_snapshot(self, conn: Connection, channel: str, anomaly: Mapping[str, Any]) -> None:
        conn.execute(MB.update().where(MB.c.channel == channel, MB.c.anomaly_id == anomaly["id"])
                     .values(ts=float(anomaly.get("ts") or 0.0), snapshot=orjson.dumps(anomaly).decode()))

    def set_notified(self, conn: Connection, channel: str, anomaly: Mapping[str, Any]) -> None:
        conn.execute(MB.update().where(MB.c.channel == channel, MB.c.anomaly_id == anomaly["id"]).values(
            notified_state=anomaly.get("state"), notified_severity=anomaly.get("severity"),
            notified_waste_usd=anomaly.get("waste_usd"), notified_daily_usd=anomaly.get("projected_daily_usd")))

    def move_member(self, conn: Connection, channel: str, anomaly_id: str, message_key: str) -> None:
        conn.execute(MB.update().where(MB.c.channel == channel, MB.c.anomaly_id == anomaly_id)
                     .values(message_key=message_key, seq=0))

    # --- messages --------------------------------------------------------------------------

    @staticmethod
    def message_key(channel: str, group_key: str, first_id: str) -> str:
        return hashlib.sha1(f"{channel}\0{group_key}\0{first_id}".encode()).hexdigest()

    def message(self, conn: Connection, key: str) -> dict[str, Any] | None:
        row = conn.execute(sa.select(M).where(M.c.key == key)).first()
        return None if row is None else dict(row._mapping)

    def new_message(self, conn: Connection, channel: str, route: str, group_key: str, first_id: str,
                    first_ts: float, due_at: float, status: str = "pending") -> str:
        key = self.message_key(channel, group_key, first_id)
        now = self.now()
        insert_ignore(conn, M, {"key": key, "channel": channel, "route": route, "group_key": group_key,
                                "status": status, "first_ts": first_ts, "due_at": due_at, "slack_ts": None,
                                "created_at": now, "updated_at": now})
        return key

    def open_group(self, conn: Connection, channel: str, group_key: str, ts: float, wait_s: float,
                   join_s: float) -> dict[str, Any] | None:
        """A message this anomaly should join: a pending group still within its wait, or a posted
        group (two or more members) that began less than ``join_s`` of event time ago."""
        rows = conn.execute(sa.select(M).where(M.c.channel == channel, M.c.group_key == group_key,
                                               M.c.first_ts <= ts, M.c.first_ts >= ts - max(wait_s, join_s))
                            .order_by(M.c.first_ts.desc())).all()
        for r in rows:
            m = dict(r._mapping)
            if m["status"] == "pending" and ts <= m["first_ts"] + wait_s:
                return m
            if m["status"] != "pending" and ts <= m["first_ts"] + join_s and len(self.members(conn, m["key"])) > 1:
                return m
        return None

    def due_groups(self, conn: Connection, now: float) -> list[dict[str, Any]]:
        rows = conn.execute(sa.select(M).where(M.c.status == "pending", M.c.due_at <= now).order_by(M.c.first_ts))
        return [dict(r._mapping) for r in rows]

    def set_status(self, conn: Connection, key: str, status: str, slack_ts: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "updated_at": self.now()}
        if slack_ts is not None:
            values["slack_ts"] = slack_ts
        conn.execute(M.update().where(M.c.key == key).values(**values))

    # --- outbox ----------------------------------------------------------------------------

    def enqueue(self, conn: Connection, message_key: str, op: str, payload: Mapping[str, Any] | None = None,
                now: float | None = None) -> None:
        conn.execute(OB.insert().values(message_key=message_key, op=op, payload=orjson.dumps(payload or {}).decode(),
                                        done=False, attempts=0, next_attempt_at=0.0, last_error=None,
                                        created_at=self.now() if now is None else now))

    def undone_ops(self, conn: Connection) -> list[dict[str, Any]]:
        """Every outbox row not yet done, oldest first (the caller keeps each message's calls in order)."""
        return [dict(r._mapping) for r in conn.execute(sa.select(OB).where(OB.c.done.is_(False)).order_by(OB.c.seq))]

    def pending_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(OB).where(OB.c.done.is_(False))).scalar()
                       or 0)

    def mark_done(self, conn: Connection, seqs: list[int]) -> None:
        conn.execute(OB.update().where(OB.c.seq.in_(seqs)).values(done=True, last_error=None))

    def note_attempt(self, conn: Connection, seq: int, attempted_at: float) -> None:
        """Remember in outbox row ``seq`` when a post that may have reached Slack was first tried (kept)."""
        row = conn.execute(sa.select(OB.c.payload).where(OB.c.seq == seq)).first()
        payload = orjson.loads(row.payload) if row is not None and row.payload else {}
        if "attempted_at" not in payload:
            conn.execute(OB.update().where(OB.c.seq == seq).values(
                payload=orjson.dumps({**payload, "attempted_at": attempted_at}).decode()))

    def mark_failed(self, conn: Connection, seqs: list[int], error: str, next_attempt_at: float) -> None:
        conn.execute(OB.update().where(OB.c.seq.in_(seqs)).values(attempts=OB.c.attempts + 1, last_error=error,
                                                                  next_attempt_at=next_attempt_at))

    # --- e-mail → Slack user cache ----------------------------------------------------------

    def cached_user(self, email: str, ttl_s: float) -> tuple[bool, str | None]:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(SU.c.user_id, SU.c.looked_up_at).where(SU.c.email == email)).first()
        # A "not found" is remembered for an hour only: the person may join Slack.
        if row is None or self.now() - row.looked_up_at > (ttl_s if row.user_id else min(ttl_s, 3600)):
            return False, None
        return True, row.user_id

    def cache_user(self, email: str, user_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(SU.delete().where(SU.c.email == email))
            conn.execute(SU.insert().values(email=email, user_id=user_id, looked_up_at=self.now()))
