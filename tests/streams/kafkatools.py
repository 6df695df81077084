"""Test helpers: produce a JSON-lines file to the contract topics, read a topic back, run workers."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from collectors.produce import produce_lines
from spendwatch.kafka import KafkaConfig
from streams import topics
from streams.kafka_local import free_port

ROOT = Path(__file__).resolve().parents[2]


def kcfg(bootstrap: str, prefix: str) -> KafkaConfig:
    return replace(KafkaConfig(), bootstrap_servers=bootstrap, topic_prefix=prefix)


def produce(bootstrap: str, prefix: str, lines: list[bytes], idempotent: bool = True) -> int:
    """Produce as live collectors would: small batches keep the topics interleaved in event time
    (tests produce while workers consume); idempotent (no duplicates when a broker dies)."""
    return asyncio.run(produce_lines(kcfg(bootstrap, prefix), lines, max_batch_bytes=16384, idempotent=idempotent))


def read_topic(bootstrap: str, topic: str, idle_s: float = 1.5, timeout_s: float = 30.0) -> list[Any]:
    """Every record of ``topic`` from the beginning (no group), until nothing came for ``idle_s``."""
    return asyncio.run(topics.read_topic(KafkaConfig(bootstrap_servers=bootstrap), topic, idle_s, timeout_s))


def anomalies(bootstrap: str, prefix: str, **kw: Any) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in read_topic(bootstrap, prefix + "spendwatch.anomalies", **kw)]


def triples(events: list[dict[str, Any]]) -> set[tuple[str, str, float]]:
    return {(a["kind"], a["resource"], a["started_at"]) for a in events}


def worker_cmd(bootstrap: str, prefix: str, group: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "spendwatch.cli", "--log-level", "INFO", "worker", "--bootstrap", bootstrap,
            "--topic-prefix", prefix, "--group", group, "--partitions", "4", "--metrics-port", str(port),
            "--session-timeout", "3", "--heartbeat-interval", "0.5", "--checkpoint-interval", "1", *extra]


class Worker:
    """A ``spendwatch worker`` subprocess with its log file and metrics port (``env``: more variables,
    e.g. ``SPENDWATCH_FAULT_KILL`` or ``SPENDWATCH__WORKER__AUDIT_TOPIC``)."""

    def __init__(self, bootstrap: str, prefix: str, group: str, tmp: Path, *extra: str, name: str = "worker",
                 env: dict[str, str] | None = None):
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(worker_cmd(bootstrap, prefix, group, self.port, "--data-dir",
                                                    str(tmp / name), *extra),
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})})

    def log(self) -> str:
        """What it logged (for failure messages; tests assert on results and metrics)."""
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        """Its /metrics now, by sample name: (labels, value) pairs; empty while it is not serving."""
        from prometheus_client.parser import text_string_to_metric_families

        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5).read().decode()
        except OSError:
            return {}
        out: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return out

    def metric(self, name: str) -> float:
        """The value of an unlabelled metric (0 when absent)."""
        return sum(v for _labels, v in self.metrics().get(name, []))

    def owned(self) -> set[int]:
        """Partition numbers it owns now (``spendwatch_partition_owned``)."""
        return {int(labels["partition"]) for labels, v in self.metrics().get("spendwatch_partition_owned", []) if v}

    def wait_assigned(self, timeout_s: float = 60.0) -> bool:
        """Wait until it owns at least one partition."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.metric("spendwatch_assigned_partitions") > 0:
                return True
            if self.proc.poll() is not None:
                return False
            time.sleep(0.1)
        return False

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        stop(self.proc, signal.SIGKILL)

    def terminate(self, timeout: float = 20.0) -> int:
        return stop(self.proc, signal.SIGTERM, timeout)


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class Stream(NamedTuple):
    lines: list[bytes]
    expected: list[dict[str, Any]]  # what `spendwatch replay` makes of the lines
    events: int  # valid events in the lines
    bad: int  # malformed lines


def scorecard(tmp: Path) -> Stream:
    """The public scorecard stream (seed 1) when shared/ is beside the checkout (as in CI), else a
    simulated fleet of the same shape (12 h, all injections, 0.3 % malformed lines); and what
    ``spendwatch replay`` makes of it."""
    gen = ROOT.parent / "shared" / "eval" / "scorecard.py"
    events = tmp / "sc" / "events.jsonl"
    if gen.is_file():
        subprocess.run([sys.executable, str(gen), "gen", str(tmp / "sc"), "--seed", "1"], check=True,
                       capture_output=True, timeout=60)
    else:
        events.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "spendwatch.cli", "simulate", "--hours", "12", "--gpus", "8",
                        "--billing-days", "10", "--bad-fraction", "0.003", "--out", str(events)],
                       check=True, capture_output=True, timeout=60, cwd=ROOT)
    replay = subprocess.run([sys.executable, "-m", "spendwatch.cli", "replay", str(events), "--out",
                             str(tmp / "replay.jsonl")], check=True, capture_output=True, text=True, timeout=120,
                            cwd=ROOT)
    counts = re.search(r"replay: ([\d,]+) events, ([\d,]+) bad lines", replay.stderr)
    assert counts, replay.stderr[-2000:]
    lines = events.read_bytes().splitlines()
    return Stream(lines, [orjson.loads(x) for x in (tmp / "replay.jsonl").read_bytes().splitlines()],
                  int(counts.group(1).replace(",", "")), int(counts.group(2).replace(",", "")))


def _ids_by_triple(events: list[dict[str, Any]]) -> dict[tuple[str, str, float], set[str]]:
    out: dict[tuple[str, str, float], set[str]] = {}
    for a in events:
        out.setdefault((a["kind"], a["resource"], a["started_at"]), set()).add(a["id"])
    return out


def assert_same_problems(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """The worker's anomaly events (``got``) name the problems replay found (``expected``): the same
    (kind, resource, start) triples, one id each, the same ids, the same ones resolved."""
    missing, extra = triples(expected) - triples(got), triples(got) - triples(expected)
    assert not missing and not extra, f"missing {sorted(missing)}; extra {sorted(extra)}"
    by = _ids_by_triple(got)
    assert all(len(ids) == 1 for ids in by.values()), {k: v for k, v in by.items() if len(v) > 1}
    assert {a["id"] for a in got} == {a["id"] for a in expected}
    # every problem that replay resolved is resolved on the topic too (nothing left dangling open)
    assert {a["id"] for a in got if a["state"] == "resolved"} == {a["id"] for a in expected if a["state"] == "resolved"}


def wait_for_anomalies(bootstrap: str, prefix: str, want: set[tuple[str, str, float]], timeout_s: float,
                       procs: list[Worker] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Read the anomalies topic until it holds every wanted triple (or time runs out)."""
    deadline = time.monotonic() + timeout_s
    got: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        got = anomalies(bootstrap, prefix, idle_s=1.0)
        if want <= triples(got):
            return got
        for w in procs:
            assert w.proc.poll() is None, f"worker exited early:\n{w.log()[-3000:]}"
        time.sleep(1.0)
    return got


def committed_everything(bootstrap: str, prefix: str, group: str) -> tuple[int, int]:
    """(records on the worker's input topics, offsets committed by ``group`` past them): equal once every
    record was processed or dead-lettered and the group committed past it. The records' own
    offsets are read back (Tansu's ListOffsets answers the last batch's base offset, not the
    high-water mark)."""
    from kafka import KafkaConsumer, TopicPartition

    kafka = kcfg(bootstrap, prefix)
    high: dict[TopicPartition, int] = {}
    records = 0
    for etype in topics.WORKER_INPUTS:  # the contract's four inputs and feedback
        for r in asyncio.run(topics.read_topic(KafkaConfig(bootstrap_servers=bootstrap), kafka.topic(etype),
                                               idle_s=0.5)):
            tp = TopicPartition(r.topic, r.partition)
            high[tp] = max(high.get(tp, 0), r.offset + 1)
            records += 1
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        committed = sum(consumer.committed(tp) or 0 for tp in high)
    finally:
        consumer.close()
    return records, committed


INPUTS = ("spendwatch.gpu.samples", "spendwatch.billing.deltas", "spendwatch.training.runs",
          "spendwatch.model.observations")


def end_offsets(bootstrap: str, names: list[str]) -> dict[tuple[str, int], int]:
    """(topic, partition) -> end offset (read_committed: the last stable offset)."""
    async def go() -> dict[tuple[str, int], int]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, isolation_level="read_committed")
        await c.start()
        try:
            tps = [TopicPartition(t, p) for t in names for p in (c.partitions_for_topic(t) or
                                                                  await _partitions(c, t))]
            return {(tp.topic, tp.partition): off for tp, off in (await c.end_offsets(tps)).items()}
        finally:
            await c.stop()

    return asyncio.run(go())


async def _partitions(c: Any, topic: str) -> set[int]:
    await c._client.force_metadata_update()
    return c.partitions_for_topic(topic) or set()


def audit_problems(bootstrap: str, prefix: str, audit_topic: str = "audit") -> list[str]:
    """Check the worker's audit trail: the committed processed ranges of every input topic partition
    tile [0, end) exactly once. Returns what is wrong (empty: every record processed exactly once)."""
    ranges: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
    for r in read_topic(bootstrap, prefix + audit_topic):
        a = orjson.loads(r.value)
        ranges.setdefault((a["topic"], a["partition"]), []).append((a["first"], a["last"], a["count"]))
    problems = []
    for (topic, part), end in end_offsets(bootstrap, [prefix + t for t in INPUTS]).items():
        expect = 0
        for first, last, count in sorted(ranges.get((topic, part), [])):
            if count != last - first + 1:
                problems.append(f"{topic}[{part}] {first}-{last}: {count} records processed for "
                                f"{last - first + 1} offsets")
            if first > expect:
                problems.append(f"{topic}[{part}] offsets {expect}-{first - 1} never processed")
            elif first < expect:
                problems.append(f"{topic}[{part}] offsets {first}-{min(last, expect - 1)} processed twice")
            expect = max(expect, last + 1)
        if expect < end:
            problems.append(f"{topic}[{part}] offsets {expect}-{end - 1} never processed (end {end})")
    return problems


def canonical(events: list[dict[str, Any]]) -> list[bytes]:
    """Anomaly events as sorted canonical JSON (to compare event lists as multisets)."""
    return sorted(orjson.dumps(e, option=orjson.OPT_SORT_KEYS) for e in events)


def make_topics(bootstrap: str, prefix: str, group: str, partitions: int = 4, replication: int = 1,
                state_config: dict[str, str] | None = None) -> None:
    """Create the worker's topics before anything is produced (auto-created topics get one partition)."""
    from streams.topics import WorkerTopics, ensure_topics

    k = kcfg(bootstrap, prefix)
    asyncio.run(ensure_topics(k, WorkerTopics.of(k, group, "audit"), partitions, replication,
                              state_config=state_config))
