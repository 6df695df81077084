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
from alerting.environment import AlertEnvironment
from alerting.group import GroupStage
from alerting.nflog import NotificationLog
from alerting.notifiers.base import Notifier
from alerting.notifiers.console import ConsoleNotifier
from alerting.routing import Router, load_routes, parse_routes
from spendwatch.config import Settings
from spendwatch.errors import BadEvent
from spendwatch.history import HistoryStore, open_store

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
        with self.nflog.engine.begin() as conn:
            for route in self.router.routes_for(a):
                if self.dedup.known(conn, route.channel, a):
                    continue
                if a.get("state") == "resolved" or not route.qualifies(a):
                    continue  # never told, so nothing to resolve; or below this channel's thresholds
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


def build_router(config: AlertingConfig, environment: AlertEnvironment | None = None) -> Router:
    path = (environment.routes_file if environment else None) or config.routes_file
    if path:
        return load_routes(path)
    return parse_routes(config.route or {}, "alerting.route")


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
    router = build_router(config, env)
    store = open_store(store_url)
    nflog = NotificationLog(store.engine, now=now)
    if notifier is None:
        if env.slack_token:
            from alerting.notifiers.slack import SlackNotifier

            notifier = SlackNotifier(
                env.slack_token, base_url=env.slack_base_url or config.slack_base_url,
                min_interval_s=config.min_post_interval_s, max_retries=config.slack_max_retries,
                backoff_s=config.slack_backoff_s,
                user_cache=(lambda e: nflog.cached_user(e, config.user_cache_ttl_s), nflog.cache_user))
        else:
            notifier = ConsoleNotifier(sys.stdout if config.console == "stdout" else config.console)
            log.info("no Slack token (SPENDWATCH_SLACK_TOKEN / SPENDWATCH_SLACK_TOKEN_FILE): alerts go to %s",
                     config.console)
    return AlertPipeline(router, nflog, notifier, config, store, now)


__all__ = ["AlertEnvironment", "AlertPipeline", "AlertingConfig", "build_alert_pipeline"]
