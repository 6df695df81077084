"""The demo (``spendwatch demo``): a simulated day of a GPU fleet with every kind of problem, through the detectors.

What :func:`run_demo` does, in event time (no Slack needed):

1. simulates a fleet (:mod:`collectors.simulate`) for a day ending now, with every injection,
   plus two weeks of billing history so the cost baselines have something to learn from;
2. runs the same :class:`~detectors.engine.Engine` that ``spendwatch replay`` and the worker
   run, with the default detectors (:func:`streams.replay.replay_lines`);
3. hands the anomalies, the insights (structural waste: reported, not paged) and which injected
   problems were caught (:func:`match_truth`, :func:`collectors.simulate.waste_eval.score`) to
   the caller's :class:`DemoReport`, which shows them;
4. routes the costliest anomalies through the alert pipeline (a console notifier prints them
   when no Slack token is set; insights are never alerted one by one) and records every anomaly
   and insight event, the hourly spend and the report's usage in the history store, so
   ``spendwatch anomalies --since 30d`` and ``spendwatch report`` work right after.

Safe to run anywhere: unless told otherwise (``db``) the demo records into a store of its own,
:func:`demo_store` (fresh at every run, so a second run alerts again and demo data never mixes
with real history; the notification log lives in it too); the command line drops the Slack
token unless ``--slack``; what the Kafka path writes on disk (the worker's data dir, a local
broker's log dir) is in temp folders removed at the end.

Budgets: when the settings have no ``budgets`` section, the simulated run's own budgets
(:attr:`Simulation.budgets`: a team heading over, a team that will be met, a storage bill) are used.

With ``kafka`` step 2 goes through Kafka instead: a local Apache Kafka
(:mod:`streams.kafka_local`, as ``spendwatch kafka-local`` runs it; or the one in
``SPENDWATCH_KAFKA``), the events produced to the contract topics with their keys, one worker
run in-process until its input is idle, and the anomalies read back from
``spendwatch.anomalies``: the production path, end to end.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import orjson

from alerting.environment import AlertEnvironment
from collectors.simulate import HOUR, INJECTIONS, SimConfig, Simulation, simulate
from collectors.simulate.truth import WASTE_INJECTIONS
from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.contract import ANOMALY, INSIGHT
from streams.replay import ReplayStats, replay_lines

GRACE_S = 45 * 60.0  # a detection up to this long after an injected problem starts counts as caught
WASTE_TRUTH = frozenset(WASTE_INJECTIONS)  # truth the insights answer for


@dataclass(frozen=True)
class DemoOptions:
    """The ``spendwatch demo`` flags."""

    hours: float = 24.0
    gpus: int = 32
    seed: int = 1
    start: float | None = None  # default: the last full hours up to now
    alerts: bool = True
    max_alerts: int = 6
    history: bool = True
    db: str | None = None
    kafka: bool = False
    alert_environment: AlertEnvironment = field(default_factory=AlertEnvironment)  # Slack token etc.


@dataclass
class DemoRun:
    """What the detectors made of the simulated fleet."""

    config: SimConfig
    sim: Simulation
    stats: ReplayStats
    events: list[dict[str, Any]]  # every anomaly and insight event, in order
    simulate_s: float
    detect_s: float
    through_kafka: bool

    @property
    def anomalies(self) -> list[dict[str, Any]]:
        return [a for a in self.events if a["type"] == ANOMALY]

    @property
    def insights(self) -> list[dict[str, Any]]:
        return [a for a in self.events if a["type"] == INSIGHT]

    @property
    def latest(self) -> dict[str, dict[str, Any]]:
        """The latest event of each anomaly (insights apart: :attr:`latest_insights`)."""
        return latest_by_id(self.anomalies)

    @property
    def latest_insights(self) -> dict[str, dict[str, Any]]:
        return latest_by_id(self.insights)

    @property
    def matched(self) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
        """The incident truth against the anomalies (the structural-waste truth: :attr:`waste_score`)."""
        return match_truth([t for t in self.sim.truth if t["kind"] not in WASTE_TRUTH], self.anomalies)

    @property
    def families(self) -> dict[str, dict[str, int]]:
        """The incident truth against the anomalies, per detector family (:func:`family_score`)."""
        return family_score([t for t in self.sim.truth if t["kind"] not in WASTE_TRUTH], self.anomalies)

    @property
    def waste_score(self) -> Any:
        """The structural-waste truth against the insights (:func:`collectors.simulate.waste_eval.score`)."""
        from collectors.simulate.waste_eval import score

        return score(self.sim, self.events)


class DemoReport(Protocol):
    """What the demo shows, as it goes (the command line prints it)."""

    def note(self, text: str) -> None:
        """A progress line (stderr)."""

    def detected(self, run: DemoRun) -> None:
        """The anomalies, waste by team and the injected problems caught."""

    def alerting(self, count: int) -> None:
        """Alerts for the ``count`` costliest anomalies follow (the notifier prints them)."""

    def alerted(self, said_anything: bool) -> None:
        """The alerts were handed over; ``said_anything`` is False when the notification log
        knew them all already (an earlier run)."""

    def recorded(self, count: int) -> None:
        """``count`` anomaly and insight events were recorded in the history store."""

    def reported(self, run: DemoRun, settings: Settings, db: str | None) -> None:
        """The history is written: show what ``spendwatch report`` makes of it."""


def latest_by_id(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The latest event of each anomaly id, in order of first appearance."""
    latest: dict[str, dict[str, Any]] = {}
    for a in events:
        latest[a["id"]] = a
    return latest


def match_truth(truth: list[dict[str, Any]],
                events: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """For each injected problem, the first anomaly (its first ``open``) that caught it, or None.

    Caught = an expected kind, the same resource (or, for spend and model problems, the same
    workload), first flagged between start - 60 s and max(end, start + 45 min).
    """
    firsts: dict[str, dict[str, Any]] = {}
    for a in events:
        if a["state"] == "open":
            firsts.setdefault(a["id"], a)
    out: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for t in truth:
        hit = None
        for a in firsts.values():
            wid = (a.get("workload") or {}).get("id")
            same = a.get("resource") == t["resource"] or (t["workload"] is not None and wid == t["workload"]
                                                          and t["kind"] not in ("idle", "hoarding", "busywait"))
            if a["kind"] in t["expected_kinds"] and same and \
                    t["start"] - 60 <= a["detected_at"] <= max(t["end"], t["start"] + GRACE_S):
                hit = a
                break
        out.append((t, hit))
    return out


def family_score(truth: list[dict[str, Any]], events: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Per detector family, as the realistic scorecard names them (``idle``, ``cost``, ``loop``,
    ``drift``, ``nodrift``): the injected incidents (``truth``), how many were ``caught`` and
    ``missed`` (:func:`match_truth`, the demo's table), and the anomaly ids of the family that
    match no injected incident (``false``) or match one another id caught first (``duplicates``).

    An anomaly of a kind outside the families is counted under ``other`` (``false`` only).

    >>> t = {"kind": "idle", "expected_kinds": ["idle_gpu"], "resource": "gpu-1", "workload": None,
    ...      "start": 0.0, "end": 600.0}
    >>> a = {"id": "a", "kind": "idle_gpu", "state": "open", "resource": "gpu-1", "detected_at": 300.0}
    >>> b = {**a, "id": "b", "resource": "gpu-2"}
    >>> family_score([t], [a, b])["idle"]
    {'truth': 1, 'caught': 1, 'missed': 0, 'false': 1, 'duplicates': 0}
    """
    from collectors.simulate.realistic.common import FAMILIES, FAMILY

    def row() -> dict[str, int]:
        return {"truth": 0, "caught": 0, "missed": 0, "false": 0, "duplicates": 0}

    firsts: dict[str, dict[str, Any]] = {}
    for a in events:
        if a["state"] == "open":
            firsts.setdefault(a["id"], a)
    out = {family: row() for family in FAMILIES}
    first_hits: set[str] = set()
    for t, hit in match_truth(truth, list(firsts.values())):
        r = out.setdefault(FAMILY.get(t["expected_kinds"][0], "other"), row())
        r["truth"] += 1
        r["caught" if hit else "missed"] += 1
        if hit:
            first_hits.add(hit["id"])
    for a in firsts.values():
        if a["id"] in first_hits:
            continue
        r = out.setdefault(FAMILY.get(a["kind"], "other"), row())
        r["duplicates" if any(hit for _t, hit in match_truth(truth, [a])) else "false"] += 1
    return out


def demo_store(data_home: str | os.PathLike[str] | None = None) -> str:
    """A fresh SQLite history store for the demo: ``$XDG_DATA_HOME/spendwatch/demo/history.db``.

    Whatever an earlier demo left there is removed first (its anomalies, its notification log),
    so every run shows its alerts; the user's own store is never touched.
    """
    base = Path(data_home or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    folder = base / "spendwatch" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "history.db"
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"),
                 db.with_name(db.name + "-journal")):
        path.unlink(missing_ok=True)
    return f"sqlite:///{db}"


def _lines(sim: Simulation) -> Iterator[bytes]:
    for chunk in sim.chunks():
        yield from chunk.split(b"\n")


def run_demo(settings: Settings, options: DemoOptions, report: DemoReport) -> int:
    """Simulate, detect, report, alert, record; returns the exit code."""
    hours = options.hours
    start = options.start if options.start is not None else math.floor(time.time() / HOUR) * HOUR - hours * HOUR
    cfg = SimConfig(hours=hours, gpus=options.gpus, seed=options.seed, inject=frozenset(INJECTIONS), start=start,
                    bad_fraction=0.0005)
    t0 = time.perf_counter()
    sim = simulate(cfg)
    t1 = time.perf_counter()
    if not settings.section("budgets"):
        settings = Settings({**settings.sections, "budgets": sim.budgets}, settings.source)
    stats = ReplayStats()
    from spendwatch.history.spend import SpendRollup
    from spendwatch.history.usage import UsageRollup

    spend, usage = SpendRollup(), UsageRollup()
    if options.kafka:
        events = _through_kafka(settings, sim, stats, report)
    else:
        engine = Engine(settings)
        usage = UsageRollup(engine.context.prices)

        def observe(event: dict[str, Any]) -> None:
            spend.add(event)
            usage.add(event)

        events = list(replay_lines(_lines(sim), engine, stats, observe=observe if options.history else None))
    t2 = time.perf_counter()
    run = DemoRun(cfg, sim, stats, events, t1 - t0, t2 - t1, options.kafka)
    report.detected(run)
    if options.alerts:
        _send_alerts(settings, run.anomalies, options.max_alerts, options.db, options.alert_environment, report)
    if options.history:
        if options.kafka:  # the worker saw the events, not this process: add them up here
            spend, usage = spend_rollup(_lines(sim)), usage_rollup(_lines(sim))
        _record_history(events, spend, usage, options.db, report)
        report.reported(run, settings, options.db)
    return 0


def _through_kafka(settings: Settings, sim: Simulation, stats: ReplayStats,
                   report: DemoReport) -> list[dict[str, Any]]:
    """Produce the stream to a broker, run one worker over it until idle, read the anomalies back."""
    from collectors.produce import produce_lines
    from spendwatch.kafka import kafka_config
    from streams.kafka_local import KafkaLocal
    from streams.runner import run_worker_until_idle
    from streams.topics import read_topic

    run_id = uuid.uuid4().hex[:8]
    prefix = f"demo-{run_id}."  # fresh topics per run: a broker may be reused
    given = os.environ.get("SPENDWATCH_KAFKA")
    scratch = tempfile.mkdtemp(prefix="spendwatch-demo-")  # the worker's data dir; removed below
    broker: Any = None
    try:
        broker = None if given else KafkaLocal().start()  # Apache Kafka from the Maven cache (Java 17+); a temp dir
        bootstrap = given or (broker.bootstrap if broker else "")
        kafka = replace(kafka_config(settings), bootstrap_servers=bootstrap, topic_prefix=prefix)
        local = " (local Apache Kafka)" if broker else ""
        report.note(f"  broker {bootstrap}{local}; producing to {prefix}spendwatch.*")
        asyncio.run(produce_lines(kafka, _lines(sim)))
        result = run_worker_until_idle(settings, bootstrap, idle_s=3.0, group_id=f"demo-{run_id}",
                                       topic_prefix=prefix, session_timeout_s=3.0, heartbeat_interval_s=0.5,
                                       data_dir=os.path.join(scratch, "worker"))
        if result.exit_code:
            raise SystemExit(f"spendwatch demo: the worker failed (exit {result.exit_code}); see the log above")
        stats.events, stats.bad = result.events, result.bad
        records = asyncio.run(read_topic(kafka, kafka.topic(ANOMALY)))
        records += asyncio.run(read_topic(kafka, kafka.topic(INSIGHT)))
    finally:
        if broker is not None:
            broker.stop()  # removes its temp log dir
        shutil.rmtree(scratch, ignore_errors=True)
    events = [orjson.loads(r.value) for r in records]
    events.sort(key=lambda a: a["ts"])  # partitions interleave; each id's own events stay in order
    stats.insights = sum(1 for a in events if a["type"] == INSIGHT)
    stats.anomalies = len(events) - stats.insights
    return events


def _send_alerts(settings: Settings, events: list[dict[str, Any]], cap: int, db: str | None,
                 environment: AlertEnvironment, report: DemoReport) -> None:
    from alerting.pipeline import build_alert_pipeline

    ids: dict[str, None] = {}
    for a in sorted(events, key=lambda a: -a["projected_daily_usd"]):
        if len(ids) >= cap:
            break
        ids.setdefault(a["id"], None)
    report.alerting(len(ids))
    pipeline = build_alert_pipeline(settings, store_url=db, environment=environment)
    try:
        for a in events:
            if a["id"] in ids:
                pipeline.handle(a)
        pipeline.flush()
        stats = getattr(pipeline, "stats", None)
        # nothing said: same ids as an earlier demo in this hour, the notification log knew them
        said = stats is None or bool(stats.posted or stats.edited or stats.replies)
    finally:
        pipeline.close()
    report.alerted(said)


def spend_rollup(lines: Iterator[bytes]) -> Any:
    """Hourly spend by team from the billing deltas among ``lines`` (for the dashboard's spend plots)."""
    from spendwatch.history.spend import SpendRollup
    from streams.intake import decode_or_reject

    rollup = SpendRollup()
    for raw in lines:
        if b'"billing_delta"' in raw:
            event = decode_or_reject(raw)
            if isinstance(event, dict):
                rollup.add(event)
    return rollup


def usage_rollup(lines: Iterator[bytes]) -> Any:
    """The report's hourly usage from every valid event among ``lines``."""
    from spendwatch.history.usage import UsageRollup
    from streams.intake import decode_or_reject

    rollup = UsageRollup()
    for raw in lines:
        if raw.strip():
            event = decode_or_reject(raw)
            if isinstance(event, dict):
                rollup.add(event)
    return rollup


def _record_history(events: list[dict[str, Any]], spend: Any, usage: Any, db: str | None,
                    report: DemoReport) -> None:
    from spendwatch.history import open_store

    store = open_store(db)
    try:
        store.record_many(events)
        store.spend.write(spend)
        store.usage.write(usage)
    finally:
        store.close()
    report.recorded(len(events))
