"""Replay: the detector pipeline over a file of input events, without Kafka.

The same :class:`~detectors.engine.Engine` the stream worker runs, fed one JSON line at a
time in file order (the contract says the file is sorted by ``ts``). Bad lines are reported
with their line number and counted; they never reach a detector.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from detectors.engine import Engine
from spendwatch.errors import BadEvent
from spendwatch.events import decode


@dataclass
class ReplayStats:
    lines: int = 0
    events: int = 0
    bad: int = 0
    anomalies: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)


def replay_lines(lines: Iterable[bytes], engine: Engine, stats: ReplayStats,
                 on_bad: Callable[[int, str, bytes], None] | None = None) -> Iterator[dict[str, Any]]:
    """Yield every anomaly event the Engine emits while consuming ``lines`` (1-based numbering)."""
    process = engine.process
    for lineno, raw in enumerate(lines, 1):
        stats.lines = lineno
        raw = raw.strip()
        if not raw:
            continue
        try:
            event = decode(raw)
        except BadEvent as exc:
            stats.bad += 1
            head = exc.reason.split(":", 1)[0]
            stats.bad_by_reason[head] = stats.bad_by_reason.get(head, 0) + 1
            if on_bad is not None:
                on_bad(lineno, exc.reason, raw)
            continue
        stats.events += 1
        out = process(event)
        if out:
            stats.anomalies += len(out)
            yield from out
