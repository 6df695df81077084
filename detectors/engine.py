"""The Engine: one event-time pipeline from validated events to anomaly events.

Both drivers use it unchanged: ``spendwatch replay`` feeds it a file, the stream worker feeds
it Kafka batches (one Engine per input partition number, since every input topic is keyed by
the key its detectors use). The Engine owns:

- per-key detector instances (created on the first event for a key);
- the watermark (the largest event ``ts`` seen) and the event-time ticks of detectors that
  asked for them;
- the anomaly lifecycle: the first active finding of a problem opens an anomaly with a stable
  id (:func:`~spendwatch.anomaly.anomaly_id` of kind, resource, start), later findings
  re-publish it only on a material change, and the end resolves it exactly once;
- severity by dollars: a finding that sets no severity gets one from its projected dollars a
  day (:meth:`~detectors.base.DetectorContext.severity`);
- anomaly or insight: a finding of a kind its detector lists in ``insight_kinds`` (structural
  waste: reported, not paged) is published as an ``insight`` event (the anomaly's fields with
  ``"type": "insight"``) unless the ``insights.page`` setting names its kind. Drivers route by
  ``type``: anomalies to the anomaly stream, insights to the insight stream;
- the last word on bad input that needs settings or the stream's time (:meth:`process`): money
  above ``limits.max_event_usd``, and an event dated more than ``engine.max_future_s`` ahead of
  the watermark that the next event shows to be in the future. Both are counted in
  :attr:`counters` and handed to the driver by :meth:`take_rejected` with the ``ref`` it gave
  (replay: the line; the worker: the record), to report or dead-letter like any bad input;
- snapshots: :meth:`snapshot` / :meth:`restore` round-trip all of the above with pickle.
"""

from __future__ import annotations

import io
import logging
import pickle
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from detectors.base import Detector, DetectorContext, EngineConfig, InsightsConfig
from detectors.registry import default_detector_classes
from spendwatch.anomaly import INSIGHT_KINDS, OPEN, RESOLVED, Finding, anomaly_event, anomaly_id
from spendwatch.config import Settings
from spendwatch.contract import FEEDBACK
from spendwatch.errors import ConfigError
from spendwatch.events import MONEY_FIELDS, QUANTITY_FIELDS, LimitsConfig
from spendwatch.prices import PriceConfig, PriceTable

_INF = float("inf")
log = logging.getLogger(__name__)
# The far-ahead bound follows the stream's own cadence (engine.max_future_s is its floor): it is
# _GAP_FACTOR times the largest recent watermark step (decaying by _GAP_DECAY a step), and it
# applies once _WARM_STEPS steps have shown that cadence. A stream of nightly training runs then
# takes its day-long steps, a dense GPU stream is bounded at an hour.
_GAP_FACTOR = 4.0
_GAP_DECAY = 0.999
_WARM_STEPS = 50

SNAPSHOT_VERSION = 1
_RECENTLY_RESOLVED_MAX = 50_000
# Classes that moved since snapshots of this version were first written: (module, name) as pickled
# then -> where they live now, so a worker upgraded across the move restores instead of starting cold.
_MOVED_MODULES = {"detectors.spend_baseline": "detectors.stats.spend_baseline",
                  "detectors.drift_stats": "detectors.stats.drift_stats"}
_MOVED_CLASSES = {("detectors.cost_spike", "_Period"): ("detectors.stats.spend_periods", "SpendPeriod")}


class _SnapshotUnpickler(pickle.Unpickler):
    """Reads snapshots that name a class by a path it had before it moved."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = _MOVED_CLASSES.get((module, name), (_MOVED_MODULES.get(module, module), name))
        return super().find_class(module, name)


@dataclass(frozen=True, slots=True)
class Rejected:
    """An event the Engine refused as bad input: the driver's ``ref`` for it, the event, the reason."""

    ref: Any
    event: dict[str, Any]
    reason: str


@dataclass(slots=True)
class _Held:
    """An event dated far ahead of the watermark, waiting for the next event to tell."""

    ts: float
    event: dict[str, Any]
    ref: Any


@dataclass(slots=True)
class _OpenAnomaly:
    id: str
    detected_at: float
    waste_usd: float  # figures last published
    projected_daily_usd: float
    severity: str


class Engine:
    """Feeds validated events to detectors and owns the anomaly lifecycle."""

    def __init__(self, settings: Settings | None = None,
                 detector_classes: Sequence[type[Detector]] | None = None, scope: str = "") -> None:
        """``scope``: "" when this Engine sees every key (replay, the demo); the stream worker names
        the partition (``"p3"``), see :class:`~detectors.base.DetectorContext`."""
        self.settings = settings or Settings()
        self.config = self.settings.build(EngineConfig, "engine")
        self.limits = self.settings.build(LimitsConfig, "limits")
        lim = self.limits
        # per input type: (field, bound, what to say, counter) for every bounded number
        # per input type, every bounded number: (field, bound)
        self._bounds: dict[str, tuple[tuple[str, float], ...]] = {
            t: tuple((f, lim.max_event_usd) for f in MONEY_FIELDS[t])
            + tuple((f, lim.max_quantity) for f in QUANTITY_FIELDS[t]) for t in MONEY_FIELDS}
        self._max_future = self.config.max_future_s if self.config.max_future_s > 0 else _INF
        self.context = DetectorContext(self.config, PriceTable(self.settings.build(PriceConfig, "prices")), scope)
        classes = list(detector_classes) if detector_classes is not None else default_detector_classes()
        insights = self.settings.build(InsightsConfig, "insights")
        declared = {kind for cls in classes for kind in cls.insight_kinds}
        unknown = sorted(set(insights.page) - set(INSIGHT_KINDS))
        if unknown:
            raise ConfigError(f"{self.settings.source}: insights.page: unknown insight kind(s) {', '.join(unknown)}; "
                              f"known: {', '.join(INSIGHT_KINDS)}")
        self._insight_kinds = frozenset(declared - set(insights.page))  # published as insights
        self._classes = {cls.name: cls for cls in classes}
        self._configs: dict[str, Any] = {cls.name: self.settings.build(cls.config_cls, cls.name) for cls in classes}
        self._by_kind: dict[str, type[Detector]] = {kind: cls for cls in classes for kind in cls.kinds}
        self._by_type: dict[str, list[type[Detector]]] = {}
        for cls in classes:
            for etype in cls.event_types:
                self._by_type.setdefault(etype, []).append(cls)
        self._instances: dict[tuple[str, str], Detector] = {}
        self._ticking: dict[tuple[str, str], None] = {}  # insertion-ordered set, for determinism
        self._open: dict[tuple[str, str, str], _OpenAnomaly] = {}
        self._recently_resolved: OrderedDict[str, None] = OrderedDict()
        self.watermark = float("-inf")
        self._ahead_of = _INF  # watermark + the bound: an event past it is held (see process)
        self._gap_scale = 0.0  # the largest recent watermark step, decaying
        self._steps = 0  # watermark steps seen
        self._held: _Held | None = None
        self.rejected: list[Rejected] = []  # refused since the driver last took them
        self._next_tick = float("-inf")
        self.events_in = 0
        self.anomalies_out: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ driving
    def process(self, event: dict[str, Any], ref: Any = None) -> list[dict[str, Any]]:
        """Feed one validated event; return the anomaly events it caused (often none).

        Bad input only the Engine can tell is refused, never raised: it is counted and kept in
        :attr:`rejected` (see :meth:`take_rejected`) with ``ref``, the driver's handle on it.

        - money above ``limits.max_event_usd`` in a ``*_usd`` field, a quantity above
          ``limits.max_quantity``: refused at once;
        - ``ts`` far ahead of the watermark (more than ``engine.max_future_s``, or four times the
          stream's recent largest step if that is more, once 50 steps have shown the stream's
          cadence): held back until the next event. If that one is back at the stream's time
          (within the bound), the held event was dated in the future and is refused; if it is
          far ahead too (and not far behind the held one), the stream went quiet for a while:
          the held event is processed, then the new one is looked at the same way. :meth:`flush`
          processes a held event at the end of the input, :meth:`advance` when the driver's
          time has reached it.
        """
        for name, cap in self._bounds.get(event["type"], ()):
            v = event.get(name)
            if v is not None and not -cap <= v <= cap:
                setting, counter = (("limits.max_event_usd", "events_over_max_usd") if name.endswith("_usd")
                                    else ("limits.max_quantity", "events_over_max_quantity"))
                self._refuse(ref, event, f"{name}: {v} is beyond {setting} ({cap:g} per event)", counter)
                return []
        ts = event["ts"]
        if ts > self._ahead_of or self._held is not None:
            return self._far_ahead(event, ts, ref)
        return self._feed(event, ts, ref)

    def take_rejected(self) -> list[Rejected]:
        """The events refused since the last call, oldest first (the driver reports them)."""
        out, self.rejected = self.rejected, []
        return out

    @property
    def counters(self) -> dict[str, int]:
        """What the Engine and its detectors set aside, by reason (events dated ahead, ...)."""
        return self.context.counters

    def _refuse(self, ref: Any, event: dict[str, Any], reason: str, counter: str) -> None:
        self.context.count(counter)
        self.rejected.append(Rejected(ref, event, reason))

    def _far_ahead(self, event: dict[str, Any], ts: float, ref: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        held = self._held
        if held is not None:
            self._held = None
            if ts > self._ahead_of and ts >= held.ts - self._bound():
                out = self._feed(held.event, held.ts, held.ref)  # confirmed: the stream moved on
            else:
                self._refuse_held(held, "the next event was back at that time")
        if ts > self._ahead_of:
            self._held = _Held(ts, event, ref)
            return out
        out.extend(self._feed(event, ts, ref))
        return out

    def _detector_failed(self, name: str, key: str, exc: Exception, ref: Any, event: dict[str, Any] | None) -> None:
        """A detector raised: a bug (the event was valid). Counted and logged; the event, if it was
        one, is refused like bad input so the driver reports or dead-letters it and goes on. That
        key's state may be incomplete; every other key is untouched."""
        what = f"detector {name} failed on key {key[:200]!r}: {type(exc).__name__}: {str(exc)[:200]}"
        log.warning("%s (a bug; %s)", what, "reported as bad input" if event is not None else "in a tick")
        if event is None:
            self.context.count("detector_errors")
        else:
            self._refuse(ref, event, f"{event['type']}: {what}; that detector did not take it", "detector_errors")

    def _refuse_held(self, held: _Held, why: str) -> None:
        wm = self.watermark
        self._refuse(held.ref, held.event,
                     f"ts: {held.ts} is {held.ts - wm:,.0f} s ahead of this stream's event time {wm} "
                     f"(at most {self._bound():,.0f} s ahead, engine.max_future_s = {self._max_future:g}) "
                     f"and {why}: dated in the future?",
                     "events_dated_ahead")

    def _bound(self) -> float:
        """How far ahead of the watermark an event may be without being held."""
        if self._steps < _WARM_STEPS:
            return _INF
        return max(self._max_future, _GAP_FACTOR * self._gap_scale)

    def _step(self, now: float) -> None:
        """The watermark moves forward to ``now``."""
        if self.watermark > -_INF:
            self._gap_scale = max(now - self.watermark, self._gap_scale * _GAP_DECAY)
            self._steps += 1
        self.watermark = now
        self._ahead_of = now + self._bound()

    def flush(self) -> list[dict[str, Any]]:
        """End of the input: an event still held is the newest of the stream, so it is processed."""
        held, self._held = self._held, None
        return self._feed(held.event, held.ts, held.ref) if held is not None else []

    def _feed(self, event: dict[str, Any], ts: float, ref: Any) -> list[dict[str, Any]]:
        self.events_in += 1
        out: list[dict[str, Any]] = []
        wm = self.watermark
        if ts > wm:
            if wm > -_INF:  # _step, inlined: this runs for most events
                scale = self._gap_scale * _GAP_DECAY
                if ts - wm > scale:
                    scale = ts - wm
                self._gap_scale = scale
                self._steps += 1
                if self._steps >= _WARM_STEPS:
                    scale *= _GAP_FACTOR
                    self._ahead_of = ts + (scale if scale > self._max_future else self._max_future)
            self.watermark = ts
            if ts >= self._next_tick:
                out = self._tick(ts)
        if event["type"] == FEEDBACK:
            out.extend(self._feedback(event))
            return out
        key_fn: Any = None
        key: str | None = None
        for cls in self._by_type.get(event["type"], ()):
            if cls.key_of is not key_fn:  # detectors of one type mostly share the key: compute it once
                key_fn = cls.key_of
                key = key_fn(event)
            if key is None:
                continue
            ikey = (cls.name, key)
            inst = self._instances.get(ikey)
            if inst is None:
                inst = cls(key, self._configs[cls.name], self.context)
                self._instances[ikey] = inst
            try:
                findings = inst.process(event)
            except Exception as exc:  # noqa: BLE001 - a detector's bug must not stop the stream
                self._detector_failed(cls.name, key, exc, ref, event)
                continue
            if findings:
                out.extend(self._apply(findings))
            if inst.wants_tick:
                self._ticking[ikey] = None
        return out

    def _feedback(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Hand a person's verdict to the detector instance of the anomaly it is about."""
        cls = self._by_kind.get(event["kind"])
        if cls is None:
            self.context.count("feedback_unknown_kind")
            return []
        inst = self._instances.get((cls.name, event["key"]))
        if inst is None:
            self.context.count("feedback_no_state")  # nothing learnt about that key here (yet)
            return []
        findings = inst.feedback(event)
        if inst.wants_tick:
            self._ticking[(cls.name, event["key"])] = None
        return self._apply(findings) if findings else []

    def process_many(self, events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for event in events:
            out.extend(self.process(event))
        return out

    def advance(self, now: float) -> list[dict[str, Any]]:
        """Move the watermark to ``now`` (event time) without an event, e.g. an idle partition.

        An event held as far ahead (see :meth:`process`) is processed first when ``now`` has
        come within ``engine.max_future_s`` of it, and refused when it is still further ahead."""
        out: list[dict[str, Any]] = []
        held = self._held
        if held is not None and now > self.watermark:
            self._held = None
            if held.ts <= now + self._bound():
                out = self._feed(held.event, held.ts, held.ref)
            else:
                self._refuse_held(held, f"the stream's time went on to {now} without reaching it")
        if now <= self.watermark:
            return out
        self._step(now)
        if now >= self._next_tick:
            out.extend(self._tick(now))
        return out

    def _tick(self, now: float) -> list[dict[str, Any]]:
        interval = self.config.tick_interval_s
        self._next_tick = (now // interval + 1) * interval
        out: list[dict[str, Any]] = []
        instances = self._instances
        for ikey in list(self._ticking):
            inst = instances[ikey]
            if now < inst.tick_due:  # the detector said its tick does nothing before then
                continue
            try:
                findings = inst.tick(now)
            except Exception as exc:  # noqa: BLE001 - as in _feed: counted, logged, the others go on
                self._detector_failed(ikey[0], ikey[1], exc, None, None)
                del self._ticking[ikey]
                continue
            if findings:
                out.extend(self._apply(findings))
            if not inst.wants_tick:
                del self._ticking[ikey]
        return out

    # --------------------------------------------------------------- lifecycle
    def _apply(self, findings: list[Finding]) -> list[dict[str, Any]]:
        out = []
        for f in findings:
            if f.severity is None:
                f.severity = self.context.severity(f.projected_daily_usd)
            pk = f.problem_key
            cur = self._open.get(pk)
            if f.active:
                if cur is None:
                    aid = anomaly_id(f.kind, f.resource, f.started_at)
                    if aid in self._recently_resolved:
                        continue  # resolved once already: never reopen the same id
                    cur = _OpenAnomaly(aid, f.at, f.waste_usd, f.projected_daily_usd, f.severity)
                    self._open[pk] = cur
                    out.append(self._emit(cur, OPEN, f, None))
                elif f.notify or self._material(cur, f):
                    cur.waste_usd, cur.projected_daily_usd, cur.severity = \
                        f.waste_usd, f.projected_daily_usd, f.severity
                    out.append(self._emit(cur, OPEN, f, None))
            elif cur is not None:
                del self._open[pk]
                self._recently_resolved[cur.id] = None
                if len(self._recently_resolved) > _RECENTLY_RESOLVED_MAX:
                    self._recently_resolved.popitem(last=False)
                out.append(self._emit(cur, RESOLVED, f, f.at))
        return out

    def _material(self, cur: _OpenAnomaly, f: Finding) -> bool:
        if f.severity != cur.severity:
            return True
        pct, usd = self.config.update_min_change_pct / 100.0, self.config.update_min_change_usd
        for old, new in ((cur.waste_usd, f.waste_usd), (cur.projected_daily_usd, f.projected_daily_usd)):
            delta = abs(new - old)
            if delta >= usd and delta >= pct * abs(old):
                return True
        return False

    def _emit(self, cur: _OpenAnomaly, state: str, f: Finding, resolved_at: float | None) -> dict[str, Any]:
        k = (f.kind, state)
        self.anomalies_out[k] = self.anomalies_out.get(k, 0) + 1
        event = anomaly_event(cur.id, state, f, cur.detected_at, resolved_at, f.kind in self._insight_kinds)
        # `ts` is when the event was emitted, in event time: never before the watermark, so the
        # events of one anomaly are in order even when a detector dates its finding in the past
        # (a billing period that closed earlier). Consumers may order by it.
        if self.watermark > f.at:
            event["ts"] = round(self.watermark, 3)
        return event

    # ------------------------------------------------------------------- state
    @property
    def open_anomaly_ids(self) -> list[str]:
        return [a.id for a in self._open.values()]

    @property
    def insight_kinds(self) -> frozenset[str]:
        """The kinds this Engine publishes as ``insight`` events (declared, minus ``insights.page``)."""
        return self._insight_kinds

    @property
    def tracked_keys(self) -> int:
        return len(self._instances)

    def snapshot(self) -> bytes:
        """Everything needed to continue exactly where this Engine is, as bytes."""
        state = {
            "version": SNAPSHOT_VERSION,
            "instances": self._instances,
            "ticking": list(self._ticking),
            "open": self._open,
            "recently_resolved": list(self._recently_resolved),
            "watermark": self.watermark,
            "next_tick": self._next_tick,
            "events_in": self.events_in,
            "held": None if self._held is None else (self._held.ts, self._held.event, self._held.ref),
            "cadence": (self._gap_scale, self._steps),
            "states": self.context.states,
        }
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def restore(self, data: bytes) -> None:
        """Replace this Engine's state with a snapshot (settings stay this Engine's own)."""
        state = _SnapshotUnpickler(io.BytesIO(data)).load()  # snapshots are our own, from our own state store
        if state.get("version") != SNAPSHOT_VERSION:
            raise ValueError(f"snapshot version {state.get('version')} is not {SNAPSHOT_VERSION}")
        instances: dict[tuple[str, str], Detector] = {}
        for (name, key), inst in state["instances"].items():
            if name not in self._classes:
                continue  # a detector that is no longer configured
            inst.attach(self._configs[name], self.context)
            instances[(name, key)] = inst
        self._instances = instances
        self.context.states = dict(state.get("states", {}))
        for inst in instances.values():
            inst.restored()
        self._ticking = {k: None for k in state["ticking"] if k in instances}
        self._open = state["open"]
        self._recently_resolved = OrderedDict((k, None) for k in state["recently_resolved"])
        self.watermark = state["watermark"]
        held = state.get("held")  # absent in snapshots written before the bound
        self._gap_scale, self._steps = state.get("cadence", (0.0, 0))
        self._ahead_of = self.watermark + self._bound() if self.watermark > -_INF else _INF
        self._held = None if held is None else _Held(*held)
        self._next_tick = state["next_tick"]
        self.events_in = state["events_in"]
