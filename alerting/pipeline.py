"""The alert pipeline: route → group → dedup (notification log) → notify, as small stages.

    anomaly ──► route (routing tree: which channels, thresholds)
            ──► group (same route + group_by values within group_wait_s → one message)
            ──► dedup (notification log: new member? material change? resolved?) ─► outbox
    flush(now) ──► close due groups (a storm of ≥ storm_min → one message with a list)
               ──► deliver the outbox in order: post root, edit root, thread reply;
                   failures stay in the outbox with a backoff and are retried on the next flush

``handle`` only decides and writes the decision (one transaction); ``flush`` talks to Slack. The
worker or ``spendwatch alerter`` calls ``flush()`` every second or so; a batch run (``replay``,
``demo``) calls it once at the end. Grouping windows are in event time (the anomaly's ``ts``) so a
replayed storm groups the way a live one does; ``flush(now)`` compares due times with ``now``
(default: the wall clock), so in a batch run every group is due at the final flush.

Material change (what earns an edit and a thread reply): the state became ``resolved``; the
severity changed; the projected $/day moved by ``update_min_pct`` percent; or the $ lost grew by
both ``update_min_usd`` dollars and ``update_min_pct`` percent since people were last told.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from alerting.nflog import NotificationLog
from alerting.notifiers.base import Notifier, NotifyError
from alerting.notifiers.console import ConsoleNotifier
from alerting.render import change_text, render_root
from alerting.routing import Route, Router, load_routes, parse_routes
from spendwatch.config import Settings
from spendwatch.errors import BadEvent, ConfigError
from spendwatch.history import HistoryStore, open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertingConfig:
    """``alerting`` settings section. Environment: ``SPENDWATCH_ROUTES`` (routes file),
    ``SPENDWATCH_SLACK_TOKEN`` / ``SPENDWATCH_SLACK_TOKEN_FILE`` (bot token), ``SPENDWATCH_SLACK_BASE_URL``."""

    routes_file: str | None = None
    route: dict[str, Any] | None = None           # the routing tree inline, instead of routes_file
    slack_base_url: str = "https://slack.com/api/"
    min_post_interval_s: float = 1.0               # per channel (Slack: ~1 message/s/channel)
    slack_max_retries: int = 3                     # slack-sdk retry handlers (429, 5xx, connection)
    slack_backoff_s: float = 0.5
    retry_base_s: float = 5.0                      # outbox backoff after a call still failed
    retry_max_s: float = 300.0
    update_min_pct: float = 25.0
    update_min_usd: float = 5.0
    join_window_s: float = 3600.0                  # late members join a posted group this long
    user_cache_ttl_s: float = 86400.0
    console: str = "stdout"                        # stdout | stderr | log (console notifier)


@dataclass
class PipelineStats:
    handled: int = 0
    posted: int = 0
    edited: int = 0
    replies: int = 0
    failures: int = 0
    errors: list[str] = field(default_factory=list)


def _ts(a: Mapping[str, Any]) -> float:
    return float(a.get("ts") or a.get("resolved_at") or a.get("detected_at") or a.get("started_at") or 0.0)


class AlertPipeline:
    """Routes anomalies to channels and delivers them through ``notifier``, remembering in ``nflog``."""

    def __init__(self, router: Router, nflog: NotificationLog, notifier: Notifier,
                 config: AlertingConfig | None = None, store: HistoryStore | None = None) -> None:
        self.router = router
        self.nflog = nflog
        self.notifier = notifier
        self.config = config or AlertingConfig()
        self.store = store
        self.stats = PipelineStats()

    # --- decide ----------------------------------------------------------------------------

    def handle(self, anomaly: Mapping[str, Any]) -> None:
        """Route one anomaly event and record what must be said (nothing is sent here)."""
        if not isinstance(anomaly, Mapping) or not isinstance(anomaly.get("id"), str) or "kind" not in anomaly:
            raise BadEvent(f"alerting: not an anomaly event: {str(anomaly)[:200]}")
        a = dict(anomaly)
        a.setdefault("ts", _ts(a))
        self.stats.handled += 1
        with self.nflog.engine.begin() as conn:
            for route in self.router.routes_for(a):
                self._handle_route(conn, route, a)

    def _handle_route(self, conn: Any, route: Route, a: dict[str, Any]) -> None:
        nf, ch, ts = self.nflog, route.channel, float(a["ts"])
        member = nf.member(conn, ch, a["id"])
        if member is not None:
            if ts < member["ts"]:
                return  # a late or repeated event: never roll back what people were told
            old = orjson.loads(member["snapshot"])
            if old == a:
                return
            nf.update_snapshot(conn, ch, a)
            msg = nf.message(conn, member["message_key"])
            if msg is None or msg["status"] == "pending":
                return  # not posted yet: the root will show the latest figures
            told = {"state": member["notified_state"], "severity": member["notified_severity"],
                    "waste_usd": member["notified_waste_usd"], "projected_daily_usd": member["notified_daily_usd"]}
            if self._material(told, a):
                in_group = len(nf.members(conn, msg["key"])) > 1
                nf.enqueue(conn, msg["key"], "update_root")
                nf.enqueue(conn, msg["key"], "reply", {"text": change_text(told, a, in_group)})
                nf.set_notified(conn, ch, a)
            return
        if a.get("state") == "resolved" or not route.qualifies(a):
            return  # never told, so nothing to resolve; or below this channel's thresholds
        gk = route.group_key(a)
        group = nf.open_group(conn, ch, gk, ts, route.group_wait_s, self.config.join_window_s)
        if group is None:
            key = nf.new_message(conn, ch, route.name, gk, a["id"], ts, ts + route.group_wait_s)
            nf.add_member(conn, key, ch, a)
        elif group["status"] == "pending":
            nf.add_member(conn, group["key"], ch, a)
        else:  # a posted storm message grows: edit its list, say so in the thread
            nf.add_member(conn, group["key"], ch, a, notified=True)
            nf.enqueue(conn, group["key"], "update_root")
            nf.enqueue(conn, group["key"], "reply", {"text": f":heavy_plus_sign: also `{a.get('resource')}`: "
                                                              f"{a.get('summary', '')}"})

    def _material(self, told: Mapping[str, Any], a: Mapping[str, Any]) -> bool:
        if told["state"] != a.get("state") or told["severity"] != a.get("severity"):
            return True
        pct = self.config.update_min_pct / 100
        old_daily, new_daily = float(told["projected_daily_usd"] or 0.0), float(a.get("projected_daily_usd") or 0.0)
        if abs(new_daily - old_daily) >= max(1.0, pct * old_daily):
            return True
        old_w, new_w = float(told["waste_usd"] or 0.0), float(a.get("waste_usd") or 0.0)
        return new_w - old_w >= max(self.config.update_min_usd, pct * old_w)

    # --- deliver ---------------------------------------------------------------------------

    def flush(self, now: float | None = None) -> None:
        """Close the groups whose wait is over and deliver every due call in the outbox."""
        now = time.time() if now is None else now
        self._close_groups(now)
        self._deliver(now)

    def _close_groups(self, now: float) -> None:
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

    def _deliver(self, now: float) -> None:
        nf = self.nflog
        with nf.engine.connect() as conn:
            ops = nf.undone_ops(conn)
        by_message: dict[str, list[dict[str, Any]]] = {}
        for op in ops:
            by_message.setdefault(op["message_key"], []).append(op)
        for key, mops in by_message.items():
            if mops[0]["next_attempt_at"] > now:
                continue  # backing off; its later calls wait too, to stay in order
            self._deliver_message(key, mops, now)

    def _deliver_message(self, key: str, ops: list[dict[str, Any]], now: float) -> None:
        """One message's calls: the post, then all edits as one, then all replies as one, so a
        storm's 40 resolves cost one edit and one thread reply."""
        nf = self.nflog
        with nf.engine.connect() as conn:
            msg = nf.message(conn, key)
            members = nf.snapshots(conn, key)
        if msg is None or not members:
            with nf.engine.begin() as conn:
                nf.mark_done(conn, [o["seq"] for o in ops])
            return
        route = self.router.by_name.get(msg["route"])
        mention = self.notifier.mention if (route is None or route.mention_owner) else (lambda o: o or "no owner")
        channel, slack_ts = msg["channel"], msg["slack_ts"]
        # Post first, then one edit for all pending edits (it renders the current state), then one
        # reply joining all pending replies in order.
        stages = [[o for o in ops if o["op"] == name] for name in ("post_root", "update_root", "reply")]
        stages = [batch for batch in stages if batch]
        for n, batch in enumerate(stages):
            op, seqs = batch[0]["op"], [o["seq"] for o in batch]
            try:
                if op == "post_root":
                    if slack_ts is None:
                        text, blocks = render_root(members, mention)
                        slack_ts = self.notifier.post(channel, text, blocks)
                        self.stats.posted += 1
                    with nf.engine.begin() as conn:  # ts first: a crash after this never reposts
                        nf.set_status(conn, key, "posted", slack_ts)
                        nf.mark_done(conn, seqs)
                    if self.store is not None:
                        for m in members:
                            self.store.set_message(m["id"], channel, slack_ts)
                    continue
                if slack_ts is None:
                    return  # the root is not posted yet: its edits and replies wait for it
                if op == "update_root":
                    text, blocks = render_root(members, mention)
                    self.notifier.update(channel, slack_ts, text, blocks)
                    self.stats.edited += 1
                else:
                    body = _join_replies([orjson.loads(o["payload"]).get("text", "") for o in batch])
                    self.notifier.post(channel, body, None, thread_ts=slack_ts)
                    self.stats.replies += 1
                with nf.engine.begin() as conn:
                    nf.mark_done(conn, seqs)
            except NotifyError as exc:
                attempts = max(o["attempts"] for o in batch) + 1
                delay = self.config.retry_max_s if exc.permanent else \
                    min(self.config.retry_max_s, self.config.retry_base_s * 2 ** (attempts - 1))
                (log.error if exc.permanent else log.warning)(
                    "alert to %s not delivered (%s, attempt %d); kept, retrying in %.0fs", channel, exc, attempts,
                    delay)
                self.stats.failures += 1
                self.stats.errors.append(str(exc))
                rest = [o["seq"] for later in stages[n:] for o in later]
                with nf.engine.begin() as conn:
                    nf.mark_failed(conn, rest, str(exc), now + delay)
                return

    def pending(self) -> int:
        """Calls in the outbox not yet delivered."""
        return self.nflog.pending_count()

    def close(self) -> None:
        self.notifier.close()
        if self.store is not None:
            self.store.close()


def _join_replies(texts: list[str], limit: int = 2800) -> str:
    """Thread replies merged into one message, whole lines only, within Slack's text limit."""
    out: list[str] = []
    size = 0
    for i, t in enumerate(texts):
        if out and size + len(t) + 1 > limit:
            out.append(f"…and {len(texts) - i} more changes; the message above shows the current state.")
            break
        out.append(t)
        size += len(t) + 1
    return "\n".join(out)


def slack_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The bot token from ``SPENDWATCH_SLACK_TOKEN`` or the file ``SPENDWATCH_SLACK_TOKEN_FILE``."""
    env = os.environ if environ is None else environ
    if env.get("SPENDWATCH_SLACK_TOKEN"):
        return env["SPENDWATCH_SLACK_TOKEN"].strip()
    path = env.get("SPENDWATCH_SLACK_TOKEN_FILE")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip() or None
        except OSError as exc:
            raise ConfigError(f"SPENDWATCH_SLACK_TOKEN_FILE: cannot read {path}: {exc.strerror}") from None
    return None


def build_router(config: AlertingConfig, environ: Mapping[str, str] | None = None) -> Router:
    env = os.environ if environ is None else environ
    path = env.get("SPENDWATCH_ROUTES") or config.routes_file
    if path:
        return load_routes(path)
    return parse_routes(config.route or {}, "alerting.route")


def build_alert_pipeline(settings: Settings | None = None, store_url: str | None = None,
                         notifier: Notifier | None = None) -> AlertPipeline:
    """The pipeline for these settings: Slack when a token is configured, else the console.

    The notification log lives in the history store at ``store_url`` (else ``SPENDWATCH_DB``, else
    the default SQLite file), so one database holds what happened and what was said about it.
    """
    settings = settings or Settings()
    config = settings.build(AlertingConfig, "alerting")
    router = build_router(config)
    store = open_store(store_url)
    nflog = NotificationLog(store.engine)
    if notifier is None:
        token = slack_token()
        if token:
            from alerting.notifiers.slack import SlackNotifier

            notifier = SlackNotifier(
                token, base_url=os.environ.get("SPENDWATCH_SLACK_BASE_URL") or config.slack_base_url,
                min_interval_s=config.min_post_interval_s, max_retries=config.slack_max_retries,
                backoff_s=config.slack_backoff_s,
                user_cache=(lambda e: nflog.cached_user(e, config.user_cache_ttl_s), nflog.cache_user))
        else:
            notifier = ConsoleNotifier(sys.stdout if config.console == "stdout" else config.console)
            log.info("no Slack token (SPENDWATCH_SLACK_TOKEN / SPENDWATCH_SLACK_TOKEN_FILE): alerts go to %s",
                     config.console)
    return AlertPipeline(router, nflog, notifier, config, store)


__all__ = ["AlertPipeline", "AlertingConfig", "build_alert_pipeline", "slack_token"]
