"""The worker against a real Kafka-protocol broker: equality with replay, crashes, scale-out, dead letters.

Every test uses its own topic prefix and consumer group (Tansu keeps topics for the session)
and its own broker where it fills it with the whole scorecard stream.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafkatools import (
    Stream,
    Worker,
    committed_everything,
    produce,
    read_topic,
    scorecard,
    triples,
    wait_for_anomalies,
)

from detectors.engine import Engine
from streams.replay import ReplayStats, replay_lines

pytestmark = pytest.mark.timeout(150)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> Stream:
    s = scorecard(tmp_path_factory.mktemp("scorecard"))
    assert len(triples(s.expected)) >= 10, "the scorecard stream must give anomalies to compare"
    assert s.bad > 0, "the stream must hold malformed lines for the dead-letter checks"
    return s


def _ids_by_triple(events: list[dict[str, Any]]) -> dict[tuple[str, str, float], set[str]]:
    out: dict[tuple[str, str, float], set[str]] = {}
    for a in events:
        out.setdefault((a["kind"], a["resource"], a["started_at"]), set()).add(a["id"])
    return out


def _assert_same_problems(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    missing, extra = triples(expected) - triples(got), triples(got) - triples(expected)
    assert not missing and not extra, f"missing {sorted(missing)}; extra {sorted(extra)}"
    by = _ids_by_triple(got)
    assert all(len(ids) == 1 for ids in by.values()), {k: v for k, v in by.items() if len(v) > 1}
    assert {a["id"] for a in got} == {a["id"] for a in expected}
    # every problem that replay resolved is resolved on the topic too (nothing left dangling open)
    assert {a["id"] for a in got if a["state"] == "resolved"} == {a["id"] for a in expected if a["state"] == "resolved"}


def test_one_worker_gives_the_same_anomalies_as_replay(fresh_broker: str, unique: str, tmp_path: Path,
                                                       stream: Stream) -> None:
    lines, expected = stream.lines, stream.expected
    prefix = f"t{unique}."
    assert produce(fresh_broker, prefix, lines) == len(lines)
    w = Worker(fresh_broker, prefix, f"g{unique}", tmp_path, "--exit-when-idle", "3")
    assert w.wait(120) == 0, w.log()[-3000:]
    got = [orjson.loads(r.value) for r in read_topic(fresh_broker, prefix + "spendwatch.anomalies")]
    _assert_same_problems(got, expected)
    assert len(got) == len(expected)  # not only the same problems: the same open/update/resolved events
    dead = [orjson.loads(r.value) for r in read_topic(fresh_broker, prefix + "spendwatch.deadletter")]
    assert len(dead) == stream.bad  # every malformed line, once
    # every record processed (or dead-lettered) and committed: nothing left for the next owner
    assert committed_everything(fresh_broker, prefix, f"g{unique}") == (len(lines), len(lines))  # offsets 0..n-1


def test_sigkill_mid_stream_loses_nothing_and_keeps_ids(fresh_broker: str, unique: str, tmp_path: Path,
                                                        stream: Stream) -> None:
    lines, expected = stream.lines, stream.expected
    prefix, group = f"t{unique}.", f"g{unique}"
    n = len(lines)
    cuts = [0, n // 4, n // 2, 3 * n // 4, n]
    workers = []
    restored = 0.0
    try:
        for i in range(3):
            produce(fresh_broker, prefix, lines[cuts[i]:cuts[i + 1]])
            w = Worker(fresh_broker, prefix, group, tmp_path, name=f"w{i}")
            workers.append(w)
            # kill at different moments: while still joining/restoring, while processing, while input arrives
            assert w.wait_assigned(60), w.log()[-3000:]
            if i > 0:
                restored += w.metric("spendwatch_partitions_restored_total")
            if i == 1:
                time.sleep(0.3)
            elif i == 2:
                feeder = threading.Thread(target=produce, args=(fresh_broker, prefix, lines[cuts[3]:cuts[4]]))
                feeder.start()
                time.sleep(1.5)
            else:
                time.sleep(2.5)  # long enough for a checkpoint
            w.kill()
            if i == 2:
                feeder.join(60)
        last = Worker(fresh_broker, prefix, group, tmp_path, "--exit-when-idle", "4", name="last")
        workers.append(last)
        assert last.wait(120) == 0, last.log()[-3000:]
    finally:
        for w in workers:
            w.kill()
    assert restored > 0  # later workers continued from snapshots, not from a cold Engine
    got = [orjson.loads(r.value) for r in read_topic(fresh_broker, prefix + "spendwatch.anomalies")]
    _assert_same_problems(got, expected)


def test_two_workers_split_partitions_and_one_takes_over(fresh_broker: str, unique: str, tmp_path: Path,
                                                        stream: Stream) -> None:
    lines, expected = stream.lines, stream.expected
    prefix, group = f"t{unique}.", f"g{unique}"
    half = len(lines) // 2
    a = Worker(fresh_broker, prefix, group, tmp_path, name="a")
    b = Worker(fresh_broker, prefix, group, tmp_path, name="b")
    try:
        # group joins are slow on Tansu: let both workers settle into one split before any input, so
        # the first worker in cannot take the whole first half alone
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            owned = [w.owned() for w in (a, b)]
            if owned[0] and owned[1] and owned[0] | owned[1] == {0, 1, 2, 3} and not owned[0] & owned[1]:
                break
            time.sleep(0.5)
        produce(fresh_broker, prefix, lines[:half])
        first = triples(_replay(lines[:half]))
        assert first
        wait_for_anomalies(fresh_broker, prefix, first, 60, [a, b])
        owned = [w.owned() for w in (a, b)]
        assert owned[0] and owned[1] and not owned[0] & owned[1], owned  # split, no overlap
        assert owned[0] | owned[1] == {0, 1, 2, 3}
        # co-partitioned: every topic of a partition number goes to the same worker
        assert a.metric("spendwatch_split_partitions") == 0 and b.metric("spendwatch_split_partitions") == 0
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{a.port}/metrics", timeout=5).read().decode()
        for name in ("spendwatch_events_in_total", "spendwatch_bad_events_total", "spendwatch_anomalies_out_total",
                     "spendwatch_event_time_lag_seconds", "spendwatch_snapshot_age_seconds",
                     "spendwatch_batch_records_bucket"):
            assert name in metrics, name
        a.kill()
        produce(fresh_broker, prefix, lines[half:])
        got = wait_for_anomalies(fresh_broker, prefix, triples(expected), 90, [b])
        assert b.owned() == {0, 1, 2, 3}  # b took over a's partitions
        assert b.terminate() == 0  # SIGTERM: graceful
        # ... with a final checkpoint: everything it consumed is committed
        assert committed_everything(fresh_broker, prefix, group) == (len(lines), len(lines))
    finally:
        a.kill()
        b.kill()
    got = [orjson.loads(r.value) for r in read_topic(fresh_broker, prefix + "spendwatch.anomalies")]
    _assert_same_problems(got, expected)


def _replay(lines: list[bytes]) -> list[dict[str, Any]]:
    return list(replay_lines(lines, Engine(), ReplayStats()))

