"""The one check suite every detector must pass (DESIGN.md, habit 2).

Parametrized over :func:`detectors.registry.default_detector_classes`, so a detector added to
the registry is checked here without writing anything. Each detector runs alone in an Engine
over a simulated stream with every kind of problem injected and a few malformed lines.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import inspect
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import orjson
import pytest

from collectors.simulate import SimConfig, simulate
from detectors.base import Detector, DetectorContext, EngineConfig
from detectors.engine import Engine
from detectors.registry import default_detector_classes
from detectors.stats.drift_stats import DriftParams
from spendwatch.contract import kafka_key
from spendwatch.errors import BadEvent
from spendwatch.events import decode, validate
from spendwatch.prices import PriceConfig
from streams.replay import ReplayStats, replay_lines

CLASSES = default_detector_classes()


@cache
def _lines() -> tuple[bytes, ...]:
    sim = simulate(SimConfig(hours=6, gpus=12, seed=21, billing_days=9, bad_fraction=0.002))
    return tuple(sim.lines)


@cache
def _valid_lines() -> tuple[bytes, ...]:
    out = []
    for raw in _lines():
        try:
            decode(raw)
        except BadEvent:
            continue
        out.append(raw)
    return tuple(out)


def _events(times: int = 1) -> list[dict[str, Any]]:
    """A fresh list of validated events, each ``times`` times in a row (decoded anew: validation
    normalises in place, and a redelivered message is a new object too)."""
    return [decode(raw) for raw in _valid_lines() for _ in range(times)]


def _run(cls: type[Detector], events: list[dict[str, Any]]) -> list[bytes]:
    engine = Engine(detector_classes=[cls])
    return [orjson.dumps(a) for a in engine.process_many(events)]


@cache
def _baseline(cls: type[Detector]) -> tuple[bytes, ...]:
    return tuple(_run(cls, _events()))


def _ids(out: list[bytes] | tuple[bytes, ...]) -> list[str]:
    seen: dict[str, None] = {}
    for a in out:
        seen.setdefault(orjson.loads(a)["id"], None)
    return list(seen)


@pytest.fixture(params=CLASSES, ids=[c.name for c in CLASSES])
def cls(request: pytest.FixtureRequest) -> type[Detector]:
    return request.param  # type: ignore[no-any-return]


def test_declares_its_interface(cls: type[Detector]) -> None:
    assert cls.name and cls.event_types and cls.config_cls
    assert cls.__doc__ and (cls.__module__ and __import__(cls.__module__, fromlist=["x"]).__doc__), \
        "one detector per module, with a docstring saying what it flags and why its defaults"
    cls.config_cls()  # every setting has a default
    assert inspect.signature(cls.__init__).parameters["context"].annotation in (DetectorContext, "DetectorContext")


def _documented_parameters(doc: str) -> set[str]:
    """Names in the numpydoc ``Parameters`` section of a docstring (``a, b`` lines list several)."""
    lines = inspect.cleandoc(doc).splitlines()
    start = next((i for i, line in enumerate(lines[:-1]) if line == "Parameters" and set(lines[i + 1]) == {"-"}), None)
    assert start is not None, "no numpydoc 'Parameters' section"
    names: set[str] = set()
    for i, line in enumerate(lines[start + 2:], start + 2):
        if i + 1 < len(lines) and lines[i + 1] and set(lines[i + 1]) == {"-"}:
            break  # the next section's title
        if line and not line.startswith(" "):
            names.update(n.split(":")[0].strip() for n in line.split(","))
    return names


@pytest.mark.parametrize("config_cls", [EngineConfig, PriceConfig, DriftParams, *(c.config_cls for c in CLASSES)],
                         ids=lambda c: c.__name__)
def test_every_setting_is_documented(config_cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(config_cls)}
    assert config_cls.__doc__
    missing = fields - _documented_parameters(config_cls.__doc__)
    assert not missing, f"{config_cls.__name__}: settings without a Parameters entry: {sorted(missing)}"


def test_module_has_examples_and_references(cls: type[Detector]) -> None:
    doc = inspect.cleandoc(sys.modules[cls.__module__].__doc__ or "")
    for section in ("Examples", "References"):
        assert f"\n{section}\n{'-' * len(section)}\n" in doc, f"{cls.__module__}: no numpydoc {section} section"
    assert ">>> " in doc.split("\nExamples\n", 1)[1], f"{cls.__module__}: the Examples section has no doctest"


def test_keys_events_by_the_contract_kafka_key(cls: type[Detector]) -> None:
    # a partition must hold whole detector keys: the state key is the message key of the event
    checked = dict.fromkeys(cls.event_types, 0)
    for event in _events():
        if event["type"] in checked:
            assert cls.key_of(event) == kafka_key(event), f"{cls.name}: key_of differs from the contract for {event}"
            checked[event["type"]] += 1
    assert all(checked.values()), f"the stream has no event of some type {cls.name} takes: {checked}"


def test_deterministic(cls: type[Detector]) -> None:
    assert _run(cls, _events()) == list(_baseline(cls))


def test_sees_something_in_the_stream(cls: type[Detector]) -> None:
    # not a pass: a detector that never fires on a stream with every problem injected checks nothing
    assert len(_baseline(cls)) > 0, f"{cls.name} reported nothing on a stream with every problem injected"


@pytest.mark.parametrize("fraction", [0.1, 0.45, 0.8])
def test_snapshot_restore_gives_the_same_future_output(cls: type[Detector], fraction: float) -> None:
    events = _events()
    cut = int(len(events) * fraction)
    first = Engine(detector_classes=[cls])
    got = [orjson.dumps(a) for a in first.process_many(events[:cut])]
    blob = first.snapshot()
    pickle.loads(blob)  # plain pickle round trip of all detector state
    second = Engine(detector_classes=[cls])
    second.restore(blob)
    got += [orjson.dumps(a) for a in second.process_many(events[cut:])]
    assert got == list(_baseline(cls))


def test_duplicates_do_not_create_a_second_anomaly(cls: type[Detector]) -> None:
    doubled = _events(times=2)
    assert _ids(_run(cls, doubled)) == _ids(_baseline(cls))


def test_slightly_late_duplicates_do_not_create_a_second_anomaly(cls: type[Detector]) -> None:
    lines = _valid_lines()
    late: list[dict[str, Any]] = []
    for i, raw in enumerate(lines):
        late.append(decode(raw))
        if i >= 7 and i % 3 == 0:  # a redelivery of an event seven places back (a consumer retry)
            late.append(decode(lines[i - 7]))
    assert _ids(_run(cls, late)) == _ids(_baseline(cls))


def test_bad_values_never_reach_it(cls: type[Detector]) -> None:
    seen: list[dict[str, Any]] = []

    def spy_process(self: Detector, event: dict[str, Any]) -> Any:
        seen.append(event)
        return cls.process(self, event)

    spy = type(cls.__name__, (cls,), {"process": spy_process})
    stats = ReplayStats()
    out = [orjson.dumps(a) for a in replay_lines(list(_lines()), Engine(detector_classes=[spy]), stats)]
    assert stats.bad > 0  # the stream has malformed lines
    assert out == list(_baseline(cls))  # ... and they change nothing
    for ev in seen:
        assert ev["type"] in cls.event_types
        validate(copy.deepcopy(ev))  # everything it was given is a valid event


def test_never_mutates_the_event_it_is_given(cls: type[Detector]) -> None:
    # the Engine hands one event dict to every detector that takes its type (up to three)
    events = _events()
    before = copy.deepcopy(events)
    out = _run(cls, events)
    changed = next((i for i, (a, b) in enumerate(zip(events, before, strict=True)) if a != b), None)
    assert changed is None, f"{cls.name} changed event {changed}: {before[changed]} -> {events[changed]}"
    assert out == list(_baseline(cls))


def _clock_read(*_args: Any, **_kwargs: Any) -> Any:
    raise AssertionError("a detector read the wall clock; use event time (the event's ts or tick's now)")


@contextlib.contextmanager
def _no_wall_clock() -> Iterator[None]:
    """time.time / monotonic / perf_counter, argument-less gmtime / localtime and datetime's now /
    utcnow / today raise while inside, also where a module imported them by name."""
    real_gmtime, real_localtime = time.gmtime, time.localtime

    def gmtime(*args: Any) -> time.struct_time:
        return real_gmtime(*args) if args and args[0] is not None else _clock_read()

    def localtime(*args: Any) -> time.struct_time:
        return real_localtime(*args) if args and args[0] is not None else _clock_read()

    class NoClockDatetime(datetime.datetime):
        now = classmethod(_clock_read)  # type: ignore[assignment]
        utcnow = classmethod(_clock_read)  # type: ignore[assignment]
        today = classmethod(_clock_read)  # type: ignore[assignment]

    class NoClockDate(datetime.date):
        today = classmethod(_clock_read)  # type: ignore[assignment]

    replace: dict[int, Callable[..., Any] | type] = {id(getattr(time, n)): _clock_read for n in (
        "time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "process_time")}
    replace[id(time.gmtime)], replace[id(time.localtime)] = gmtime, localtime
    replace[id(datetime.datetime)], replace[id(datetime.date)] = NoClockDatetime, NoClockDate
    targets = [time, datetime] + [m for name, m in list(sys.modules.items())
                                  if m is not None and name.split(".")[0] in ("detectors", "spendwatch")]
    with pytest.MonkeyPatch.context() as mp:
        for module in targets:
            for attr, value in list(vars(module).items()):
                new = replace.get(id(value))
                if new is not None:
                    mp.setattr(module, attr, new)
        yield


def test_never_reads_the_wall_clock(cls: type[Detector]) -> None:
    events = _events()
    engine = Engine(detector_classes=[cls])
    with _no_wall_clock():
        with pytest.raises(AssertionError, match="wall clock"):
            time.time()  # the guard is on (a check that cannot fail checks nothing)
        out = [orjson.dumps(a) for a in engine.process_many(events)]
        out += [orjson.dumps(a) for a in engine.advance(engine.watermark + 7 * 86400.0)]
    assert out[: len(_baseline(cls))] == list(_baseline(cls))
