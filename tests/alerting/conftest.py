"""Alerting tests: an isolated environment, and the fake Slack (tests/fake_slack.py) as a fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_slack import FakeSlack, serve_fake_slack


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with serve_fake_slack() as state:
        yield state


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real home directory or a real Slack workspace."""
    monkeypatch.setenv("SPENDWATCH_DB", f"sqlite:///{tmp_path}/history.db")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for var in ("SPENDWATCH_SLACK_TOKEN", "SPENDWATCH_SLACK_TOKEN_FILE", "SPENDWATCH_ROUTES",
                "SPENDWATCH_SLACK_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
