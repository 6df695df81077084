"""`spendwatch replay` end to end, determinism, and snapshot/restore of the Engine mid-stream."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from spendwatch.errors import BadEvent
from spendwatch.events import decode

CLI = [sys.executable, "-m", "spendwatch.cli"]


def _replay(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, "replay", *args], capture_output=True, timeout=180,
                          env={**os.environ, "PYTHONHASHSEED": "0"})


@pytest.fixture(scope="module")
def stream_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four hours of a 16-GPU fleet with every problem injected and some malformed lines."""
    sim = simulate(SimConfig(hours=4, gpus=16, seed=11, billing_days=8, bad_fraction=0.002))
    path = tmp_path_factory.mktemp("replay") / "events.jsonl"
    with open(path, "wb") as f:
        sim.write(f)
    assert sim.bad_lines > 0
    return path


@pytest.fixture(scope="module")
def replayed(stream_file: Path) -> subprocess.CompletedProcess[bytes]:
    """``spendwatch replay FILE`` of the module's stream, to stdout (one run shared by the tests)."""
    return _replay(str(stream_file))


def test_replay_exits_0_reports_bad_lines_with_numbers_and_writes_stdout(
        stream_file: Path, replayed: subprocess.CompletedProcess[bytes]) -> None:
    p = replayed
    assert p.returncode == 0, p.stderr[-2000:]
    lines = stream_file.read_bytes().split(b"\n")
    bad_numbers = []
    for i, raw in enumerate(lines, 1):
        if raw.strip():
            try:
                decode(raw)
            except BadEvent:
                bad_numbers.append(i)
    err = p.stderr.decode()
    for n in bad_numbers[:20]:
        assert f"{stream_file}:{n}: bad input:" in err
    assert f"{len(bad_numbers):,} bad lines" in err
    out = [orjson.loads(x) for x in p.stdout.splitlines()]
    assert out and all(a["type"] == "anomaly" and a["state"] in ("open", "resolved") for a in out)


def test_replay_out_file_equals_stdout_and_is_byte_identical_twice(
        stream_file: Path, tmp_path: Path, replayed: subprocess.CompletedProcess[bytes]) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    p1 = _replay(str(stream_file), "--out", str(first))
    p2 = _replay(str(stream_file), "--out", str(second))
    assert p1.returncode == p2.returncode == 0
    assert p1.stdout == b""  # everything went to --out
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() == replayed.stdout


def test_replay_reads_stdin(stream_file: Path, replayed: subprocess.CompletedProcess[bytes]) -> None:
    p = subprocess.run([*CLI, "replay", "-"], input=stream_file.read_bytes(), capture_output=True, timeout=180)
    assert p.returncode == 0
    assert p.stdout == replayed.stdout


@pytest.mark.parametrize("what", ["missing", "directory"])
def test_replay_fails_when_the_file_cannot_be_read(tmp_path: Path, what: str) -> None:
    target = tmp_path / "nope.jsonl" if what == "missing" else tmp_path
    p = _replay(str(target))
    assert p.returncode != 0
    assert b"cannot read" in p.stderr


def test_replay_of_an_empty_file_is_fine(tmp_path: Path) -> None:
    f = tmp_path / "empty.jsonl"
    f.write_bytes(b"")
    p = _replay(str(f))
    assert p.returncode == 0 and p.stdout == b""


def _events(path: Path) -> list[dict[str, object]]:
    out = []
    for raw in path.read_bytes().split(b"\n"):
        try:
            out.append(decode(raw))
        except BadEvent:
            continue
    return out


def test_snapshot_restore_mid_stream_gives_the_same_output(stream_file: Path) -> None:
    def fresh() -> list[dict[str, object]]:
        return _events(stream_file)  # validation normalises in place: every run gets its own dicts

    whole = Engine()
    expected = [orjson.dumps(a) for a in whole.process_many(fresh())]
    assert len(expected) > 5
    n = len(fresh())
    for cut in (1, n // 7, n // 3, n // 2, n - 10):
        events = fresh()
        first = Engine()
        got = [orjson.dumps(a) for a in first.process_many(events[:cut])]
        blob = first.snapshot()
        second = Engine()  # a new process: nothing shared but the snapshot bytes
        second.restore(blob)
        got += [orjson.dumps(a) for a in second.process_many(events[cut:])]
        assert got == expected, f"cut at {cut}"
        assert second.open_anomaly_ids == whole.open_anomaly_ids


def test_restored_engine_never_reopens_a_resolved_problem(stream_file: Path) -> None:
    events = _events(stream_file)
    e = Engine()
    out = e.process_many(events)
    resolved = {a["id"] for a in out if a["state"] == "resolved"}
    e2 = Engine()
    e2.restore(e.snapshot())
    again = e2.process_many(_events(stream_file))  # the whole stream replayed after a restore: all late
    assert not ({a["id"] for a in again if a["state"] == "open"} & resolved)


def test_a_line_longer_than_the_bound_is_bad_input_and_never_read_whole(tmp_path: Path) -> None:
    import io

    from streams.replay import bounded_lines

    big = b'{"type": "gpu_sample", "note": "' + b"x" * (5 << 20) + b'"}'
    src = io.BytesIO(b'{"a": 1}\n' + big + b"\n" + b'{"b": 2}\n' + big)
    got = list(bounded_lines(src))
    assert [len(x) for x in got] == [9, (1 << 20) + 1, 9, (1 << 20) + 1]
    f = tmp_path / "long.jsonl"
    f.write_bytes(b'{"a": 1}\n' + big + b"\n")
    p = _replay(str(f))
    assert p.returncode == 0 and f"{f}:2: bad input: value is longer than 1,048,576 bytes".encode() in p.stderr
