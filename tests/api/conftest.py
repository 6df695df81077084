"""Fixtures for the API and dashboard: `make demo`-style data from the simulator, in SQLite and PostgreSQL.

The fleet is simulated once per session (a day of event time ending at END, every injected
problem), run through the detectors as the demo does, and recorded with its hourly spend into a
fresh database per test (SQLite file, or a fresh PostgreSQL schema).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.app import ApiOptions, create_app
from collectors.simulate import INJECTIONS, SimConfig, simulate
from detectors.engine import Engine
from spendwatch.config import Settings
from spendwatch.history import HistoryStore, open_store
from spendwatch.history.spend import SpendRollup
from streams.demo import spend_rollup
from streams.replay import ReplayStats, replay_lines

START = 1_774_310_400.0  # 2026-03-24T00:00Z
HOURS = 24.0
END = START + HOURS * 3600
NOW = END + 600.0  # the app's clock in these tests
TOKEN = "test-api-token-7f3a9c"


def _lines(sim: Any) -> Iterator[bytes]:
    for chunk in sim.chunks():
        yield from chunk.split(b"\n")


@pytest.fixture(scope="session")
def demo_data() -> tuple[list[dict[str, Any]], SpendRollup]:
    sim = simulate(SimConfig(hours=HOURS, gpus=16, seed=1, inject=frozenset(INJECTIONS), start=START,
                             bad_fraction=0.0))
    events = list(replay_lines(_lines(sim), Engine(Settings()), ReplayStats()))
    return events, spend_rollup(_lines(sim))


@pytest.fixture(scope="session")
def demo_sqlite(demo_data: tuple[list[dict[str, Any]], SpendRollup], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "history.db"
    with open_store(f"sqlite:///{path}") as store:
        store.record_many(demo_data[0])
        store.spend.write(demo_data[1])
    return path


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPENDWATCH_DB", f"sqlite:///{tmp_path}/default-history.db")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    for var in ("SPENDWATCH_API_TOKEN", "SPENDWATCH_KAFKA", "SPENDWATCH_SLACK_TOKEN",
                "SPENDWATCH_SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(params=["sqlite", "postgres"])
def demo_store(request: pytest.FixtureRequest, demo_sqlite: Path, tmp_path: Path,
               demo_data: tuple[list[dict[str, Any]], SpendRollup]) -> Iterator[HistoryStore]:
    """The demo's history in a fresh SQLite copy or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        copy = tmp_path / "history.db"
        shutil.copy(demo_sqlite, copy)
        store = open_store(f"sqlite:///{copy}")
    else:
        store = open_store(str(request.getfixturevalue("pg_schema_url")))
        store.record_many(demo_data[0])
        store.spend.write(demo_data[1])
    yield store
    store.close()


@pytest.fixture
def make_client(demo_store: HistoryStore) -> Callable[..., Any]:
    from fastapi.testclient import TestClient

    def make(**options: Any) -> TestClient:
        opts = {"token": TOKEN, **options}
        return TestClient(create_app(demo_store, ApiOptions(**opts), now=lambda: NOW))

    return make
