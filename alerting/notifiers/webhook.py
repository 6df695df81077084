"""A generic webhook: each post, edit and thread reply as one signed JSON POST.

Body (UTF-8 JSON)::

    {"type": "spendwatch.alert", "event": "post" | "update" | "reply", "receiver": NAME,
     "id": MESSAGE_ID, "thread_id": ROOT_ID or null, "text": "...", "blocks": [Block Kit],
     "sent_at": EPOCH}

Headers: ``X-Spendwatch-Timestamp: <epoch seconds>`` and
``X-Spendwatch-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body with the secret>``;
a receiver recomputes it (:func:`signature`), compares in constant time and rejects old
timestamps, as Slack's own signing scheme does. ``id`` of a post is generated here and returned
as the message's ``ts``, so edits and replies name the message they belong to.

A 2xx answer is delivered; anything else (or no answer) is a :class:`NotifyError` that the
pipeline's outbox retries (4xx other than 408/429 as permanent). The secret is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import orjson

from alerting.notifiers.base import Notifier, NotifyError
from alerting.render import console_text

SIGNATURE_HEADER = "X-Spendwatch-Signature"
TIMESTAMP_HEADER = "X-Spendwatch-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` with ``secret``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={mac}"


class WebhookNotifier(Notifier):
    """POSTs alerts to ``url`` signed with ``secret``; ``name`` is the receiver's name in routes."""

    def __init__(self, name: str, url: str, secret: str, timeout_s: float = 10.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook {name}: url must be http:// or https://, got {url[:40]!r}")
        self.name, self.url, self.timeout_s = name, url, timeout_s
        self._secret = secret

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.name!r}, {self.url!r}, secret=<hidden>)"

    def _send(self, event: str, message_id: str, thread_id: str | None, text: str,
              blocks: list[dict[str, Any]] | None) -> None:
        body = orjson.dumps({"type": "spendwatch.alert", "event": event, "receiver": self.name, "id": message_id,
                             "thread_id": thread_id, "text": console_text(text), "blocks": blocks or [],
                             "sent_at": round(time.time(), 3)})
        ts = str(int(time.time()))
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": "spendwatch-webhook",
            TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: signature(self._secret, ts, body)})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - configured URL
                resp.read()
        except urllib.error.HTTPError as exc:
            raise NotifyError(f"webhook {self.name}: HTTP {exc.code}",
                              permanent=400 <= exc.code < 500 and exc.code not in (408, 429)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise NotifyError(f"webhook {self.name}: {type(exc).__name__}: {reason}") from None

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        message_id = f"wh-{uuid.uuid4().hex}"
        self._send("reply" if thread_ts else "post", message_id, thread_ts, text, blocks)
        return message_id

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self._send("update", ts, None, text, blocks)
