"""One notifier in front of several: the route's channel says which receives a message.

- ``webhook:NAME``: the webhook named ``NAME`` in ``alerting.webhooks``;
- ``email:ADDR[,ADDR]``: e-mail through ``alerting.smtp``;
- anything else (``#channel``, a channel id): the chat notifier (Slack, else the console).

So one routing tree sends to Slack, webhooks and e-mail alike; the pipeline's stages do not know
the difference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerting.notifiers.base import Notifier, NotifyError


class FanoutNotifier(Notifier):
    def __init__(self, chat: Notifier, webhooks: Mapping[str, Notifier] | None = None,
                 email: Notifier | None = None) -> None:
        self.chat = chat
        self.webhooks = dict(webhooks or {})
        self.email = email

    def for_channel(self, channel: str) -> Notifier:
        if channel.startswith("webhook:"):
            name = channel.split(":", 1)[1]
            if name not in self.webhooks:
                raise NotifyError(f"no webhook {name!r} in alerting.webhooks (channel {channel!r})", permanent=True)
            return self.webhooks[name]
        if channel.startswith("email:"):
            if self.email is None:
                raise NotifyError(f"channel {channel!r}: alerting.smtp is not configured", permanent=True)
            return self.email
        return self.chat

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        return self.for_channel(channel).post(channel, text, blocks, thread_ts)

    def post_once(self, channel: str, text: str, blocks: list[dict[str, Any]] | None, key: str,
                  since: float | None = None) -> str:
        return self.for_channel(channel).post_once(channel, text, blocks, key, since)

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        self.for_channel(channel).update(channel, ts, text, blocks)

    def mention(self, owner: str | None) -> str:
        return self.chat.mention(owner)

    def close(self) -> None:
        for n in (self.chat, *self.webhooks.values(), *([self.email] if self.email else [])):
            n.close()
