"""The detector interface.

A detector class watches one kind of key (a GPU, a workload's spend, a model). The Engine
keeps one instance per key, feeds it validated events of the types it declares, in event
time, and turns the :class:`~spendwatch.anomaly.Finding` objects it returns into the
anomaly lifecycle. A detector never reads the wall clock, the environment or any external
system: ``now`` is always event time, which is what makes replay and the worker agree.

Rules every detector follows (checked by ``tests/detectors/test_shared_checks.py``):

- deterministic: the same events give the same findings;
- picklable: the Engine snapshots instances with ``pickle``; ``config`` and ``context``
  are dropped from the pickle and re-attached on restore, so a restart takes new settings;
- report an ongoing problem with ``active=True`` and a stable ``started_at``; report its end
  once with ``active=False``; the Engine owns ids, updates and de-duplication;
- set ``wants_tick`` while it has something that can change with the passage of event time
  alone (an open problem, a pending stretch); the Engine then calls :meth:`tick`;
- optionally set ``tick_due`` to the event time before which :meth:`tick` is known to do nothing
  (the default, minus infinity, means "call it every tick"): the Engine then skips the call, which
  matters when thousands of keys each wait for one deadline;
- declare in ``insight_kinds`` the kinds it reports that are *structural waste* (an always-on
  endpoint at 8 % load, duplicated training, a budget the forecast crosses): money, not an
  incident. The Engine publishes those as ``insight`` events (same fields, ``"type": "insight"``),
  which go to their own topic and the report, never to the anomaly stream or Slack one by one,
  unless the ``insights.page`` setting promotes the kind;
- leave ``Finding.severity`` unset: the Engine sets it by projected dollars a day
  (:meth:`DetectorContext.severity`); a detector sets it only to say something else;
- never mutate the event it is given (the same dict goes to every detector of its type) and
  never read the wall clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, cast

from spendwatch.anomaly import Finding, severity_for
from spendwatch.prices import PriceTable

T = TypeVar("T")


@dataclass(frozen=True)
class EngineConfig:
    """``engine`` section.

    Parameters
    ----------
    update_min_change_pct, update_min_change_usd
        An open anomaly is re-published only when its waste or daily projection moved by both
        this share (25 %) and this many dollars ($1), or its severity changed: a long problem
        gives a handful of updates, not one per event.
    warning_daily_usd, critical_daily_usd
        Severity by projected dollars per day ($50 and $500): below the first an anomaly is
        ``info``. The Engine applies it to every finding that does not set its own severity.
    tick_interval_s
        How often, in event time, detectors with pending state are ticked (60 s).
    max_future_s
        How far one event may move the watermark ahead at once (3600 s; 0 turns the bound off).
        An event dated further ahead of the newest events seen waits for the next event: when that
        one is back at the stream's time, the early one was dated in the future (a wrong clock,
        ``ts = 1e11``) and is bad input, counted; when the next one is far ahead too, the stream
        went quiet for a while and both are processed. One event a year ahead can so never end
        every open problem at once (issue 14).
    """

    update_min_change_pct: float = 25.0
    update_min_change_usd: float = 1.0
    warning_daily_usd: float = 50.0
    critical_daily_usd: float = 500.0
    tick_interval_s: float = 60.0
    max_future_s: float = 3600.0


@dataclass(frozen=True)
class InsightsConfig:
    """``insights`` section: which structural-waste kinds page like anomalies.

    Parameters
    ----------
    page
        Insight kinds (``underused_gpu``, ``underused_endpoint``, ``batch_on_realtime``,
        ``redundant_training``, ``unit_cost_rise``, ``budget_forecast``, ``spend_growth``) to
        publish as anomalies instead (on the anomaly stream, so the alerter posts them). Default
        none: structural waste is reported (the insight stream, ``spendwatch report``, the
        dashboard), not paged.
    """

    page: tuple[str, ...] = ()


class DetectorContext:
    """What every detector may use besides its own config: prices and severity rules.

    ``scope`` names the share of the keys this Engine sees: "" when it sees every key (replay,
    the demo), ``"p3"`` for partition 3 of a stream worker. Detectors that join keys of different
    key spaces (a workload's GPUs, the models trained on one data set) see only the keys of their
    own scope and say so in the findings they make from such a join.
    """

    def __init__(self, engine: EngineConfig, prices: PriceTable, scope: str = "") -> None:
        self.engine = engine
        self.prices = prices
        self.scope = scope
        self.counters: dict[str, int] = {}  # events a detector set aside, by reason (for /metrics)
        self._shared: dict[str, Any] = {}
        self.states: dict[tuple[str, str], Any] = {}  # state several detectors of one key share

    def state(self, name: str, key: str, factory: Callable[[], T]) -> T:
        """The state ``name`` of key ``key`` that several detectors share (one drift state per
        model for ``retrain_needed`` and ``retrain_without_drift``), created on first use. Unlike
        :meth:`shared`, it is primary state: the Engine snapshots it once, with the instances."""
        st = self.states.get((name, key))
        if st is None:
            st = self.states[(name, key)] = factory()
        return cast(T, st)

    def shared(self, name: str) -> Any:
        """A registry shared by the detector instances of one Engine (one partition), created on
        first use: *derived* state only (e.g. the GPUs of a node by workload), which instances
        rebuild in :meth:`Detector.restored` after a restore; never part of a snapshot."""
        reg = self._shared.get(name)
        if reg is None:
            reg = self._shared[name] = {}
        return reg

    def count(self, name: str, n: int = 1) -> None:
        """Count something a detector set aside (a billing row too late to be judged, ...)."""
        self.counters[name] = self.counters.get(name, 0) + n

    def severity(self, projected_daily_usd: float) -> str:
        return severity_for(projected_daily_usd, self.engine.warning_daily_usd, self.engine.critical_daily_usd)


class Detector(ABC):
    """One detector instance watches one key. Subclasses set the class variables below."""

    name: ClassVar[str]  # settings section and registry name, e.g. "idle"
    event_types: ClassVar[tuple[str, ...]]  # input types it consumes
    config_cls: ClassVar[type]  # frozen dataclass with documented defaults
    kinds: ClassVar[tuple[str, ...]] = ()  # the anomaly kinds it reports (feedback about them comes back to it)
    insight_kinds: ClassVar[tuple[str, ...]] = ()  # those of ``kinds`` that are insights (reported, not paged)
    # event time before which tick() is a no-op (see the module docstring); instances set their own
    tick_due: float = float("-inf")

    def __init__(self, key: str, config: Any, context: DetectorContext) -> None:
        self.key = key
        self.config = config
        self.context = context
        self.wants_tick = False

    @staticmethod
    @abstractmethod
    def key_of(event: dict[str, Any]) -> str | None:
        """The state key of an event. It must be the contract's Kafka key of the event
        (:func:`spendwatch.contract.kafka_key`; set it to one of that module's key functions)
        so that a partition holds whole keys. None means the event is not for this detector."""

    @abstractmethod
    def process(self, event: dict[str, Any]) -> list[Finding]:
        """Take one validated event; return findings (usually none)."""

    def tick(self, now: float) -> list[Finding]:
        """Event time moved to ``now`` without an event for this key."""
        return []

    def feedback(self, event: dict[str, Any]) -> list[Finding]:
        """A person said something about one of this key's anomalies (a validated ``feedback``
        event: ``verdict``, ``by``, ``reason``, ``evidence``). A detector that can learn from a
        "not a problem" does so here (and usually ends the anomaly); the default ignores it."""
        return []

    def restored(self) -> None:
        """Called once after a restore, when every instance is back: rebuild derived shared state."""
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("config", None)
        state.pop("context", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def attach(self, config: Any, context: DetectorContext) -> None:
        """Re-attach settings after unpickling."""
        self.config = config
        self.context = context
