"""The group stage: anomalies of one route with the same ``group_by`` values become one message.

A new anomaly opens a group (a ``pending`` message due ``group_wait_s`` of event time later) or
joins one: a pending group still within its wait, or a posted storm message (two or more members)
that began less than ``join_window_s`` ago; the storm's root is then edited and the thread told.
When a group is due (:meth:`GroupStage.close_due`), a storm of ``storm_min`` or more stays one
message with a list; fewer members get one message each. Closing queues the root post.

Grouping windows are in event time (the anomaly's ``ts``), so a replayed storm groups the way a
live one does; ``close_due(now)`` compares due times with ``now``.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy.engine import Connection

from alerting.nflog import NotificationLog
from alerting.render import escape
from alerting.routing import Route, Router


class GroupStage:
    """Opens, joins and closes groups in the notification log."""

    def __init__(self, nflog: NotificationLog, router: Router, join_window_s: float) -> None:
        self.nflog = nflog
        self.router = router
        self.join_window_s = join_window_s

    def add(self, conn: Connection, route: Route, a: dict[str, Any]) -> None:
        """Put an anomaly that is new to ``route``'s channel into its group."""
        nf, ch, ts = self.nflog, route.channel, float(a["ts"])
        gk = route.group_key(a)
        group = nf.open_group(conn, ch, gk, ts, route.group_wait_s, self.join_window_s)
        if group is None:
            key = nf.new_message(conn, ch, route.name, gk, a["id"], ts, ts + route.group_wait_s)
            nf.add_member(conn, key, ch, a)
        elif group["status"] == "pending":
            nf.add_member(conn, group["key"], ch, a)
        else:  # a posted storm message grows: edit its list, say so in the thread
            nf.add_member(conn, group["key"], ch, a, notified=True)
            nf.enqueue(conn, group["key"], "update_root")
            nf.enqueue(conn, group["key"], "reply", {"text": f":heavy_plus_sign: also `{escape(a.get('resource'))}`: "
                                                              f"{escape(a.get('summary', ''))}"})

    def close_due(self, now: float) -> None:
        """Close the groups whose wait is over at ``now``: queue their root posts."""
        nf = self.nflog
        with nf.engine.begin() as conn:
            for msg in nf.due_groups(conn, now):
                members = nf.members(conn, msg["key"])
                route = self.router.by_name.get(msg["route"])
                storm_min = route.storm_min if route else 3
                keys = [msg["key"]]
                if 1 < len(members) < storm_min:  # a few: one message each, not a list
                    for m in members[1:]:
                        key = nf.new_message(conn, msg["channel"], msg["route"], msg["group_key"],
                                             m["anomaly_id"], m["ts"], msg["due_at"], status="queued")
                        nf.move_member(conn, msg["channel"], m["anomaly_id"], key)
                        keys.append(key)
                for key in keys:
                    nf.set_status(conn, key, "queued")
                    nf.enqueue(conn, key, "post_root", now=now)
                    for m in nf.members(conn, key):
                        nf.set_notified(conn, msg["channel"], orjson.loads(m["snapshot"]))
