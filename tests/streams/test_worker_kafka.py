"""The worker against a real Kafka-protocol broker: equality with replay, crashes, scale-out, dead letters.

Every test uses its own topic prefix and consumer group on the session's Apache Kafka. Crashes at
random instants, inside commits and during rebalances are in ``test_worker_exactly_once.py``.
"""

from __future__ import annotations

import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafkatools import (
    Stream,
    Worker,
    assert_same_problems,
    committed_everything,
    make_topics,
    produce,
    read_topic,
    triples,
    wait_for_anomalies,
)

from detectors.engine import Engine
from streams.replay import ReplayStats, replay_lines

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(150)]


def test_one_worker_gives_the_same_anomalies_as_replay(kafka_bootstrap: str, unique: str, tmp_path: Path,
                                                       stream: Stream) -> None:
    lines, expected = stream.lines, stream.expected
    prefix = f"t{unique}."
    make_topics(kafka_bootstrap, prefix, f"g{unique}")
    assert produce(kafka_bootstrap, prefix, lines) == len(lines)
    w = Worker(kafka_bootstrap, prefix, f"g{unique}", tmp_path, "--exit-when-idle", "3")
    assert w.wait(120) == 0, w.log()[-3000:]
    got = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.anomalies")]
    assert_same_problems(got, expected)
    # not only the same problems: as many open/update/resolved events of each id as replay gives
    assert Counter((a["id"], a["state"]) for a in got) == Counter((a["id"], a["state"]) for a in expected)
    dead = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.deadletter")]
    assert len(dead) == stream.bad  # every malformed line, once
    # every record processed (or dead-lettered) and committed: nothing left for the next owner
    assert committed_everything(kafka_bootstrap, prefix, f"g{unique}") == (len(lines), len(lines))  # offsets 0..n-1


def test_two_workers_split_partitions_and_one_takes_over(kafka_bootstrap: str, unique: str, tmp_path: Path,
                                                        stream: Stream) -> None:
    lines, expected = stream.lines, stream.expected
    prefix, group = f"t{unique}.", f"g{unique}"
    half = len(lines) // 2
    a = Worker(kafka_bootstrap, prefix, group, tmp_path, name="a")
    b = Worker(kafka_bootstrap, prefix, group, tmp_path, name="b")
    try:
        # let both workers settle into one split before any input, so
        # the first worker in cannot take the whole first half alone
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            owned = [w.owned() for w in (a, b)]
            if owned[0] and owned[1] and owned[0] | owned[1] == {0, 1, 2, 3} and not owned[0] & owned[1]:
                break
            time.sleep(0.5)
        produce(kafka_bootstrap, prefix, lines[:half])
        first = triples(_replay(lines[:half]))
        assert first
        wait_for_anomalies(kafka_bootstrap, prefix, first, 60, [a, b])
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
        produce(kafka_bootstrap, prefix, lines[half:])
        got = wait_for_anomalies(kafka_bootstrap, prefix, triples(expected), 90, [b])
        assert b.owned() == {0, 1, 2, 3}  # b took over a's partitions
        assert b.terminate() == 0  # SIGTERM: graceful
        # ... with a final checkpoint: everything it consumed is committed
        assert committed_everything(kafka_bootstrap, prefix, group) == (len(lines), len(lines))
    finally:
        a.kill()
        b.kill()
    got = [orjson.loads(r.value) for r in read_topic(kafka_bootstrap, prefix + "spendwatch.anomalies")]
    assert_same_problems(got, expected)


def _replay(lines: list[bytes]) -> list[dict[str, Any]]:
    return list(replay_lines(lines, Engine(), ReplayStats()))

