"""A notifier that prints readable alerts: used when no Slack token is configured (the demo)."""

from __future__ import annotations

import itertools
import logging
import sys
from typing import IO, Any

from alerting.notifiers.base import Notifier
from alerting.render import blocks_to_text, console_text

log = logging.getLogger("spendwatch.alerts")


class ConsoleNotifier(Notifier):
    """Writes each post, edit and thread reply to ``stream`` (default stdout), or to the log.

    ``stream="log"`` sends them to the ``spendwatch.alerts`` logger at INFO instead.
    """

    def __init__(self, stream: IO[str] | str | None = None) -> None:
        if stream == "stderr":
            stream = sys.stderr
        self.stream: IO[str] | str | None = stream
        self._seq = itertools.count(1)

    def _emit(self, text: str) -> None:
        if self.stream == "log":
            log.info("%s", text)
            return
        out = self.stream if not isinstance(self.stream, str) and self.stream is not None else sys.stdout
        out.write(text + "\n")
        out.flush()

    def post(self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None,
             thread_ts: str | None = None) -> str:
        ts = f"console.{next(self._seq):06d}"
        body = blocks_to_text(blocks) if blocks else console_text(text)
        if thread_ts:
            self._emit(f"[{channel}] ↳ (thread {thread_ts}) {body}")
        else:
            bar = "─" * 72
            self._emit(f"{bar}\n[{channel}] ALERT {ts}\n{body}")
        return ts

    def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        first = (blocks_to_text(blocks) if blocks else console_text(text)).splitlines()[0]
        self._emit(f"[{channel}] ✎ updated {ts}: {first}")
