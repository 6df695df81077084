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
- snapshots: :meth:`snapshot` / :meth:`restore` round-trip all of the above with pickle.
"""

from __future__ import annotations

import io
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
from spendwatch.prices import PriceConfig, PriceTable

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
        self._next_tick = float("-inf")
        self.events_in = 0
        self.anomalies_out: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ driving
    def process(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Feed one validated event; return the anomaly events it caused (often none)."""
        self.events_in += 1
        ts = event["ts"]
        out: list[dict[str, Any]] = []
        if ts > self.watermark:
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
            findings = inst.process(event)
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
        """Move the watermark to ``now`` (event time) without an event, e.g. an idle partition."""
        if now <= self.watermark:
            return []
        self.watermark = now
        return self._tick(now) if now >= self._next_tick else []

    def _tick(self, now: float) -> list[dict[str, Any]]:
        interval = self.config.tick_interval_s
        self._next_tick = (now // interval + 1) * interval
        out: list[dict[str, Any]] = []
        for ikey in list(self._ticking):
            inst = self._instances[ikey]
            findings = inst.tick(now)
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
    def counters(self) -> dict[str, int]:
        """What detectors set aside, by reason (billing rows too late to be judged, ...)."""
        return self.context.counters

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
        self._next_tick = state["next_tick"]
        self.events_in = state["events_in"]
