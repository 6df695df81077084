"""Fixtures for history-store tests: a store on SQLite (tmp file) and on a real PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from spendwatch.history import HistoryStore, open_store


@pytest.fixture(autouse=True)
def _no_home_db(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.local/share: the default store points into tmp."""
    monkeypatch.setenv("SPENDWATCH_DB", f"sqlite:///{tmp_path}/default-history.db")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[HistoryStore]:
    s = open_store(store_url)
    yield s
    s.close()
