"""Replay: the detector pipeline over a file of input events, without Kafka.

The same :class:`~detectors.engine.Engine` the stream worker runs (:mod:`streams.consumer`),
fed in ``ts`` order. The contract says the file is sorted by ``ts``; a file that is not (a
collector that does not sort) is sorted within a bounded window of event time (``reorder_s``,
an hour by default): valid events wait in a heap until the newest ``ts`` read is that far past
theirs, then go to the Engine in ``ts`` order (file order among equal ``ts``). A sorted file goes
through unchanged. Events that arrive out of order are counted (``ReplayStats.reordered``); one
older than what the window already released is counted apart (``too_late``) and still goes to
the Engine, whose detectors take late data as the worker does; the summary says so. Lines are
decoded as the worker decodes records (:func:`streams.intake.decode_or_reject`); bad lines are
reported with their line number and counted; they never reach a detector.

- :func:`replay_lines`: the loop, for any iterable of lines (the demo, tests, benchmarks);
- :func:`replay_stream`: what ``spendwatch replay`` runs: settings in, anomaly events written
  as JSON lines, insight events (structural waste: reported, not paged) to their own file when
  asked for, both optionally recorded in the history store.

The Engine's output holds both kinds of event, told apart by ``type``; :func:`replay_lines`
yields both, and :func:`replay_stream` routes them: anomalies to ``out`` (the contract's
incident stream), insights to ``insights`` (never to ``out``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.contract import INSIGHT
from spendwatch.errors import BadEvent
from spendwatch.events import MAX_EVENT_BYTES, encode
from streams.intake import decode_or_reject

if TYPE_CHECKING:
    from spendwatch.history.spend import SpendRollup
    from spendwatch.history.usage import UsageRollup


@dataclass
class ReplayStats:
    lines: int = 0
    events: int = 0
    bad: int = 0
    anomalies: int = 0  # anomaly events emitted (insight events are counted apart)
    insights: int = 0
    bad_by_reason: dict[str, int] = field(default_factory=dict)
    reordered: int = 0  # valid events read after an event with a later ts (sorted within the window)
    too_late: int = 0  # ... older than what the window had already released (processed late)

DEFAULT_REORDER_S = 3600.0


def bounded_lines(src: IO[bytes], limit: int = MAX_EVENT_BYTES) -> Iterator[bytes]:
    """The lines of ``src``, none held longer than ``limit`` + 1 bytes: the rest of a longer line is
    read and dropped (that line is bad input all the same), so one huge line never fills memory."""
    while True:
        line = src.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while True:  # skip to the end of this line
                rest = src.readline(1 << 20)
                if not rest or rest.endswith(b"\n"):
                    break
        yield line


def replay_lines(lines: Iterable[bytes], engine: Engine, stats: ReplayStats,
                 on_bad: Callable[[int, str, bytes], None] | None = None,
                 observe: Callable[[dict[str, Any]], None] | None = None,
                 reorder_s: float = DEFAULT_REORDER_S) -> Iterator[dict[str, Any]]:
    """Yield every anomaly and insight event the Engine emits while consuming ``lines`` (1-based
    numbering), the valid events sorted by ``ts`` within ``reorder_s`` of event time (0: file order).

    A line is bad input when it does not decode (:func:`streams.intake.decode_or_reject`) or when
    the Engine refuses its event (money above the limit, dated far ahead: it may say so later,
    naming the line); at the end of the input the Engine is flushed. ``observe`` (optional) sees
    every valid input event the Engine did not refuse at once (the hourly spend rollup of
    ``--history`` uses it). An event dated further ahead of the newest so far than both the window
    and the Engine's far-ahead floor goes to the Engine straight away (it judges it; it must not
    drag the sorting window along with it)."""
    process = engine.process
    far_ahead = max(engine.config.max_future_s, reorder_s) if engine.config.max_future_s > 0 else float("inf")
    heap: list[tuple[float, int, dict[str, Any], bytes]] = []  # (ts, line, event, raw)
    newest = released = float("-inf")
    jumped: float | None = None  # the last event sent on at once as far ahead

    def feed(event: dict[str, Any], lineno: int, raw: bytes) -> list[dict[str, Any]]:
        out = process(event, (lineno, raw))
        if engine.rejected and _refused(engine, stats, on_bad, lineno):
            pass  # refused at once: not observed
        elif observe is not None:
            observe(event)
        if out:
            _count(stats, out)
        return out

    for lineno, raw in enumerate(lines, 1):
        stats.lines = lineno
        raw = raw.strip()
        if not raw:
            continue
        event = decode_or_reject(raw)
        if isinstance(event, BadEvent):
            _bad(stats, on_bad, lineno, event.reason, raw)
            continue
        stats.events += 1
        ts = event["ts"]
        if ts < newest:
            stats.reordered += 1
            if ts < released:
                stats.too_late += 1
        elif reorder_s > 0 and newest > float("-inf") and ts - newest > far_ahead \
                and not (jumped is not None and ts >= jumped - reorder_s):
            # dated in the future (the Engine refuses it) or after a silence longer than the window
            # (a model retried with back-off, daily billing): either way everything the window holds
            # is older and goes to the Engine first, in order. Held back, it would reach the Engine
            # after this event: a retry loop resolved as stopped while its next retries waited here
            while heap:
                t, n, ev, r = heapq.heappop(heap)
                released = max(released, t)
                yield from feed(ev, n, r)
            jumped = ts
            yield from feed(event, lineno, raw)
            continue
        else:
            newest, jumped = ts, None  # an event near the last far-ahead one: the stream moved on, sort from here
        if reorder_s <= 0:
            yield from feed(event, lineno, raw)
            continue
        heapq.heappush(heap, (ts, lineno, event, raw))
        horizon = newest - reorder_s
        while heap and heap[0][0] <= horizon:
            t, n, ev, r = heapq.heappop(heap)
            released = max(released, t)
            yield from feed(ev, n, r)
    while heap:
        _, n, ev, r = heapq.heappop(heap)
        yield from feed(ev, n, r)
    out = engine.flush()
    if engine.rejected:
        _refused(engine, stats, on_bad, -1)
    _count(stats, out)
    yield from out


def _bad(stats: ReplayStats, on_bad: Callable[[int, str, bytes], None] | None, lineno: int, reason: str,
         raw: bytes) -> None:
    stats.bad += 1
    head = reason.split(":", 1)[0]
    stats.bad_by_reason[head] = stats.bad_by_reason.get(head, 0) + 1
    if on_bad is not None:
        on_bad(lineno, reason, raw)


def _refused(engine: Engine, stats: ReplayStats, on_bad: Callable[[int, str, bytes], None] | None,
             current: int) -> bool:
    """Report what the Engine refused; True when the event of line ``current`` is among it."""
    now = False
    for r in engine.take_rejected():
        lineno, raw = r.ref
        now = now or lineno == current
        stats.events -= 1
        _bad(stats, on_bad, lineno, r.reason, raw)
    return now


def _count(stats: ReplayStats, out: list[dict[str, Any]]) -> None:
    n = sum(1 for a in out if a["type"] == INSIGHT)
    stats.insights += n
    stats.anomalies += len(out) - n


@dataclass
class ReplayResult:
    """What a replay did: its counts, anomalies still open at the end, what it recorded and how long it took."""

    stats: ReplayStats
    still_open: int
    elapsed_s: float
    recorded: int | None = None  # anomaly and insight events that changed the history store (None: not recording)
    store_url: str | None = None  # where they were recorded (password hidden)
    counters: dict[str, int] = field(default_factory=dict)  # what detectors set aside, by reason
    input_end_ts: float | None = None  # the input's end in event time (the Engine's watermark); None: no events
    closed_at_end: int = 0  # open ones recorded in the history as resolved "ended_with_input"


ENDED_WITH_INPUT = "ended_with_input"


def ended_with_input(events: Iterable[dict[str, Any]], end_ts: float) -> list[dict[str, Any]]:
    """A ``resolved`` event for each anomaly (or insight) whose last event in ``events`` is open:
    resolved at ``end_ts`` (the input's last event time), ``evidence.resolution = "ended_with_input"``.

    For the history store only: a replayed file ends, the problems in it do not go on burning
    money in the history afterwards (a query months later must not show one "open 252 d"). The
    figures stay as last published (waste so far, $/day when the input ended)."""
    last: dict[str, dict[str, Any]] = {}
    for e in events:
        last[str(e["id"])] = e
    closed = []
    for a in last.values():
        if a.get("state") != "open":
            continue
        evidence = dict(a.get("evidence") or {})
        evidence["resolution"] = ENDED_WITH_INPUT
        closed.append({**a, "state": "resolved", "resolved_at": max(end_ts, float(a["started_at"])),
                       "ts": max(end_ts, float(a.get("ts") or end_ts)), "evidence": evidence})
    return closed


def replay_stream(lines: Iterable[bytes], settings: Settings, out: IO[bytes],
                  on_bad: Callable[[int, str, bytes], None] | None = None,
                  history: str | None = None, stats: ReplayStats | None = None,
                  reorder_s: float = DEFAULT_REORDER_S, insights: IO[bytes] | None = None,
                  close_at_end: bool = True,
                  on_event: Callable[[dict[str, Any]], None] | None = None) -> ReplayResult:
    """Run the default Engine over ``lines`` and write every anomaly event to ``out`` as a JSON line,
    and every insight event to ``insights`` (dropped when None: never to ``out``).

    ``history``: None records nothing; a URL (or "" for the default store, see
    :func:`spendwatch.history.open_store`) records every anomaly event there once the input is
    done; with ``close_at_end`` (default) what is still open when the input ends is recorded as
    resolved then (:func:`ended_with_input`; ``out`` gets only what the Engine published, as the
    contract says). ``stats`` is updated as lines are read (a progress display may watch it). An ``OSError``
    while reading ``lines`` propagates (the caller says the file cannot be read).
    """
    engine = Engine(settings)
    stats = stats if stats is not None else ReplayStats()
    kept: list[dict[str, Any]] | None = [] if history is not None else None
    rollup: SpendRollup | None = None
    usage: UsageRollup | None = None
    if history is not None:  # imported here: the store's SQLAlchemy is not needed otherwise
        from spendwatch.history.spend import SpendRollup
        from spendwatch.history.usage import UsageRollup

        rollup, usage = SpendRollup(), UsageRollup(engine.context.prices)

    def observe(event: dict[str, Any]) -> None:
        assert rollup is not None and usage is not None
        rollup.add(event)
        usage.add(event)

    t0 = time.perf_counter()
    for anomaly in replay_lines(lines, engine, stats, on_bad, observe if rollup is not None else None,
                                reorder_s=reorder_s):
        target = insights if anomaly["type"] == INSIGHT else out
        if target is not None:
            target.write(encode(anomaly))
            target.write(b"\n")
        if kept is not None:
            kept.append(anomaly)
        if on_event is not None:
            on_event(anomaly)
    end = engine.watermark if math.isfinite(engine.watermark) else None
    result = ReplayResult(stats, len(engine.open_anomaly_ids), 0.0, counters=dict(engine.counters), input_end_ts=end)
    if kept is not None:
        from spendwatch.history import open_store

        if close_at_end and end is not None:
            closed = ended_with_input(kept, end)
            kept.extend(closed)
            result.closed_at_end = len(closed)
        with open_store(history or None) as store:
            result.recorded = store.record_many(kept)
            if rollup is not None and usage is not None:
                store.spend.write(rollup)
                store.usage.write(usage)
            result.store_url = store.safe_url
    result.elapsed_s = time.perf_counter() - t0
    return result
