"""The notifier interface: the one adapter between the alert pipeline and a chat system."""

from __future__ import annotations

import abc
from typing import Any

from spendwatch.errors import ExternalError


class NotifyError(ExternalError):
    """A chat call failed. The pipeline keeps the call in its outbox and retries it later.

    ``permanent`` marks errors a retry will not fix by itself (bad channel, revoked token): they are
    still kept and retried, at the longest backoff, and logged as errors so someone fixes them.
    ``attempted_at`` (wall clock) is set when a post may have reached the receiver although it
    failed here (a timeout after sending, a 5xx): the retry looks for that post before posting again.
    """

    def __init__(self, message: str, permanent: bool = False, attempted_at: float | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.attempted_at = attempted_at


class Notifier(abc.ABC):
    """Posts, edits and threads messages. Implementations raise :class:`NotifyError` on failure."""

    @abc.abstractmethod
    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        """Post a message (a thread reply when ``thread_ts`` is given); returns its ts."""

    def post_once(self, channel: str, text: str, blocks: list[dict[str, Any]] | None, key: str,
                  since: float | None = None) -> str:
        """Post a root message that must exist once: ``key`` names it, and ``since`` (wall clock) says an
        earlier attempt from then on may have reached the receiver. A receiver that can look its own
        messages up (Slack) returns the one already posted; the others just post."""
        return self.post(channel, text, blocks)

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
