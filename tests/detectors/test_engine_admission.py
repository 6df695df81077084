"""Bad input only the Engine can tell: money above the ceiling, events dated far ahead (issue 14)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.events import decode

YEAR = 365 * 86400.0
OFF = Settings(sections={"engine": {"max_future_s": 0}})


@pytest.fixture(scope="module")
def stream() -> list[dict[str, Any]]:
    """Four hours of a 6-GPU fleet with its problems (an idle notebook, an unallocated GPU: the
    detector waits longer for kinds whose gaps are routine, so two hours would show none)."""
    return [decode(line) for line in simulate(SimConfig(hours=4, gpus=6, seed=3, billing_days=1)).lines]


def _run(events: list[dict[str, Any]], settings: Settings | None = None) -> tuple[Engine, list[bytes]]:
    engine = Engine(settings)
    out = [orjson.dumps(a) for ev in copy.deepcopy(events) for a in engine.process(ev, ev["ts"])]
    out += [orjson.dumps(a) for a in engine.flush()]
    return engine, out


def _gpu_at(stream: list[dict[str, Any]], frac: float) -> int:
    i = int(len(stream) * frac)
    while stream[i]["type"] != "gpu_sample":
        i += 1
    return i


@pytest.mark.parametrize("ahead", [YEAR, 7200.0])
def test_one_event_far_ahead_is_refused_and_changes_nothing(stream: list[dict[str, Any]], ahead: float) -> None:
    i = _gpu_at(stream, 0.6)
    _, clean = _run(stream)
    poison = copy.deepcopy(stream[i])
    poison["ts"] += ahead
    engine, out = _run([*stream[:i], poison, *stream[i:]])
    assert out == clean
    refused = engine.take_rejected()
    assert [r.ref for r in refused] == [poison["ts"]]
    assert refused[0].reason.startswith(f"ts: {poison['ts']} is ") and "dated in the future" in refused[0].reason
    assert engine.counters == {"events_dated_ahead": 1}


def test_a_poison_followed_by_a_real_gap_refuses_only_the_poison(stream: list[dict[str, Any]]) -> None:
    """A year-ahead sample, then the stream resumes two hours later: the poison is refused (the next
    event is far behind it), the gap is taken (the event after it confirms the new time)."""
    i = _gpu_at(stream, 0.5)
    gap = [dict(ev, ts=ev["ts"] + 7200.0) for ev in copy.deepcopy(stream[i:])]
    _, clean = _run([*stream[:i], *gap])
    poison = dict(copy.deepcopy(stream[i]), ts=stream[i]["ts"] + YEAR)
    engine, out = _run([*stream[:i], poison, *gap])
    assert out == clean
    assert [r.ref for r in engine.take_rejected()] == [poison["ts"]]


def test_a_quiet_stretch_is_not_bad_input(stream: list[dict[str, Any]]) -> None:
    """Two hours without any event (a collector outage) and then the stream goes on: nothing is refused
    and the anomalies are those of an Engine without the bound."""
    i = _gpu_at(stream, 0.5)
    events = [*stream[:i], *(dict(ev, ts=ev["ts"] + 7200.0) for ev in stream[i:])]
    engine, out = _run(events)
    assert not engine.take_rejected() and not engine.counters
    assert out == _run(events, OFF)[1]


def test_a_sparse_stream_keeps_its_own_cadence() -> None:
    """Nightly training runs, a day apart: after the first steps, the bound follows the stream's cadence
    and nothing waits for the next event."""
    runs = [{"type": "training_run", "ts": 1000.0 + d * 86400.0, "run_id": f"r{d}", "model_id": "m",
             "workload": {"id": "ml/m", "kind": "training"}, "status": "succeeded", "gpu_hours": 1.0}
            for d in range(80)]
    engine = Engine()
    for ev in runs:
        engine.process(copy.deepcopy(ev))
        assert engine.watermark == ev["ts"]  # processed at once: never held for the next one
    assert engine.events_in == 80 and not engine.take_rejected()


def test_a_held_event_survives_a_snapshot(stream: list[dict[str, Any]]) -> None:
    i = _gpu_at(stream, 0.6)
    poison = dict(copy.deepcopy(stream[i]), ts=stream[i]["ts"] + YEAR)
    first = Engine()
    head = [a for ev in copy.deepcopy([*stream[:i], poison]) for a in first.process(ev, ev["ts"])]
    second = Engine()
    second.restore(first.snapshot())
    tail = [a for ev in copy.deepcopy(stream[i:]) for a in second.process(ev, ev["ts"])]
    tail += second.flush()
    assert [r.ref for r in second.take_rejected()] == [poison["ts"]]
    assert [orjson.dumps(a) for a in head + tail] == _run(stream)[1]


def test_the_end_of_the_input_and_the_drivers_time_release_a_held_event(stream: list[dict[str, Any]]) -> None:
    later = dict(copy.deepcopy(stream[-1]), ts=stream[-1]["ts"] + 7200.0)
    engine, _ = _run(stream[:-1])
    engine.process(copy.deepcopy(later), "last")
    assert engine.watermark < later["ts"]
    engine.flush()
    assert engine.watermark == later["ts"] and not engine.take_rejected()
    engine, _ = _run(stream[:-1])
    engine.process(copy.deepcopy(later), "advanced")
    engine.advance(later["ts"] - 60.0)  # the driver's time reached it: processed
    assert engine.watermark == later["ts"] and not engine.take_rejected()
    engine, _ = _run(stream[:-1])
    engine.process(dict(copy.deepcopy(later), ts=later["ts"] + YEAR), "refused")
    engine.advance(later["ts"])  # the driver's time went on, far from it: refused
    assert [r.ref for r in engine.take_rejected()] == ["refused"]


def test_money_above_the_ceiling_is_refused_at_once(stream: list[dict[str, Any]]) -> None:
    i = _gpu_at(stream, 0.5)
    gpu = dict(copy.deepcopy(stream[i]), price_per_hour_usd=2e9)
    row = next(copy.deepcopy(ev) for ev in stream if ev["type"] == "billing_delta")
    credit = dict(copy.deepcopy(row), cost_usd=0, adjustment_usd=-5e9)
    engine = Engine()
    for ev, ref in ((gpu, "gpu"), (dict(row, cost_usd=1.7e308), "row"), (credit, "credit"), (row, "fine")):
        assert engine.process(ev, ref) == []
    refused = engine.take_rejected()
    assert [r.ref for r in refused] == ["gpu", "row", "credit"]
    assert refused[0].reason == "price_per_hour_usd: 2000000000.0 is beyond limits.max_event_usd (1e+09 per event)"
    assert refused[1].reason.startswith("cost_usd: ") and refused[2].reason.startswith("adjustment_usd: ")
    assert engine.counters == {"events_over_max_usd": 3} and engine.events_in == 1
    lifted = Engine(Settings(sections={"limits": {"max_event_usd": 1e10}}))
    lifted.process(dict(gpu), "gpu")
    assert not lifted.take_rejected()


def test_quantities_above_the_ceiling_are_refused(stream: list[dict[str, Any]]) -> None:
    """1.7e308 tokens summed to infinity made the cost detector raise OverflowError (found by make fuzz)."""
    row = next(copy.deepcopy(ev) for ev in stream if ev["type"] == "billing_delta")
    run = {"type": "training_run", "ts": row["ts"], "run_id": "r", "model_id": "m", "workload": {"id": "ml/m"},
           "status": "started", "gpu_hours": 1e300}
    engine = Engine()
    assert engine.process(dict(row, usage_quantity=1.7e308), "row") == [] and engine.process(run, "run") == []
    refused = engine.take_rejected()
    assert [r.reason.split(":")[0] for r in refused] == ["usage_quantity", "gpu_hours"]
    assert "limits.max_quantity" in refused[0].reason and engine.counters == {"events_over_max_quantity": 2}


def _fragile() -> type[Any]:
    """A detector with bugs: it raises on the sample of GPU-bad, and in every tick of GPU-tick."""
    from detectors.idle_gpu import IdleGpuDetector

    class Fragile(IdleGpuDetector):
        name = "fragile"

        def process(self, event: dict[str, Any]) -> list[Any]:
            if event["gpu_uuid"] == "GPU-bad":
                raise OverflowError("cannot convert float infinity to integer")
            self.wants_tick = True
            return []

        def tick(self, now: float) -> list[Any]:
            if self.key.endswith("GPU-tick"):
                raise ZeroDivisionError("float division by zero")
            return []

    return Fragile


def test_a_detector_that_raises_never_stops_the_stream(stream: list[dict[str, Any]]) -> None:
    """A detector's bug is counted and logged; the event it failed on is reported like bad input; the
    other detectors, and the other keys of the same detector, go on as if nothing happened."""
    from detectors.idle_gpu import IdleGpuDetector

    gpus = [ev for ev in stream if ev["type"] == "gpu_sample"]
    bad = dict(copy.deepcopy(gpus[100]), gpu_uuid="GPU-bad", mig_uuid=None)
    ticking = dict(copy.deepcopy(gpus[101]), gpu_uuid="GPU-tick", mig_uuid=None)
    events = [*gpus[:101], bad, ticking, *gpus[101:]]
    engine = Engine(detector_classes=[IdleGpuDetector, _fragile()])
    got = [a for i, ev in enumerate(copy.deepcopy(events)) for a in engine.process(ev, i)]
    refused = engine.take_rejected()
    assert [r.ref for r in refused] == [101]
    assert refused[0].reason.startswith(f"gpu_sample: detector fragile failed on key '{bad['node']}/GPU-bad'")
    assert "OverflowError: cannot convert float infinity to integer" in refused[0].reason
    assert engine.counters == {"detector_errors": 2}  # the event, and GPU-tick's first tick (then not again)
    plain = Engine(detector_classes=[IdleGpuDetector])
    assert got == [a for ev in copy.deepcopy(events) for a in plain.process(ev)] and got
