"""A 3-broker Apache Kafka cluster with 2 workers: a broker killed and restarted mid-stream, a worker
killed and its partitions taken over; the union of the committed outputs equals replay, once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from kafkatools import Stream, Worker, audit_problems, make_topics, produce
from test_worker_exactly_once import AUDIT, assert_exactly_replay

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(300)]


def test_broker_and_worker_die_mid_stream_and_the_outputs_are_replay_once(cluster3: Any, unique: str,
                                                                           tmp_path: Path, stream: Stream) -> None:
    boot = cluster3.bootstrap
    prefix, group = f"t{unique}.", f"g{unique}"
    make_topics(boot, prefix, group, partitions=4, replication=3)
    a = Worker(boot, prefix, group, tmp_path, "--replication", "3", name="a", env=AUDIT)
    b = Worker(boot, prefix, group, tmp_path, "--replication", "3", name="b", env=AUDIT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            owned = [w.owned() for w in (a, b)]
            if owned[0] and owned[1] and owned[0] | owned[1] == {0, 1, 2, 3} and not owned[0] & owned[1]:
                break
            time.sleep(0.3)
        lines = stream.lines
        step = len(lines) // 12

        def feed() -> None:
            for i in range(0, len(lines), step):
                produce(boot, prefix, lines[i:i + step])
                time.sleep(0.5)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        time.sleep(2.0)
        cluster3.kill(1)  # a broker dies mid-stream: leaders and transaction coordinators move
        time.sleep(3.0)
        cluster3.restart(1)
        time.sleep(1.0)
        a.kill()  # a worker dies: b takes its partitions over from their last committed state
        feeder.join(120)
        deadline = time.monotonic() + 120
        while audit_problems(boot, prefix) and time.monotonic() < deadline:
            assert b.proc.poll() is None, b.log()[-3000:]
            time.sleep(2.0)
        assert b.owned() == {0, 1, 2, 3}  # b took a's partitions over
        assert b.terminate() == 0
    finally:
        a.kill()
        b.kill()
    assert "restored=True" in b.log().split("partitions revoked")[-1]
    assert_exactly_replay(boot, prefix, stream)
