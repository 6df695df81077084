"""The command line's face: every data-printing command speaks JSON, a closed pipe is no error,
bad flags and settings are exit 2 with a message that names them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from spendwatch.cli import COMMANDS, main

CLI = [sys.executable, "-m", "spendwatch.cli"]
START = "2026-03-24T00:00Z"  # the simulator's default window: times below are in it

# Every command that prints data, as one static list: (name, argv, where its JSON goes). {db}, {events},
# {id} are filled from the fixture. simulate and replay print JSON lines on stdout whatever the flag;
# --json makes their closing summary JSON too (on stderr, beside the data).
DATA_COMMANDS: list[tuple[str, list[str], str]] = [
    ("anomalies", ["anomalies", "--db", "{db}", "--from", START, "--json"], "stdout"),
    ("anomalies-insights", ["anomalies", "--insights", "--db", "{db}", "--from", START, "--json"], "stdout"),
    ("anomalies-show", ["anomalies", "show", "{id}", "--db", "{db}", "--json"], "stdout"),
    ("anomalies-summary", ["anomalies", "summary", "--db", "{db}", "--from", START, "--json"], "stdout"),
    ("report", ["report", "--db", "{db}", "--from", START, "--to", "2026-03-25", "--json"], "stdout"),
    ("silence-add", ["silence", "add", "kind=idle_gpu", "--db", "{db}", "--by", "t", "--json"], "stdout"),
    ("silence-list", ["silence", "list", "--all", "--db", "{db}", "--json"], "stdout"),
    ("emit", ["emit", "training-run", "--run-id", "r1", "--model-id", "m1", "--workload", "ml/train",
              "--status", "started", "--started-at", START, "--stdout", "--json"], "stderr"),
    ("simulate", ["simulate", "--hours", "1", "--gpus", "8", "--billing-days", "0", "--json"], "stderr"),
    ("replay", ["replay", "{events}", "--json"], "stderr"),
]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A history store with the anomalies of a small simulated fleet (simulate | replay --history)."""
    tmp = tmp_path_factory.mktemp("face")
    events, db = tmp / "events.jsonl", f"sqlite:///{tmp / 'history.db'}"
    assert main(["simulate", "--hours", "4", "--gpus", "8", "--billing-days", "1", "--out", str(events)]) == 0
    rep = subprocess.run([*CLI, "replay", str(events), "--history", db], capture_output=True, timeout=300)
    assert rep.returncode == 0, rep.stderr[-2000:]
    first = orjson.loads(rep.stdout.splitlines()[0])
    return {"db": db, "events": str(events), "id": first["id"], "dir": str(tmp)}


def _argv(template: list[str], h: dict[str, str]) -> list[str]:
    return [a.format(**h) for a in template]


def _env(h: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, "XDG_DATA_HOME": h["dir"], "XDG_STATE_HOME": h["dir"], "SPENDWATCH_STATE_DIR": h["dir"],
           "SPENDWATCH_SPOOL_DIR": h["dir"]}
    for var in ("SPENDWATCH_DB", "SPENDWATCH_SLACK_TOKEN", "SPENDWATCH_SLACK_TOKEN_FILE"):
        env.pop(var, None)
    return env


def test_the_list_names_real_commands() -> None:
    assert {argv[0] for _n, argv, _w in DATA_COMMANDS} <= set(COMMANDS)


@pytest.mark.parametrize(("name", "template", "where"), DATA_COMMANDS, ids=[c[0] for c in DATA_COMMANDS])
def test_data_command_speaks_json_and_survives_a_closed_pipe(name: str, template: list[str], where: str,
                                                              history: dict[str, str]) -> None:
    argv, env = _argv(template, history), _env(history)
    p = subprocess.run([*CLI, *argv], capture_output=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    text = p.stdout if where == "stdout" else p.stderr
    assert text.strip(), f"{name}: nothing on {where}"
    if where == "stderr":  # the summary is the last line (log lines may come before it)
        docs = [orjson.loads(text.splitlines()[-1])]
        assert all(orjson.loads(line) for line in p.stdout.splitlines())  # the data: JSON lines
    else:
        try:
            docs = [orjson.loads(text)]  # one (indented) document
        except orjson.JSONDecodeError:
            docs = [orjson.loads(line) for line in text.splitlines() if line.strip()]  # JSON lines
    for doc in docs:
        for key, value in doc.items():  # ISO 8601 beside every epoch time at the top level
            if (key == "ts" or key.endswith(("_at", "_ts"))) and isinstance(value, int | float):
                assert isinstance(doc[f"{key}_iso"], str) and doc[f"{key}_iso"].endswith("Z"), (key, doc)
        assert '"-"' not in orjson.dumps({k: v for k, v in doc.items() if k != "evidence"}).decode(), doc
    # `spendwatch ... | head -0`: the reader is gone before the first byte; exit 0, no traceback
    proc = subprocess.Popen([*CLI, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    proc.stdout.close()
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert b"Traceback" not in err and b"BrokenPipe" not in err and b"Broken pipe" not in err, err[-2000:]


def test_head_in_a_shell_exits_0_for_a_long_stream(tmp_path: Path) -> None:
    """A stream longer than the pipe's buffer: `head -1` leaves while simulate is still writing."""
    p = subprocess.run(f"set -o pipefail; {' '.join(CLI)} simulate --hours 2 --gpus 8 --billing-days 0 | head -1",
                       shell=True, executable="/bin/bash", capture_output=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    assert p.stdout.count(b"\n") == 1 and orjson.loads(p.stdout)["type"]
    assert b"Traceback" not in p.stderr


def test_summary_json_has_null_not_a_placeholder_for_no_team(history: dict[str, str],
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["anomalies", "summary", "--insights", "--db", history["db"], "--from", START, "--json"]) == 0
    s = orjson.loads(capsys.readouterr().out)
    teams = [r["team"] for r in s["by_team"]]
    assert teams and "-" not in teams
