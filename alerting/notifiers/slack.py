"""Slack through slack-sdk's ``WebClient``: chat.postMessage, chat.update, users.lookupByEmail.

- Retries: slack-sdk's retry handlers do the immediate ones: HTTP 429 waits for ``Retry-After``
  (``RateLimitErrorRetryHandler``), 5xx (``ServerErrorRetryHandler``) and connection errors
  (``ConnectionErrorRetryHandler``) back off and retry. What still fails becomes a
  :class:`NotifyError` and the pipeline's outbox retries it later; nothing is dropped.
- Pace: at most one write (post or edit) per second per channel, Slack's documented limit for
  chat.postMessage, so a storm of updates does not earn 429s in the first place.
- Mentions: an owner that is a Slack user id (``U…``/``W…``) is mentioned as is; an e-mail is
  looked up once with users.lookupByEmail and cached in the notification log's database.
- The bot token is never logged: it lives only inside the WebClient, and ``repr`` hides it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from alerting.notifiers.base import Notifier, NotifyError

log = logging.getLogger(__name__)

_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# Errors a retry does not fix by itself; still retried (slowly) so a fixed config delivers them.
_PERMANENT = {"channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive",
              "token_revoked", "missing_scope", "not_authed", "invalid_blocks", "msg_too_long"}

# Slack links no names and parses no text itself: a plain "@channel" or "#general" in an event stays text
# (the renderer escapes "<!channel>" and links; see alerting.render.escape).
_LITERAL: dict[str, Any] = {"parse": "none", "link_names": False}


class SlackNotifier(Notifier):
    """A :class:`Notifier` on Slack's Web API.

    ``user_cache`` is ``(get, put)`` for the e-mail → user id cache (the pipeline passes the
    notification log's); ``min_interval_s`` is the pace per channel.
    """

    def __init__(self, token: str, base_url: str = WebClient.BASE_URL, min_interval_s: float = 1.0,
                 max_retries: int = 3, backoff_s: float = 0.5, timeout_s: int = 15,
                 user_cache: tuple[Callable[[str], tuple[bool, str | None]],
                                   Callable[[str, str | None], None]] | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_s)
        self.client = WebClient(token=token, base_url=base_url, timeout=timeout_s, retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=max_retries),
            ServerErrorRetryHandler(max_retry_count=max_retries, interval_calculator=backoff),
            ConnectionErrorRetryHandler(max_retry_count=max_retries, interval_calculator=backoff),
        ])
        self.base_url = base_url
        self.min_interval_s = min_interval_s
        self._last_write: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sleep, self._clock = sleep, clock
        self._users: dict[str, str | None] = {}
        self._user_cache = user_cache

    def __repr__(self) -> str:
        return f"SlackNotifier(base_url={self.base_url!r}, token=<hidden>)"

    def _pace(self, channel: str) -> None:
        with self._lock:
            last = self._last_write.get(channel)
            if last is not None:
                wait = self.min_interval_s - (self._clock() - last)
                if wait > 0:
                    self._sleep(wait)
            self._last_write[channel] = self._clock()

    def _call(self, what: str, fn: Callable[..., Any], **kw: Any) -> Any:
        try:
            return fn(**kw)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "")) if exc.response is not None else ""
            status = exc.response.status_code if exc.response is not None else 0
            raise NotifyError(f"Slack {what} failed: HTTP {status} {error}".rstrip(),
                              permanent=error in _PERMANENT) from None
        except Exception as exc:  # noqa: BLE001 - network errors of every kind are retried later
            raise NotifyError(f"Slack {what} failed: {exc.__class__.__name__}: {exc}") from None

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        self._pace(channel)
        kw: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False, **_LITERAL}
        if blocks:
            kw["blocks"] = blocks
        if thread_ts:
            kw["thread_ts"] = thread_ts
        resp = self._call("chat.postMessage", self.client.chat_postMessage, **kw)
        return str(resp["ts"])

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._pace(channel)
        kw: dict[str, Any] = {"channel": channel, "ts": ts, "text": text, **_LITERAL}
        if blocks:
            kw["blocks"] = blocks
        self._call("chat.update", self.client.chat_update, **kw)

    def mention(self, owner: str | None) -> str:
        if not owner:
            return "no owner"
        if _USER_ID.match(owner):
            return f"<@{owner}>"
        if "@" not in owner:
            return owner
        user = self._lookup(owner)
        return f"<@{user}>" if user else owner

    def _lookup(self, email: str) -> str | None:
        if email in self._users:
            return self._users[email]
        if self._user_cache is not None:
            known, user = self._user_cache[0](email)
            if known:
                self._users[email] = user
                return user
        try:
            resp = self.client.users_lookupByEmail(email=email)
            user = str(resp["user"]["id"])
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else None
            if error != "users_not_found":
                log.warning("Slack users.lookupByEmail failed (%s); mentioning the owner by e-mail", error)
                return None  # not cached: try again next time
            user = None
        except Exception as exc:  # noqa: BLE001 - a failed lookup must not block the alert
            log.warning("Slack users.lookupByEmail failed (%s); mentioning the owner by e-mail", exc)
            return None
        self._users[email] = user
        if self._user_cache is not None:
            self._user_cache[1](email, user)
        return user

    def close(self) -> None:
        self._users.clear()
