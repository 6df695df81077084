"""Test helpers: produce a JSON-lines file to the contract topics, read a topic back, run workers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson

from spendwatch.broker import free_port
from spendwatch.kafka import KafkaConfig
from streams import source
from streams.source import produce_lines

ROOT = Path(__file__).resolve().parents[2]


def kcfg(bootstrap: str, prefix: str) -> KafkaConfig:
    return replace(KafkaConfig(), bootstrap_servers=bootstrap, topic_prefix=prefix)


def produce(bootstrap: str, prefix: str, lines: list[bytes]) -> int:
    return asyncio.run(produce_lines(kcfg(bootstrap, prefix), lines))


def read_topic(bootstrap: str, topic: str, idle_s: float = 1.5, timeout_s: float = 30.0) -> list[Any]:
    """Every record of ``topic`` from the beginning (no group), until nothing came for ``idle_s``."""
    return asyncio.run(source.read_topic(KafkaConfig(bootstrap_servers=bootstrap), topic, idle_s, timeout_s))


def anomalies(bootstrap: str, prefix: str, **kw: Any) -> list[dict[str, Any]]:
    return [orjson.loads(r.value) for r in read_topic(bootstrap, prefix + "spendwatch.anomalies", **kw)]


def triples(events: list[dict[str, Any]]) -> set[tuple[str, str, float]]:
    return {(a["kind"], a["resource"], a["started_at"]) for a in events}


def worker_cmd(bootstrap: str, prefix: str, group: str, port: int, *extra: str) -> list[str]:
    return [sys.executable, "-m", "spendwatch.cli", "--log-level", "INFO", "worker", "--bootstrap", bootstrap,
            "--topic-prefix", prefix, "--group", group, "--partitions", "4", "--metrics-port", str(port),
            "--session-timeout", "3", "--heartbeat-interval", "0.5", "--checkpoint-interval", "1", *extra]


class Worker:
    """A ``spendwatch worker`` subprocess with its log file and metrics port."""

    def __init__(self, bootstrap: str, prefix: str, group: str, tmp: Path, *extra: str, name: str = "worker"):
        self.port = free_port()
        self.log_path = tmp / f"{name}.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(worker_cmd(bootstrap, prefix, group, self.port, "--data-dir",
                                                    str(tmp / name), *extra),
                                         cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

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


def scorecard(tmp: Path) -> tuple[list[bytes], list[dict[str, Any]]]:
    """The scorecard stream (seed 1) and what ``spendwatch replay`` makes of it."""
    gen = ROOT.parent / "shared" / "eval" / "scorecard.py"
    subprocess.run([sys.executable, str(gen), "gen", str(tmp / "sc"), "--seed", "1"], check=True,
                   capture_output=True, timeout=60)
    events = tmp / "sc" / "events.jsonl"
    subprocess.run([sys.executable, "-m", "spendwatch.cli", "replay", str(events), "--out", str(tmp / "replay.jsonl")],
                   check=True, capture_output=True, timeout=120, cwd=ROOT)
    lines = events.read_bytes().splitlines()
    return lines, [orjson.loads(x) for x in (tmp / "replay.jsonl").read_bytes().splitlines()]


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
