"""The deliver stage: the outbox to the notifier, in order, with retry.

For each message with calls due: the root post, then all pending edits as one (it renders the
current state), then all pending replies joined into one thread reply, so a storm's 40 resolves
cost one edit and one reply. A call is marked done only once the notifier said ok (the root's
Slack ``ts`` is stored first, so a crash after it never reposts). A failed call and the ones
after it stay in the outbox and are retried at the next delivery after an exponential backoff
(``retry_base_s`` doubling up to ``retry_max_s``; a permanent error waits ``retry_max_s``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import orjson

from alerting.nflog import NotificationLog
from alerting.notifiers.base import Notifier, NotifyError
from alerting.render import render_root
from alerting.routing import Router
from spendwatch.history import HistoryStore
from spendwatch.history.feedback import FeedbackLog

if TYPE_CHECKING:
    from alerting.pipeline import PipelineStats

log = logging.getLogger("alerting.pipeline")


class DeliverStage:
    """Delivers the notification log's outbox through ``notifier``."""

    def __init__(self, nflog: NotificationLog, router: Router, notifier: Notifier, stats: PipelineStats,
                 retry_base_s: float, retry_max_s: float, store: HistoryStore | None = None) -> None:
        self.nflog = nflog
        self.router = router
        self.notifier = notifier
        self.stats = stats
        self.retry_base_s = retry_base_s
        self.retry_max_s = retry_max_s
        self.store = store

    def deliver(self, now: float) -> None:
        """Every call due at ``now``, each message's in order."""
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
        """One message's calls: the post, then all edits as one, then all replies as one."""
        nf = self.nflog
        with nf.engine.connect() as conn:
            msg = nf.message(conn, key)
            members = nf.snapshots(conn, key)
        if msg is None or not members:
            with nf.engine.begin() as conn:
                nf.mark_done(conn, [o["seq"] for o in ops])
            return
        route = self.router.by_name.get(msg["route"])
        try:
            target = self.notifier.for_channel(msg["channel"])  # Slack mentions in Slack, plain names elsewhere
        except NotifyError:
            target = self.notifier  # an unknown receiver: the post below fails and is kept for retry
        mention = target.mention if (route is None or route.mention_owner) else (lambda o: o or "no owner")
        status = FeedbackLog(nf.engine).status(m["id"] for m in members)
        channel, slack_ts = msg["channel"], msg["slack_ts"]
        stages = [[o for o in ops if o["op"] == name] for name in ("post_root", "update_root", "reply")]
        stages = [batch for batch in stages if batch]
        for n, batch in enumerate(stages):
            op, seqs = batch[0]["op"], [o["seq"] for o in batch]
            try:
                if op == "post_root":
                    if slack_ts is None:
                        text, blocks = render_root(members, mention, status, now)
                        # an earlier try that may have been posted (a timeout after Slack accepted it):
                        # the notifier looks for that message (its key in the metadata) before posting
                        since = orjson.loads(batch[0]["payload"] or "{}").get("attempted_at")
                        slack_ts = self.notifier.post_once(channel, text, blocks, key, since)
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
                    text, blocks = render_root(members, mention, status, now)
                    self.notifier.update(channel, slack_ts, text, blocks)
                    self.stats.edited += 1
                else:
                    body = join_replies([orjson.loads(o["payload"]).get("text", "") for o in batch])
                    self.notifier.post(channel, body, None, thread_ts=slack_ts)
                    self.stats.replies += 1
                with nf.engine.begin() as conn:
                    nf.mark_done(conn, seqs)
            except NotifyError as exc:
                attempts = max(o["attempts"] for o in batch) + 1
                delay = self.retry_max_s if exc.permanent else \
                    min(self.retry_max_s, self.retry_base_s * 2 ** (attempts - 1))
                (log.error if exc.permanent else log.warning)(
                    "alert to %s not delivered (%s, attempt %d); kept, retrying in %.0fs", channel, exc, attempts,
                    delay)
                self.stats.failures += 1
                self.stats.errors.append(str(exc))
                rest = [o["seq"] for later in stages[n:] for o in later]
                with nf.engine.begin() as conn:
                    if op == "post_root" and exc.attempted_at is not None:
                        nf.note_attempt(conn, batch[0]["seq"], exc.attempted_at)
                    nf.mark_failed(conn, rest, str(exc), now + delay)
                return


def join_replies(texts: list[str], limit: int = 2800) -> str:
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
