"""The poison records of a reliability trial (issue 14), as regression cases through ``spendwatch replay``.

Each case puts a few hostile but plausible records into a small simulated stream that has open
problems at that point, runs the real command, and checks that the command goes on (exit 0),
reports the hostile lines by number when they are bad input, and that the anomalies it writes are
the ones of the same stream without those lines. The worker's versions of these cases belong
with the worker tests (``tests/streams``).
"""

from __future__ import annotations

import copy
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from collectors.simulate import SimConfig, simulate
from detectors.engine import Engine
from spendwatch.config import Settings
from streams.replay import ReplayStats, replay_lines

CLI = [sys.executable, "-m", "spendwatch.cli"]
AT = 5500  # a line in the middle of the stream: idle GPUs, hoarding and drift are open there
YEAR = 365 * 86400.0


@pytest.fixture(scope="module")
def base() -> list[bytes]:
    """Three hours of an 8-GPU fleet with every problem injected (about 10k lines)."""
    return simulate(SimConfig(hours=3, gpus=8, seed=5, billing_days=1)).lines


@pytest.fixture(scope="module")
def clean_out(base: list[bytes], tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("clean") / "clean.jsonl"
    path.write_bytes(b"".join(line.rstrip(b"\n") + b"\n" for line in base))
    p = _replay(path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count(b"\n") >= 8  # the simulator injects every problem: each opens
    return p.stdout


def _replay(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*CLI, "replay", str(path), *args], capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONHASHSEED": "0"})


def _with(base: list[bytes], at: int, extra: list[bytes], tmp_path: Path) -> tuple[Path, list[int]]:
    """The stream with ``extra`` lines inserted before line ``at``; their 1-based line numbers."""
    lines = [line.rstrip(b"\n") for line in base]
    lines[at:at] = extra
    path = tmp_path / "poisoned.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path, list(range(at + 1, at + 1 + len(extra)))


def _first(base: list[bytes], etype: str, at: int) -> dict[str, Any]:
    for raw in base[at:]:
        ev: dict[str, Any] = orjson.loads(raw)
        if ev["type"] == etype:
            return ev
    raise AssertionError(f"no {etype} after line {at}")


def _assert_reported(stderr: bytes, path: Path, numbers: list[int], field: str) -> None:
    err = stderr.decode()
    for n in numbers:
        assert f"{path}:{n}: bad input: {field}" in err, err[-3000:]


# ------------------------------------------------------------------- crash loops from one record
def test_a_status_or_charge_category_that_is_an_array_or_object_is_bad_input(base: list[bytes], clean_out: bytes,
                                                                            tmp_path: Path) -> None:
    """A training_run whose status is an array or an object raised TypeError (unhashable) inside
    validation: replay exited 1 and wrote nothing after that line; the worker crash-looped."""
    runs = []
    for status in (["succeeded"], {"state": "failed"}, [], {}):
        run = _first(base, "training_run", 0)
        run["status"] = status
        runs.append(orjson.dumps(run))
    row = _first(base, "billing_delta", 0)
    row["charge_category"] = ["usage"]
    path, numbers = _with(base, AT, [*runs, orjson.dumps(row)], tmp_path)
    p = _replay(path)
    assert p.returncode == 0, p.stderr[-2000:]
    _assert_reported(p.stderr, path, numbers[:4], "status")
    _assert_reported(p.stderr, path, numbers[4:], "charge_category")
    assert p.stdout == clean_out


def test_deep_and_huge_unknown_fields_stay_out_of_detector_state(base: list[bytes]) -> None:
    """A 600-deep unknown field made every snapshot fail (RecursionError); 0.9 MB unknown fields on
    the last samples of the GPUs pushed a snapshot past 16 MiB. Unknown fields are ignored: never kept."""
    clean = Engine()
    list(replay_lines(base[:AT], clean, ReplayStats()))
    clean_size = len(clean.snapshot())
    lines = with_huge_unknown_fields(list(base[:AT]), AT)
    engine = Engine()
    stats = ReplayStats()
    list(replay_lines(lines, engine, stats))
    assert stats.bad == 0 and stats.events == AT
    blob = engine.snapshot()  # never a RecursionError
    assert len(blob) < clean_size + 64 * 1024, (len(blob), clean_size)
    restored = Engine()
    restored.restore(blob)
    assert restored.open_anomaly_ids == engine.open_anomaly_ids == clean.open_anomaly_ids


def with_huge_unknown_fields(lines: list[bytes], at: int) -> list[bytes]:
    """``lines`` with, on the last sample of every GPU (or MIG slice) before line ``at``, a 0.9 MB or
    a 600-deep unknown field, a 100 kB unknown workload field and 10 kB unknown process fields."""
    last: dict[str, int] = {}
    for i, raw in enumerate(lines[:at]):
        ev = orjson.loads(raw)
        if ev["type"] == "gpu_sample":
            last[f"{ev['node']}/{ev.get('mig_uuid') or ev['gpu_uuid']}"] = i
    assert len(last) >= 8
    for n, i in enumerate(sorted(last.values())):
        ev = orjson.loads(lines[i])
        if ev["workload"]:
            ev["workload"]["extra"] = "y" * 100_000
        ev["processes"] = [{**p, "cmdline": "z" * 10_000} for p in ev.get("processes") or []]
        if n % 2:
            ev["vendor_blob"] = "x" * 900_000
            lines[i] = orjson.dumps(ev)
        else:
            lines[i] = _dumps_deep(ev, 600)
    return lines


def _dumps_deep(ev: dict[str, Any], depth: int) -> bytes:
    """``ev`` with an unknown field nested ``depth`` objects deep (orjson writes at most 254 levels)."""
    return orjson.dumps(ev)[:-1] + b',"vendor_tree":' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"


# ------------------------------------------------------------------------ valid but absurd values
def test_absurd_money_is_bad_input_and_the_real_spike_is_still_found(base: list[bytes], clean_out: bytes,
                                                                     tmp_path: Path) -> None:
    """price_per_hour_usd = 1.7e308 gave projected_daily_usd inf (null in JSON); 50 billing rows at
    1.7e308 gave spurious cost spikes. Money above ``limits.max_event_usd`` is bad input."""
    gpu = _first(base, "gpu_sample", AT)
    gpu["price_per_hour_usd"] = 1.7e308
    row = _first(base, "billing_delta", 0)
    rows = []
    for i in range(50):
        r = copy.deepcopy(row)
        r["cost_usd"] = 1.7e308
        r["resource_id"] = f"absurd-{i}"
        rows.append(orjson.dumps(r))
    path, numbers = _with(base, AT, [orjson.dumps(gpu), *rows], tmp_path)
    db = tmp_path / "history.db"
    p = _replay(path, "--history", f"sqlite:///{db}")
    assert p.returncode == 0, p.stderr[-2000:]
    _assert_reported(p.stderr, path, numbers[:1], "price_per_hour_usd")
    _assert_reported(p.stderr, path, numbers[1:], "cost_usd")
    assert p.stdout == clean_out


def test_absurd_money_allowed_by_the_settings_never_gives_a_non_finite_figure(base: list[bytes],
                                                                              tmp_path: Path) -> None:
    """With the ceiling lifted, 1.7e308 prices and costs still give finite figures, and the history
    store records every anomaly event."""
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("limits:\n  max_event_usd: .inf\n", encoding="utf-8")
    lines = [line.rstrip(b"\n") for line in base]
    for i, raw in enumerate(lines):
        ev = orjson.loads(raw)
        if ev["type"] == "gpu_sample" and i % 3 == 0:
            ev["price_per_hour_usd"] = 1.7e308
        elif ev["type"] in ("billing_delta", "training_run") and ev.get("cost_usd") is not None:
            ev["cost_usd"] = 1.7e308
        lines[i] = orjson.dumps(ev)
    path = tmp_path / "absurd.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "history.db"
    p = _replay(path, "--config", str(cfg), "--history", f"sqlite:///{db}")
    assert p.returncode == 0, p.stderr[-2000:]
    out = [orjson.loads(x) for x in p.stdout.splitlines()]
    assert out
    for a in out:
        for name in ("waste_usd", "projected_daily_usd"):
            assert isinstance(a[name], float | int) and math.isfinite(a[name]), a
    lifted = Engine(Settings(sections={"limits": {"max_event_usd": math.inf}}))
    emitted = list(replay_lines(lines, lifted, ReplayStats()))  # the events as built, before any JSON
    assert all(_finite(a) for a in emitted)  # anomalies and insights
    insights = [a for a in emitted if a["type"] == "insight"]
    assert len(emitted) - len(insights) == len(out)  # stdout carries the anomalies only
    engine = sa.create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("select count(*) from sw_anomaly_events")).scalar()
    engine.dispose()
    last_state = {a["id"]: a["state"] for a in emitted}
    still_open = sum(1 for state in last_state.values() if state != "resolved")
    # the history records insights too, and closes what is still open at the file's end (ended_with_input)
    assert still_open > 0 and stored == len(emitted) + still_open


def _finite(v: Any) -> bool:
    """No NaN or infinity anywhere in ``v`` (an overflowed evidence figure is null instead)."""
    if isinstance(v, dict):
        return all(_finite(x) for x in v.values())
    if isinstance(v, list | tuple):
        return all(_finite(x) for x in v)
    return not isinstance(v, float) or math.isfinite(v)


@pytest.mark.parametrize("ahead", [YEAR, "1e11"])
def test_one_sample_dated_far_ahead_does_not_move_the_watermark(base: list[bytes], clean_out: bytes,
                                                                tmp_path: Path, ahead: Any) -> None:
    """One GPU sample a year ahead (or ts = 1e11) resolved four open problems early and re-opened
    three under new ids. Now it is bad input, reported with its line number."""
    gpu = _first(base, "gpu_sample", AT)
    gpu["ts"] = 1e11 if ahead == "1e11" else gpu["ts"] + ahead
    path, numbers = _with(base, AT, [orjson.dumps(gpu)], tmp_path)
    p = _replay(path)
    assert p.returncode == 0, p.stderr[-2000:]
    _assert_reported(p.stderr, path, numbers, "ts")
    assert p.stdout == clean_out


# ------------------------------------------------------------------------ downstream: the history
def _nul_stream(base: list[bytes]) -> list[bytes]:
    """Every GPU sample and billing row carries NUL in its workload id, owner and team."""
    out = []
    for raw in base:
        ev = orjson.loads(raw)
        w = ev.get("workload")
        if ev["type"] in ("gpu_sample", "billing_delta") and w:
            w["owner"] = w.get("owner", "o") + "\u0000evil"
            w["team"] = "te\u0000am"
            w["id"] = w["id"] + "\u0000"
            raw = orjson.dumps(ev)
        out.append(raw.rstrip(b"\n"))
    return out


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_nul_in_workload_text_is_stored_on_both_databases(base: list[bytes], tmp_path: Path,
                                                          request: pytest.FixtureRequest, db: str) -> None:
    url = f"sqlite:///{tmp_path}/h.db" if db == "sqlite" else str(request.getfixturevalue("pg_schema_url"))
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b"\n".join(_nul_stream(base)) + b"\n")
    p = _replay(path, "--history", url)
    assert p.returncode == 0, p.stderr[-2000:]
    written = [orjson.loads(x) for x in p.stdout.splitlines()]
    idle = [a for a in written if a["kind"] in ("idle_gpu", "gpu_memory_hoarding") and a["workload"]]
    assert idle and all("\u0000" in a["workload"]["team"] for a in idle)
    q = subprocess.run([*CLI, "anomalies", "--db", url, "--since", "100000d", "--json"], capture_output=True,
                       timeout=120)
    assert q.returncode == 0, q.stderr[-2000:]
    listed = {a["id"]: a for a in map(orjson.loads, q.stdout.splitlines())}
    assert {a["id"] for a in written} == set(listed)
    teams = subprocess.run([*CLI, "anomalies", "--db", url, "--since", "100000d", "--team", "te\ufffdam",
                            "--json"], capture_output=True, timeout=120)
    assert teams.returncode == 0 and len(teams.stdout.splitlines()) == len({a["id"] for a in idle})


@pytest.mark.parametrize("db", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
@pytest.mark.parametrize("limit", ["-1", "0", "x"])
def test_anomalies_limit_must_be_positive(tmp_path: Path, request: pytest.FixtureRequest, db: str,
                                          limit: str) -> None:
    url = f"sqlite:///{tmp_path}/h.db" if db == "sqlite" else str(request.getfixturevalue("pg_schema_url"))
    q = subprocess.run([*CLI, "anomalies", "--db", url, "--limit", limit], capture_output=True, timeout=120)
    assert q.returncode == 2, (q.returncode, q.stderr[-2000:])
    err = q.stderr.decode()
    assert "--limit" in err and "positive" in err and "Traceback" not in err


def test_absurd_quantities_are_bad_input(base: list[bytes], clean_out: bytes, tmp_path: Path) -> None:
    """1.7e308 tokens in LLM billing rows summed to infinity, and the cost detector's cost per token
    raised OverflowError (found by ``make fuzz``); a quantity above ``limits.max_quantity`` is bad input."""
    rows = []
    for raw in base:
        ev = orjson.loads(raw)
        if ev["type"] == "billing_delta" and ev.get("model") and len(rows) < 3:
            ev["usage_quantity"] = 1.7e308
            rows.append(orjson.dumps(ev))
    assert rows
    path, numbers = _with(base, AT, rows, tmp_path)
    p = _replay(path)
    assert p.returncode == 0, p.stderr[-2000:]
    _assert_reported(p.stderr, path, numbers, "usage_quantity")
    assert p.stdout == clean_out
