"""`spendwatch silence add|list|expire` and `spendwatch serve`'s flags (the chart assumes --port 8080)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spendwatch.cli import build_parser, main
from spendwatch.history import open_store


def test_silence_add_list_expire(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path}/h.db"
    assert main(["silence", "add", "kind=idle_gpu", "workload=ml/*", "--duration", "3h", "--by", "ana",
                 "--comment", "migration", "--db", db, "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert made["matchers_text"] == ["kind=idle_gpu", "workload=ml/*"] and made["state"] == "active"
    assert made["ends_at"] - made["starts_at"] == pytest.approx(3 * 3600)
    assert main(["silence", "list", "--db", db]) == 0
    out = capsys.readouterr().out
    assert made["id"] in out and "kind=idle_gpu workload=ml/*" in out and "# migration" in out
    assert main(["silence", "expire", made["id"][:8], "--db", db]) == 0
    with open_store(db) as store:
        assert store.silences.list() == [] and len(store.silences.list(("expired",))) == 1
    assert main(["silence", "add", "colour=red", "--db", db]) == 2
    assert "unknown field 'colour'" in capsys.readouterr().err
    assert main(["silence", "expire", "nope", "--db", db]) == 2


def test_serve_flags_match_the_chart() -> None:
    args = build_parser().parse_args(["serve", "--config", "c.yaml", "--host", "0.0.0.0"])
    assert args.port == 8080 and args.host == "0.0.0.0" and args.config == "c.yaml"
