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
- A root post happens once (:meth:`SlackNotifier.post_once`): it carries message metadata
  (``event_type`` :data:`EVENT_TYPE`, ``event_payload.message_key``). When a post may have reached
  Slack without its answer reaching us (a timeout, a dropped connection, a 5xx), the notifier reads
  the channel's ``conversations.history`` (``include_all_metadata``) since that attempt and takes
  the message it finds instead of posting again; slack-sdk retries such root posts only for 429.
  This needs the ``channels:history`` / ``groups:history`` scopes (and ``channels:read`` /
  ``groups:read`` to find a channel's id by name); without them it logs an error and posts (a
  duplicate is better than a lost alert).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

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
EVENT_TYPE = "spendwatch_alert"  # message metadata of every root post: finds a post whose answer was lost
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_SKEW_S = 120.0  # Slack's clock against ours, when reading history since an attempt
_HISTORY_PAGES = 20


def maybe_delivered(exc: BaseException) -> bool:
    """Whether a failed call may still have been carried out by Slack: not when Slack answered with
    an error (``ok: false``) or a 429, nor when no connection was made; yes for a timeout, a dropped
    connection, a 5xx and anything unknown."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code if exc.response is not None else 0
        return status >= 500
    if isinstance(exc, URLError) and isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
        return False
    return not isinstance(exc, ConnectionRefusedError | socket.gaierror)


class SlackLookupError(Exception):
    """A channel the app cannot find by name (so it cannot read its history)."""


def _notify_error(what: str, exc: BaseException) -> NotifyError:
    if isinstance(exc, SlackApiError):
        error = str(exc.response.get("error", "")) if exc.response is not None else ""
        status = exc.response.status_code if exc.response is not None else 0
        return NotifyError(f"Slack {what} failed: HTTP {status} {error}".rstrip(), permanent=error in _PERMANENT)
    return NotifyError(f"Slack {what} failed: {exc.__class__.__name__}: {exc}")


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
        # root posts: no retry inside slack-sdk but for 429 (a retried post that Slack had carried out
        # would be a second message); post_once retries them itself, looking first.
        self._post_client = WebClient(token=token, base_url=base_url, timeout=timeout_s, retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=max_retries)])
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._channel_ids: dict[str, str] = {}
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
        except Exception as exc:  # noqa: BLE001 - network errors of every kind are retried later
            raise _notify_error(what, exc) from None

    def post_once(self, channel: str, text: str, blocks: list[dict[str, Any]] | None, key: str,
                  since: float | None = None) -> str:
        """Post a root message keyed ``key`` unless it is in the channel already (see the module doc)."""
        kw: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False, **_LITERAL,
                              "metadata": {"event_type": EVENT_TYPE, "event_payload": {"message_key": key}}}
        if blocks:
            kw["blocks"] = blocks
        error: NotifyError | None = None
        for attempt in range(self.max_retries + 1):
            if since is not None:
                found = self.find_posted(channel, key, since)
                if found is not None:
                    log.info("Slack had posted %s to %s (ts %s) though its answer was lost; not posting again",
                             key[:12], channel, found)
                    return found
            if attempt:
                self._sleep(self.backoff_s * 2 ** (attempt - 1))
            self._pace(channel)
            started = time.time()
            try:
                resp = self._post_client.chat_postMessage(**kw)
            except Exception as exc:  # noqa: BLE001 - sorted below: retried here, or kept by the outbox
                error = _notify_error("chat.postMessage", exc)
                if not maybe_delivered(exc):
                    raise error from None
                since = started if since is None else since
                error.attempted_at = since
                log.warning("Slack chat.postMessage to %s may have been posted (%s); looking before a retry",
                            channel, error)
                continue
            if resp.get("channel"):
                self._channel_ids.setdefault(channel, str(resp["channel"]))
            return str(resp["ts"])
        assert error is not None
        raise error

    def find_posted(self, channel: str, key: str, since: float) -> str | None:
        """The ts of the root message keyed ``key`` posted to ``channel`` since ``since`` (wall clock), or
        None. Raises :class:`NotifyError` (``attempted_at``: ``since``) when Slack cannot tell now; returns
        None, logged as an error, when it never can (missing scope, no access): then a post goes out."""
        try:
            channel_id = self._channel_id(channel)
            if channel_id is None:
                raise SlackLookupError(f"no channel {channel!r} among the channels the app can read")
            cursor = None
            for _ in range(_HISTORY_PAGES):
                resp = self.client.conversations_history(channel=channel_id, oldest=f"{since - _SKEW_S:.6f}",
                                                         include_all_metadata=True, limit=200, cursor=cursor)
                for m in resp.get("messages") or []:
                    meta = m.get("metadata") or {}
                    if meta.get("event_type") == EVENT_TYPE and \
                            (meta.get("event_payload") or {}).get("message_key") == key:
                        return str(m["ts"])
                cursor = (resp.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    return None
            return None
        except (SlackLookupError, SlackApiError) as exc:
            err = _notify_error("conversations.history", exc)
            if isinstance(exc, SlackApiError) and not err.permanent and maybe_delivered(exc):
                err.attempted_at = since
                raise err from None
            log.error("cannot look for an earlier post to %s (%s); posting it, maybe twice", channel, exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a network error: the outbox asks again later
            err = _notify_error("conversations.history", exc)
            err.attempted_at = since
            raise err from None

    def _channel_id(self, channel: str) -> str | None:
        """A channel's id: as given, learnt from an earlier post's answer, or found by name."""
        if _CHANNEL_ID.match(channel):
            return channel
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        name, cursor = channel.lstrip("#"), None
        for _ in range(_HISTORY_PAGES):
            resp = self.client.conversations_list(types="public_channel,private_channel", exclude_archived=True,
                                                  limit=1000, cursor=cursor)
            for c in resp.get("channels") or []:
                if c.get("name") == name:
                    self._channel_ids[channel] = str(c["id"])
                    return str(c["id"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

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
