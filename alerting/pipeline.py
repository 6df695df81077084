"""The alert pipeline: small stages composed, as Alertmanager's notify pipeline.

    anomaly ──► route   (alerting.routing: which channels, their thresholds)
            ──► dedup   (alerting.dedup: known here? a material change? from the notification log)
            ──► group   (alerting.group: same route + group_by values within group_wait_s → one message)
    flush(now) ──► group.close_due   (a storm of ≥ storm_min → one message with a list)
               ──► deliver           (alerting.deliver: post root, edit root, thread reply, in order;
                                      failures stay in the outbox and are retried with a backoff)

``handle`` only decides and writes the decision (one transaction); ``flush`` talks to Slack. The
worker or ``spendwatch alerter`` calls ``flush()`` every second or so; a batch run (``replay``,
``demo``) calls it once at the end. Grouping windows are in event time (the anomaly's ``ts``) so a
replayed storm groups the way a live one does; ``flush(now)`` compares due times with ``now``
(default: the pipeline's clock, the wall clock unless one is injected), so in a
batch run every group is due at the final flush.

Silences and feedback (``spendwatch.history.silences`` / ``.feedback``, same database): an anomaly
that an active silence matches is not posted (it is still recorded in the history); an update
of one already posted is not posted while it is silenced, snoozed or marked not a problem; its
resolution always is. The stage that decides is the dedup stage (``muted``); ``handle`` asks
the silences once per anomaly event, at the pipeline's clock.

Receivers: a route's ``channel`` is a Slack channel, ``webhook:NAME`` (``alerting.webhooks``) or
``email:ADDR`` (``alerting.smtp``); :class:`~alerting.notifiers.fanout.FanoutNotifier` delivers.

Nothing here reads the environment: :func:`build_alert_pipeline` takes an
:class:`~alerting.environment.AlertEnvironment` that the command line reads.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerting.dedup import DedupStage
from alerting.deliver import DeliverStage
from alerting.environment import AlertEnvironment, webhook_secret_var
from alerting.group import GroupStage
from alerting.nflog import NotificationLog
from alerting.notifiers.base import Notifier
from alerting.notifiers.console import ConsoleNotifier
from alerting.routing import Router, load_routes, parse_routes
from spendwatch.config import Settings
from spendwatch.errors import BadEvent, ConfigError
from spendwatch.history import HistoryStore, open_store
from spendwatch.history.feedback import FeedbackLog
from spendwatch.history.feedback import muted as muted_by
from spendwatch.history.silences import Silences
from spendwatch.teams import UNALLOCATED_TEAM, unallocated_team

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlertingConfig:
    """``alerting`` settings section. The deployment's environment (``SPENDWATCH_ROUTES``, the
    Slack token, ``SPENDWATCH_SLACK_BASE_URL``) comes in as an
    :class:`~alerting.environment.AlertEnvironment` and wins over ``routes_file`` / ``slack_base_url``."""

    routes_file: str | None = None
    route: dict[str, Any] | None = None           # the routing tree inline, instead of routes_file
    slack_base_url: str = "https://slack.com/api/"
    min_post_interval_s: float = 1.0               # per channel (Slack: ~1 message/s/channel)
    slack_max_retries: int = 3                     # slack-sdk retry handlers (429, 5xx, connection)
    slack_backoff_s: float = 0.5
    slack_timeout_s: int = 15                      # per Slack call; a post timed out is looked up, not re-posted
    retry_base_s: float = 5.0                      # outbox backoff after a call still failed
    retry_max_s: float = 300.0
    update_min_pct: float = 25.0
    update_min_usd: float = 5.0
    join_window_s: float = 3600.0                  # late members join a posted group this long
    user_cache_ttl_s: float = 86400.0
    console: str = "stdout"                        # stdout | stderr | log (console notifier)
    # receivers besides Slack: {NAME: {url, secret_file?, timeout_s?}} for channel "webhook:NAME"
    # (secret: SPENDWATCH_WEBHOOK_SECRET_<NAME> or secret_file); smtp: {host, port, sender, starttls,
    # ssl, username} for channel "email:ADDR" (password: SPENDWATCH_SMTP_PASSWORD[_FILE])
    webhooks: dict[str, Any] | None = None
    smtp: dict[str, Any] | None = None


@dataclass
class PipelineStats:
    handled: int = 0
    posted: int = 0
    edited: int = 0
    replies: int = 0
    failures: int = 0
    silenced: int = 0     # anomaly events not posted to a channel because a silence matched
    errors: list[str] = field(default_factory=list)


def _ts(a: Mapping[str, Any]) -> float:
    return float(a.get("ts") or a.get("resolved_at") or a.get("detected_at") or a.get("started_at") or 0.0)


class AlertPipeline:
    """Routes anomalies to channels and delivers them through ``notifier``, remembering in ``nflog``.

    ``now`` is the clock ``flush()`` uses when given no time (the wall clock by default)."""

    def __init__(self, router: Router, nflog: NotificationLog, notifier: Notifier,
                 config: AlertingConfig | None = None, store: HistoryStore | None = None,
                 now: Callable[[], float] = time.time) -> None:
        self.router = router
        self.nflog = nflog
        self.notifier = notifier
        self.config = config or AlertingConfig()
        self.store = store
        self.now = now
        self.stats = PipelineStats()
        c = self.config
        self.dedup = DedupStage(nflog, c.update_min_pct, c.update_min_usd)
        self.group = GroupStage(nflog, router, c.join_window_s)
        self.deliver = DeliverStage(nflog, router, notifier, self.stats, c.retry_base_s, c.retry_max_s, store)

    def handle(self, anomaly: Mapping[str, Any]) -> None:
        """Route one anomaly event and record what must be said (nothing is sent here)."""
        if not isinstance(anomaly, Mapping) or not isinstance(anomaly.get("id"), str) or "kind" not in anomaly:
            raise BadEvent(f"alerting: not an anomaly event: {str(anomaly)[:200]}")
        a = dict(anomaly)
        a.setdefault("ts", _ts(a))
        self.stats.handled += 1
        now = self.now()
        silences = Silences(self.nflog.engine, self.router.root.unallocated_team).matching(a, now)
        muted = f"silenced by {silences[0].id}" if silences else \
            muted_by(FeedbackLog(self.nflog.engine).status([a["id"]]).get(a["id"]), now)
        with self.nflog.engine.begin() as conn:
            for route in self.router.routes_for(a):
                if self.dedup.known(conn, route.channel, a, muted):
                    continue
                if a.get("state") == "resolved" or not route.qualifies(a):
                    continue  # never told, so nothing to resolve; or below this channel's thresholds
                if silences:
                    self.stats.silenced += 1
                    continue  # recorded in the history, not posted
                self.group.add(conn, route, a)

    def flush(self, now: float | None = None) -> None:
        """Close the groups whose wait is over and deliver every due call in the outbox."""
        now = self.now() if now is None else now
        self.group.close_due(now)
        self.deliver.deliver(now)

    def pending(self) -> int:
        """Calls in the outbox not yet delivered."""
        return self.nflog.pending_count()

    def close(self) -> None:
        self.notifier.close()
        if self.store is not None:
            self.store.close()


def build_router(config: AlertingConfig, environment: AlertEnvironment | None = None,
                 unallocated_team: str = UNALLOCATED_TEAM) -> Router:
    path = (environment.routes_file if environment else None) or config.routes_file
    if path:
        return load_routes(path, unallocated_team)
    return parse_routes(config.route or {}, "alerting.route", unallocated_team)


def build_alert_pipeline(settings: Settings | None = None, store_url: str | None = None,
                         notifier: Notifier | None = None, environment: AlertEnvironment | None = None,
                         now: Callable[[], float] = time.time) -> AlertPipeline:
    """The pipeline for these settings: Slack when ``environment`` has a token, else the console.

    The notification log lives in the history store at ``store_url`` (else ``SPENDWATCH_DB``, else
    the default SQLite file), so one database holds what happened and what was said about it.
    """
    settings = settings or Settings()
    env = environment or AlertEnvironment()
    config = settings.build(AlertingConfig, "alerting")
    unallocated = unallocated_team(settings)
    router = build_router(config, env, unallocated)
    store = open_store(store_url)
    nflog = NotificationLog(store.engine, now=now)
    if notifier is None:
        if env.slack_token:
            from alerting.notifiers.slack import SlackNotifier

            notifier = SlackNotifier(
                env.slack_token, base_url=env.slack_base_url or config.slack_base_url,
                min_interval_s=config.min_post_interval_s, max_retries=config.slack_max_retries,
                backoff_s=config.slack_backoff_s, timeout_s=config.slack_timeout_s,
                user_cache=(lambda e: nflog.cached_user(e, config.user_cache_ttl_s), nflog.cache_user))
        else:
            notifier = ConsoleNotifier(sys.stdout if config.console == "stdout" else config.console)
            log.info("no Slack token (SPENDWATCH_SLACK_TOKEN / SPENDWATCH_SLACK_TOKEN_FILE): alerts go to %s",
                     config.console)
        notifier = with_receivers(notifier, config, env)
    check_receivers(router, notifier)
    return AlertPipeline(router, nflog, notifier, config, store, now)


def with_receivers(chat: Notifier, config: AlertingConfig, env: AlertEnvironment) -> Notifier:
    """``chat`` alone, or a :class:`FanoutNotifier` with the configured webhooks and SMTP server."""
    if not config.webhooks and not config.smtp:
        return chat
    from alerting.notifiers.email import EmailNotifier
    from alerting.notifiers.fanout import FanoutNotifier
    from alerting.notifiers.webhook import WebhookNotifier

    webhooks: dict[str, Notifier] = {}
    for name, spec in (config.webhooks or {}).items():
        where = f"alerting.webhooks.{name}"
        if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
            raise ConfigError(f"{where}: expected {{url: https://..., secret_file: ...}}")
        unknown = sorted(set(spec) - {"url", "secret_file", "timeout_s"})
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: secret_file, timeout_s, url")
        secret = env.webhook_secret(name, spec.get("secret_file"))
        if not secret:
            raise ConfigError(f"{where}: no secret: set {webhook_secret_var(name)} or {where}.secret_file")
        try:
            webhooks[name] = WebhookNotifier(name, spec["url"], secret, float(spec.get("timeout_s", 10.0)))
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    email = None
    if config.smtp:
        s = dict(config.smtp)
        unknown = sorted(set(s) - {"host", "port", "sender", "username", "starttls", "ssl", "timeout_s"})
        if unknown or not isinstance(s.get("host"), str):
            raise ConfigError(f"alerting.smtp: needs host (and optionally port, sender, username, starttls, ssl, "
                              f"timeout_s){'; unknown: ' + ', '.join(unknown) if unknown else ''}")
        email = EmailNotifier(s["host"], int(s.get("port", 25)), str(s.get("sender", "spendwatch@localhost")),
                              s.get("username"), env.smtp_password, bool(s.get("starttls", False)),
                              bool(s.get("ssl", False)), float(s.get("timeout_s", 15.0)))
    return FanoutNotifier(chat, webhooks, email)


def check_receivers(router: Router, notifier: Notifier) -> None:
    """Every route's receiver exists (a typo in a routes file is an error at start, not a lost alert)."""
    from alerting.notifiers.base import NotifyError

    for route in router.by_name.values():
        try:
            notifier.for_channel(route.channel)
        except NotifyError as exc:
            raise ConfigError(f"route {route.name}: {exc}") from None


__all__ = ["AlertEnvironment", "AlertPipeline", "AlertingConfig", "build_alert_pipeline"]
