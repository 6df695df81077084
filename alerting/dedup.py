"""The dedup stage: has this channel been told about this anomaly, and is there news?

Like Alertmanager's ``DedupStage``, it decides from the notification log (:mod:`alerting.nflog`),
never from memory, so a restarted process neither repeats itself nor forgets what it said. For
an anomaly the channel already knows, an event that is a material change since people were last
told queues an edit of the root message and a thread reply (in the same transaction as the
decision); anything else only refreshes the snapshot the next edit will show.

Material change: the state became ``resolved``; the severity changed; the projected $/day moved
by ``update_min_pct`` percent; or the $ lost grew by both ``update_min_usd`` dollars and
``update_min_pct`` percent since people were last told.

Muted updates: when ``known`` is given a ``muted`` reason (a silence matches, someone snoozed the
anomaly or marked it not a problem; see :meth:`alerting.pipeline.AlertPipeline.handle`) a material
change that is not the resolution is *not* queued and the figures people were told stay as they
were, so the first update after a snooze compares against what was actually said. The
resolution is always posted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.engine import Connection

from alerting.nflog import NotificationLog
from alerting.render import change_text


class DedupStage:
    """Known anomalies: refresh, and queue an edit + thread reply on a material change."""

    def __init__(self, nflog: NotificationLog, update_min_pct: float, update_min_usd: float) -> None:
        self.nflog = nflog
        self.update_min_pct = update_min_pct
        self.update_min_usd = update_min_usd
        self.muted = 0  # material updates not posted because they were muted

    def known(self, conn: Connection, channel: str, a: dict[str, Any], muted: str | None = None) -> bool:
        """True when ``channel`` already has ``a`` (the update, if any, is queued); False when it
        is new to this channel and goes on to the group stage. ``muted``: why updates are not posted now."""
        nf = self.nflog
        member = nf.member(conn, channel, a["id"])
        if member is None:
            return False
        if float(a["ts"]) < member["ts"]:
            return True  # a late or repeated event: never roll back what people were told
        old = orjson.loads(member["snapshot"])
        if old == a:
            return True
        nf.update_snapshot(conn, channel, a)
        msg = nf.message(conn, member["message_key"])
        if msg is None or msg["status"] == "pending":
            return True  # not posted yet: the root will show the latest figures
        told = {"state": member["notified_state"], "severity": member["notified_severity"],
                "waste_usd": member["notified_waste_usd"], "projected_daily_usd": member["notified_daily_usd"]}
        if self.material(told, a):
            if muted and a.get("state") != "resolved":
                self.muted += 1
                return True
            in_group = len(nf.members(conn, msg["key"])) > 1
            nf.enqueue(conn, msg["key"], "update_root")
            nf.enqueue(conn, msg["key"], "reply", {"text": change_text(told, a, in_group)})
            nf.set_notified(conn, channel, a)
        return True

    def material(self, told: Mapping[str, Any], a: Mapping[str, Any]) -> bool:
        """Whether ``a`` says something people were not told (``told``: the figures they were)."""
        if told["state"] != a.get("state") or told["severity"] != a.get("severity"):
            return True
        pct = self.update_min_pct / 100
        old_daily, new_daily = float(told["projected_daily_usd"] or 0.0), float(a.get("projected_daily_usd") or 0.0)
        if abs(new_daily - old_daily) >= max(1.0, pct * old_daily):
            return True
        old_w, new_w = float(told["waste_usd"] or 0.0), float(a.get("waste_usd") or 0.0)
        return new_w - old_w >= max(self.update_min_usd, pct * old_w)
