"""Exactly once on Apache Kafka: SIGKILLs at random instants (and inside a transaction commit), a
rebalance while a batch is in flight, every input offset processed once (the audit trail), the
anomaly events read with read_committed equal to `spendwatch replay`'s, none twice.

``test_kills_*``: 3 kills in the default run; the 10-kill trial is marked slow; rerun it (other
seeds and counts with SPENDWATCH_KILL_SEED / SPENDWATCH_KILLS) with
``.venv/bin/python -m pytest -p no:cacheprovider -m slow tests/streams/test_worker_exactly_once.py``.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafkatools import (
    INPUTS,
    Stream,
    Worker,
    anomalies,
    audit_problems,
    canonical,
    make_topics,
    produce,
    read_topic,
)

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]
AUDIT = {"SPENDWATCH__WORKER__AUDIT_TOPIC": "audit"}


def assert_exactly_replay(bootstrap: str, prefix: str, stream: Stream) -> None:
    """The committed outputs are replay's (ids, states, how many events of each), none twice; every
    input offset processed once.

    Not byte for byte: each partition's Engine has its own watermark (replay has one for the
    whole file), so a time-driven decision can be dated at a different event of its partition.
    """
    assert audit_problems(bootstrap, prefix) == []
    got = anomalies(bootstrap, prefix)
    dup = [k for k, n in Counter(canonical(got)).items() if n > 1]
    assert not dup, f"{len(dup)} anomaly events committed twice, e.g. {dup[0][:300]!r}"
    per_id = Counter((a["id"], a["state"]) for a in got)
    want = Counter((a["id"], a["state"]) for a in stream.expected)
    if per_id != want:
        ours, theirs = {i for i, _ in per_id}, {i for i, _ in want}
        raise AssertionError(f"ids only in the worker's output: {sorted(ours - theirs)}; only in replay's: "
                             f"{sorted(theirs - ours)}; counts differ: {sorted((per_id - want) + (want - per_id))}")
    final = {a["id"]: a["state"] for a in sorted(got, key=lambda a: a["ts"])}
    assert final == {a["id"]: a["state"] for a in stream.expected}
    dead = [orjson.loads(r.value) for r in read_topic(bootstrap, prefix + "spendwatch.deadletter")]
    where = Counter((d["topic"], d["partition"], d["offset"]) for d in dead)
    assert max(where.values()) == 1, [k for k, n in where.items() if n > 1]  # no input record dead-lettered twice
    # every copy of a bad line in the input topics is dead-lettered once, and the bad lines are replay's: a
    # producer retry across a broker's death can write an input record twice (aiokafka's idempotence does not
    # survive a leader change), and then both copies are bad input, each at its own offset
    records = {(r.topic, r.partition, r.offset): r.value for t in INPUTS for r in read_topic(bootstrap, prefix + t)}
    dead_values = Counter(records[k] for k in where)
    in_topics = Counter(v for v in records.values() if v in dead_values)
    in_lines = Counter(x.strip() for x in stream.lines if x.strip() in dead_values)
    assert dead_values == in_topics, "a copy of a bad input record was not dead-lettered"
    assert sum(in_lines.values()) == stream.bad, (sum(in_lines.values()), stream.bad)
    assert len(dead) == stream.bad + sum((in_topics - in_lines).values()), (len(dead), stream.bad)


def _feed(bootstrap: str, prefix: str, lines: list[bytes], slices: int, pause_s: float) -> threading.Thread:
    """Produce the stream in slices while workers come and go (live collectors)."""
    def run() -> None:
        step = max(1, len(lines) // slices)
        for i in range(0, len(lines), step):
            produce(bootstrap, prefix, lines[i:i + step])
            time.sleep(pause_s)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def kill_trial(bootstrap: str, prefix: str, group: str, tmp: Path, stream: Stream, kills: int,
               seed: int) -> list[Worker]:
    """``kills`` workers killed one after another (SIGKILL at a random instant; every third one kills
    itself inside a checkpoint, the first with a transaction commit in flight), then one that runs
    until its input is idle."""
    rng = random.Random(seed)
    make_topics(bootstrap, prefix, group)
    feeder = _feed(bootstrap, prefix, stream.lines, slices=kills * 3, pause_s=0.4)
    workers: list[Worker] = []
    try:
        for i in range(kills):
            env = dict(AUDIT)
            if i % 3 == 1:  # inside a checkpoint: commit in flight, state sent, offsets sent, outputs sent
                point = ("commit", "state_sent", "offsets_sent", "outputs")[(i // 3) % 4]
                env["SPENDWATCH_FAULT_KILL"] = f"{point}:{rng.randint(2, 6)}"
            w = Worker(bootstrap, prefix, group, tmp, "--checkpoint-interval", "0.3", name=f"w{i}", env=env)
            workers.append(w)
            deadline = time.monotonic() + 60
            while "partition assigned" not in w.log() and time.monotonic() < deadline and w.proc.poll() is None:
                time.sleep(0.05)
            if "SPENDWATCH_FAULT_KILL" in env:
                try:
                    w.wait(30)  # it kills itself inside a commit
                except Exception:  # noqa: BLE001 - no commit came: kill it from outside instead
                    w.kill()
            else:
                time.sleep(rng.uniform(0.1, 2.0))
                w.kill()
        feeder.join(120)
        last = Worker(bootstrap, prefix, group, tmp, "--exit-when-idle", "4", name="last", env=AUDIT)
        workers.append(last)
        assert last.wait(150) == 0, last.log()[-3000:]
    finally:
        for w in workers:
            w.kill()
    return workers


def test_kills_at_random_instants_lose_nothing_and_duplicate_nothing(kafka_bootstrap: str, unique: str,
                                                                     tmp_path: Path, stream: Stream) -> None:
    prefix, group = f"t{unique}.", f"g{unique}"
    workers = kill_trial(kafka_bootstrap, prefix, group, tmp_path, stream, kills=3, seed=1)
    assert "exactly once" in workers[0].log()
    assert "fault injection: SIGKILL at commit" in workers[1].log()  # it died with a commit in flight
    logs = "".join(w.log() for w in workers[1:])
    assert "restored=True" in logs and "state record refused" not in logs  # baselines came back
    assert_exactly_replay(kafka_bootstrap, prefix, stream)


@pytest.mark.slow
def test_ten_kills_lose_nothing_and_duplicate_nothing(kafka_bootstrap: str, unique: str, tmp_path: Path,
                                                      stream: Stream) -> None:
    prefix, group = f"t{unique}.", f"g{unique}"
    kills, seed = int(os.environ.get("SPENDWATCH_KILLS", "10")), int(os.environ.get("SPENDWATCH_KILL_SEED", "7"))
    workers = kill_trial(kafka_bootstrap, prefix, group, tmp_path, stream, kills=kills, seed=seed)
    assert sum("fault injection: SIGKILL at" in w.log() for w in workers) >= kills // 3 - 1
    assert_exactly_replay(kafka_bootstrap, prefix, stream)


def test_a_rebalance_while_a_batch_is_in_flight_skips_and_repeats_nothing(kafka_bootstrap: str, unique: str,
                                                                          tmp_path: Path, stream: Stream) -> None:
    prefix, group = f"t{unique}.", f"g{unique}"
    make_topics(kafka_bootstrap, prefix, group)
    produce(kafka_bootstrap, prefix, stream.lines)  # a backlog: batches are in flight all the time
    a = Worker(kafka_bootstrap, prefix, group, tmp_path, "--exit-when-idle", "5", name="a", env=AUDIT)
    b: Any = None
    try:
        deadline = time.monotonic() + 60
        while "partition assigned" not in a.log() and time.monotonic() < deadline:
            time.sleep(0.02)
        b = Worker(kafka_bootstrap, prefix, group, tmp_path, "--exit-when-idle", "5", name="b", env=AUDIT)
        assert a.wait(150) == 0, a.log()[-3000:]
        assert b.wait(150) == 0, b.log()[-3000:]
    finally:
        a.kill()
        if b is not None:
            b.kill()
    assert "partitions revoked" in a.log()  # the rebalance happened while a worked through the backlog
    assert "partition assigned" in b.log()
    assert_exactly_replay(kafka_bootstrap, prefix, stream)
