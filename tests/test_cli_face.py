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
    ("demo", ["demo", "--hours", "2", "--gpus", "8", "--max-alerts", "1", "--json"], "stdout"),
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


# --------------------------------------------------------------------------- validation: exit 2, the flag named
BAD_FLAGS: list[tuple[list[str], str]] = [
    (["anomalies", "--kind", "bogus"], "--kind: unknown value(s) 'bogus'"),
    (["anomalies", "--kind", "idle_gpu,bogus"], "--kind: unknown value(s) 'bogus'"),
    (["anomalies", "--state", "closed"], "--state: unknown value(s) 'closed'"),
    (["--log-level", "verbose", "anomalies"], "--log-level: unknown level 'verbose'"),
    (["anomalies", "--min-waste", "-5"], "--min-waste: must be at least 0"),
    (["anomalies", "--limit", "-1"], "--limit: must be a positive integer"),
    (["anomalies", "summary", "--state", "closed"], "--state: unknown value(s) 'closed'"),
    (["demo", "--gpus", "0"], "--gpus: must be a positive integer"),
    (["demo", "--hours", "-1"], "--hours: must be above 0"),
    (["demo", "--start", "yesterday"], "--start: 'yesterday' is not a time"),
    (["collect", "gpu", "--backend", "simulated", "--gpus", "0"], "--gpus: must be a positive integer"),
    (["collect", "gpu", "--interval", "0"], "--interval: must be above 0"),
    (["simulate", "--gpus", "0"], "--gpus: must be a positive integer"),
    (["simulate", "--bad-fraction", "1.5"], "--bad-fraction: must be between 0 and 1"),
    (["serve", "--port", "70000"], "--port: must be a port between 0 and 65535"),
    (["worker", "--session-timeout", "-1"], "--session-timeout: must be above 0"),
    (["emit", "training-run", "--run-id", "r", "--model-id", "m", "--workload", "w", "--status", "started",
      "--started-at", "soon"], "--started-at: 'soon' is not a time"),
]


@pytest.mark.parametrize(("argv", "message"), BAD_FLAGS, ids=[" ".join(a) for a, _m in BAD_FLAGS])
def test_a_bad_flag_is_exit_2_naming_it(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, err


def test_log_level_accepts_any_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--log-level", "warning", "anomalies", "--db", f"sqlite:///{tmp_path}/h.db"]) == 0
    assert "no anomalies match" in capsys.readouterr().err


# --------------------------------------------------------------------------- validation: settings
BAD_SETTINGS: list[tuple[str, dict[str, str], str]] = [
    ("idel:\n  dwell_s: 900\n", {}, "unknown section 'idel' (did you mean 'idle'?)"),
    ("idle:\n  dwell_s: -5\n", {}, "idle.dwell_s: a duration in seconds, at least 0, got -5"),
    ("idle:\n  idle_below_pct: 250\n", {}, "idle.idle_below_pct: a percentage of at most 100, got 250"),
    ("alerting:\n  join_window_s: -1\n", {}, "alerting.join_window_s: a duration in seconds"),
    ("", {"SPENDWATCH__IDEL__DWELL_S": "900"}, "environment SPENDWATCH__IDEL__DWELL_S: unknown section 'idel'"),
    ("", {"SPENDWATCH__IDLE__DWEL_S": "900"}, "environment SPENDWATCH__IDLE__DWEL_S (idle.dwel_s): unknown setting"),
    ("", {"SPENDWATCH__IDLE__DWELL_S": "soon"}, "environment SPENDWATCH__IDLE__DWELL_S (idle.dwell_s): expected a "
                                                "number"),
    ("idle:\n  dwell_s: 900\n", {"SPENDWATCH__IDLE__DWELL_S": "-1"}, "environment SPENDWATCH__IDLE__DWELL_S"),
]


@pytest.mark.parametrize(("text", "environ", "message"), BAD_SETTINGS, ids=[m[:40] for _t, _e, m in BAD_SETTINGS])
def test_bad_settings_are_exit_2_naming_the_file_or_variable(text: str, environ: dict[str, str], message: str,
                                                             tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    cfg = tmp_path / "settings.yaml"
    cfg.write_text(text or "{}\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for argv in (["replay", str(empty), "--config", str(cfg)],  # a command whose Engine reads the section
                 ["report", "--db", f"sqlite:///{tmp_path}/h.db", "--config", str(cfg)]):  # and one that does not
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err, (argv, err)
        if environ:
            assert str(cfg) not in err  # the variable is to blame, not the file
        else:
            assert str(cfg) in err


def test_good_settings_still_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "settings.yaml"
    cfg.write_text("idle:\n  dwell_s: 600\n  idle_below_pct: 5\nattribution:\n  rules: []\nalerting: {}\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["replay", str(empty), "--config", str(cfg)]) == 0
    assert "0 events" in capsys.readouterr().err


# --------------------------------------------------------------------------- one name per concept
OLD_AND_NEW: list[tuple[list[str], list[str], str]] = [
    (["alerter", "--group-id", "g"], ["alerter", "--group", "g"], "group"),
    (["alerter", "--metrics-addr", "0.0.0.0"], ["alerter", "--metrics-host", "0.0.0.0"], "metrics_host"),
    (["worker", "--history", "sqlite:///h.db"], ["worker", "--db", "sqlite:///h.db"], "db"),
    (["replay", "x.jsonl", "--history", "sqlite:///h.db"], ["replay", "x.jsonl", "--db", "sqlite:///h.db"], "db"),
    (["replay", "x.jsonl", "--history"], ["replay", "x.jsonl", "--db"], "db"),
]


@pytest.mark.parametrize(("old", "new", "dest"), OLD_AND_NEW, ids=[o[1] for o, _n, _d in OLD_AND_NEW])
def test_an_old_spelling_is_a_hidden_alias(old: list[str], new: list[str], dest: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from spendwatch.cli import build_parser

    parser = build_parser()
    assert getattr(parser.parse_args(old), dest) == getattr(parser.parse_args(new), dest)
    with pytest.raises(SystemExit):
        parser.parse_args([old[0], "--help"])
    shown = capsys.readouterr().out.split()
    old_flag = next(a for a in old if a.startswith("--"))
    new_flag = next(a for a in new if a.startswith("--"))
    assert new_flag in shown and old_flag not in shown


def test_session_timeout_is_seconds_and_the_old_ms_flag_still_works() -> None:
    from spendwatch.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["alerter", "--session-timeout", "7.5"]).session_timeout == 7.5
    assert parser.parse_args(["alerter", "--session-timeout-ms", "7500"]).session_timeout_ms == 7500
    assert parser.parse_args(["worker", "--session-timeout", "7.5"]).session_timeout == 7.5


# every command that reads settings takes --config; every one that talks to Kafka takes --bootstrap/--topic-prefix
READS_SETTINGS = [["alerter"], ["worker"], ["replay", "x"], ["demo"], ["collect", "gpu"], ["collect", "dcgm"],
                  ["collect", "billing", "focus", "f.csv"], ["emit", "observations", "--model-id", "m", "--workload",
                                                             "w", "--values", "{}"], ["produce", "f"], ["report"],
                  ["serve"]]
TALKS_TO_KAFKA = [c for c in READS_SETTINGS if c[0] not in ("replay", "demo", "report")]


@pytest.mark.parametrize("argv", READS_SETTINGS, ids=[" ".join(c[:2]) for c in READS_SETTINGS])
def test_config_on_every_command_that_reads_settings(argv: list[str]) -> None:
    from spendwatch.cli import build_parser

    assert build_parser().parse_args([*argv, "--config", "s.yaml"]).config == "s.yaml"


@pytest.mark.parametrize("argv", TALKS_TO_KAFKA, ids=[" ".join(c[:2]) for c in TALKS_TO_KAFKA])
def test_broker_flags_on_every_command_that_talks_to_kafka(argv: list[str]) -> None:
    from spendwatch.cli import build_parser

    args = build_parser().parse_args([*argv, "--bootstrap", "b:9092", "--topic-prefix", "t."])
    assert (args.bootstrap, args.topic_prefix) == ("b:9092", "t.")


def test_replay_says_what_is_open_as_of_the_files_end(history: dict[str, str]) -> None:
    """Open at the end of the input is open in event time, not now: the summary says when that was."""
    last = max(orjson.loads(line)["ts"] for line in Path(history["events"]).read_bytes().splitlines() if line)
    p = subprocess.run([*CLI, "replay", history["events"], "--json"], capture_output=True, timeout=300,
                       env=_env(history))
    assert p.returncode == 0, p.stderr[-2000:]
    summary = orjson.loads(p.stderr.splitlines()[-1])
    opened = {a["id"] for a in map(orjson.loads, p.stdout.splitlines()) if a["state"] == "open"}
    closed = {a["id"] for a in map(orjson.loads, p.stdout.splitlines()) if a["state"] == "resolved"}
    assert summary["still_open"] == len(opened - closed) > 0
    assert summary["still_open_as_of_ts"] == pytest.approx(last)
    text = subprocess.run([*CLI, "replay", history["events"]], capture_output=True, text=True, timeout=300,
                          env=_env(history)).stderr
    assert f"{summary['still_open']} still open as of the file's end ({summary['still_open_as_of_ts_iso']}" in text


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_into_a_closed_pipe_is_no_error(command: str | None) -> None:
    """Every command prints at least its help: `spendwatch CMD --help | head -0` exits 0 without a traceback."""
    proc = subprocess.Popen([*CLI, *([command] if command else []), "--help"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.close()
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in err, err[-2000:]


def test_the_flag_table_in_the_docs_matches_the_parser() -> None:
    from spendwatch.cli.reference import rows, table

    doc = (Path(__file__).parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    shown = doc.split("<!-- flags:begin -->\n", 1)[1].split("<!-- flags:end -->", 1)[0]
    assert shown == table(), "docs/cli.md is behind the parser: run python -m spendwatch.cli.reference"
    commands = {c for c, _f in rows()}
    assert {"alerter", "worker", "anomalies show", "collect billing focus", "silence add"} <= commands
    assert all("--group-id" not in f and "--metrics-addr" not in f for _c, flags in rows() for f in flags)


def test_the_readme_shows_every_commands_help_as_the_parser_prints_it() -> None:
    from spendwatch.cli.reference import help_blocks, rows

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- help:begin -->\n", 1)[1].split("<!-- help:end -->", 1)[0]
    assert shown == help_blocks(), "README is behind the parser: run python -m spendwatch.cli.reference --help-blocks"
    for command, _flags in rows():  # every command and sub-command has its block
        assert f"<code>spendwatch {command} --help</code>" in shown, command
