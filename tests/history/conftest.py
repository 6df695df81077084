"""Fixtures for history-store tests: a store on SQLite (tmp file) and on a real PostgreSQL schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from spendwatch.history import HistoryStore, open_store


@pytest.fixture(autouse=True)
def _no_home_db(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.local/share: the default store points into tmp."""
    monkeypatch.setenv("SPENDWATCH_DB", f"sqlite:///{tmp_path}/default-history.db")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"sw_test_{uuid.uuid4().hex[:10]}"
    base = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/history.db"
    return str(request.getfixturevalue("pg_schema_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[HistoryStore]:
    s = open_store(store_url)
    yield s
    s.close()
