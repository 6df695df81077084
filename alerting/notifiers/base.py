"""The notifier interface: the one adapter between the alert pipeline and a chat system."""

from __future__ import annotations

import abc
from typing import Any

from spendwatch.errors import ExternalError


class NotifyError(ExternalError):
    """A chat call failed. The pipeline keeps the call in its outbox and retries it later.

    ``permanent`` marks errors a retry will not fix by itself (bad channel, revoked token): they are
    still kept and retried, at the longest backoff, and logged as errors so someone fixes them.
    """

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Notifier(abc.ABC):
    """Posts, edits and threads messages. Implementations raise :class:`NotifyError` on failure."""

    @abc.abstractmethod
    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        """Post a message (a thread reply when ``thread_ts`` is given); returns its ts."""

    @abc.abstractmethod
    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Replace the content of message ``ts``."""

    def mention(self, owner: str | None) -> str:
        """How to name an owner in a message (a Slack mention where one can be made)."""
        return owner or "no owner"

    def for_channel(self, channel: str) -> Notifier:
        """The notifier that delivers to ``channel`` (itself; :class:`~alerting.notifiers.fanout.FanoutNotifier`
        picks by the channel's ``webhook:`` / ``email:`` prefix)."""
        return self

    def close(self) -> None:  # noqa: B027 - optional hook; most notifiers hold nothing to release
        """Release resources."""
