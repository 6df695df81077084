"""The one check suite every detector must pass (DESIGN.md, habit 2).

Parametrized over :func:`detectors.registry.default_detector_classes`, so a detector added to
the registry is checked here without writing anything. Each detector runs alone in an Engine
over a simulated stream with every kind of problem injected and a few malformed lines.
"""

from __future__ import annotations

import copy
import pickle
from functools import cache
from typing import Any

import orjson
import pytest

from detectors.base import Detector
from detectors.engine import Engine
from detectors.registry import default_detector_classes
from spendwatch.errors import BadEvent
from spendwatch.events import decode, validate
from spendwatch.replay import ReplayStats, replay_lines
from spendwatch.simulate import SimConfig, simulate

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
