"""The standing fuzz harness (issue 14), bounded for ``make test``: a few seconds a test.

Valid contract events of a small simulated fleet are mutated (``tests/fuzz/mutate.py``) and go
through every stage that takes input: validation, every detector (``Engine.process``), snapshot
and restore, the history store (SQLite, and PostgreSQL when the fixture has one) and the Slack
renderer's text functions. ``make fuzz`` (``python -m bench.fuzz``) runs the same at a million
lines through ``spendwatch replay``.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.render import blocks_to_text, change_text, console_text, render_group, render_root, render_single
from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from spendwatch.errors import BadEvent
from spendwatch.events import decode, validate
from spendwatch.history import AnomalyQuery, HistoryStore, open_store
from streams.replay import ReplayStats, replay_lines
from tests.fuzz.mutate import hostile_anomaly, mutate

BASE = simulate(SimConfig(hours=1.5, gpus=4, seed=9, billing_days=1)).lines
FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                database=None)


def _mutants(r: random.Random, n: int) -> list[tuple[int, bytes]]:
    """``n`` mutated lines, each with the index of the base line it was made from (it goes after it)."""
    return [(i, mutate(BASE[i], r)) for i in sorted(r.randrange(len(BASE)) for _ in range(n))]


def _finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(_finite(x) for x in v.values())
    if isinstance(v, list):
        return all(_finite(x) for x in v)
    return True


@settings(FAST, max_examples=700)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=len(BASE) - 1))
def test_a_mutated_line_is_an_event_or_bad_input(r: random.Random, index: int) -> None:
    raw = mutate(BASE[index], r)
    try:
        ev = decode(raw)
    except BadEvent as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    orjson.dumps(ev)  # serialises: no NaN, no integer beyond 64 bits, no surrogate
    assert _finite(ev)
    assert validate(copy.deepcopy(ev)) == ev  # what decode gives is valid as it stands


def _replay(lines: list[bytes], engine: Engine) -> tuple[list[bytes], ReplayStats, list[int]]:
    stats = ReplayStats()
    bad: list[int] = []
    out = [orjson.dumps(a) for a in replay_lines(lines, engine, stats, lambda n, _r, _raw: bad.append(n))]
    return out, stats, bad


@settings(FAST, max_examples=8)
@given(st.randoms(use_true_random=False))
def test_mutants_through_every_detector_change_nothing_but_what_they_say(r: random.Random) -> None:
    """A stream with 40 mutated lines in it: replay never fails, every anomaly is finite, and the
    output is that of a clean run over the lines it took (the bad ones changed nothing)."""
    lines = list(BASE)
    for i, m in reversed(_mutants(r, 40)):
        lines.insert(i + 1, m)
    out, stats, bad = _replay(lines, Engine())
    assert stats.bad == len(bad) >= 1 and stats.events + stats.bad == len(lines)
    for a in map(orjson.loads, out):
        assert a["type"] in ("anomaly", "insight") and _finite(a)
    taken = [line for n, line in enumerate(lines, 1) if n not in set(bad)]
    clean, clean_stats, clean_bad = _replay(taken, Engine())
    assert clean_bad == [] and clean == out


@settings(FAST, max_examples=8)
@given(st.randoms(use_true_random=False), st.floats(min_value=0.05, max_value=0.95))
def test_snapshot_and_restore_of_a_mutated_stream_give_the_same_future(r: random.Random, cut: float) -> None:
    lines = list(BASE)
    for i, m in reversed(_mutants(r, 25)):
        lines.insert(i + 1, m)
    whole, _, _ = _replay(lines, Engine())
    k = int(len(lines) * cut)
    first = Engine()
    stats = ReplayStats()
    head = []
    for raw in lines[:k]:  # no flush: the stream goes on in the restored Engine
        try:
            ev = decode(raw)
        except BadEvent:
            continue
        head += [orjson.dumps(a) for a in first.process(ev)]
    second = Engine()
    second.restore(first.snapshot())
    tail = [orjson.dumps(a) for a in replay_lines(lines[k:], second, stats)]
    assert head + tail == whole


# ------------------------------------------------------------------------- the output side
@pytest.fixture(scope="module")
def emitted() -> list[dict[str, Any]]:
    """The anomaly events of a four-hour stream (idle GPUs of routine kinds open after 90 minutes of
    a rhythm not known yet: the base stream is too short for them)."""
    lines = simulate(SimConfig(hours=4, gpus=4, seed=9, billing_days=1)).lines
    out = [a for a in replay_lines(lines, Engine(), ReplayStats())]
    assert len({a["kind"] for a in out}) >= 3
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fuzz_store(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[HistoryStore]:
    url = f"sqlite:///{tmp_path}/fuzz.db" if request.param == "sqlite" else str(
        request.getfixturevalue("pg_schema_url"))
    store = open_store(url)
    yield store
    store.close()


def test_the_history_store_takes_any_anomaly_event(fuzz_store: HistoryStore, emitted: list[dict[str, Any]]) -> None:
    """Hostile strings and extreme figures: every event is recorded or set aside, none blocks
    another, and the queries still work."""
    r = random.Random(14)
    batch = [hostile_anomaly(r, emitted[i % len(emitted)]) for i in range(300)]
    for i in range(0, len(batch), 50):
        part = batch[i:i + 50]
        before = fuzz_store.set_aside
        fuzz_store.record_many(part)
        assert fuzz_store.set_aside - before <= len(part)
    stored = {a["id"] for a in fuzz_store.query(AnomalyQuery())}
    aside = {e["anomaly_id"] for e in fuzz_store.set_aside_events(1000)}
    assert {a["id"] for a in batch} <= stored | aside
    assert stored  # most of them are storable
    fuzz_store.summary(AnomalyQuery())
    for aid in list(stored)[:20]:
        got = fuzz_store.get(aid)
        assert got is not None and fuzz_store.events(aid)


def _mention(who: str | None) -> str:
    return f"<@{who}>" if who else "nobody"


def test_the_slack_renderer_takes_any_anomaly_event(emitted: list[dict[str, Any]]) -> None:
    r = random.Random(18)
    for i in range(400):
        a = hostile_anomaly(r, emitted[i % len(emitted)])
        b = hostile_anomaly(r, emitted[(i + 1) % len(emitted)])
        for text, blocks in (render_single(a, _mention), render_group([a, b], _mention), render_root([b], _mention)):
            assert isinstance(text, str) and blocks
            orjson.dumps(blocks)  # a payload Slack can be sent
            assert isinstance(console_text(blocks_to_text(blocks)), str)
        assert isinstance(change_text(a, b, in_group=bool(i % 2)), str)


def test_the_make_fuzz_script_at_a_small_scale(tmp_path: Any) -> None:
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "bench.fuzz", "--mutants", "400", "--gpus", "2", "--hours", "0.5",
                        "--huge", "0.01", "--keep", str(tmp_path)], capture_output=True, timeout=300, text=True)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "output identical" in p.stdout and "crashes: 0" in p.stdout
