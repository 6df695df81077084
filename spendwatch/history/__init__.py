"""The anomaly history store: every anomaly event, the latest state per id, and queries over them.

    store = open_store()            # SPENDWATCH_DB, else ~/.local/share/spendwatch/history.db
    store.record_many(events)       # idempotent: the same event twice changes nothing
    store.query(AnomalyQuery(kinds=("idle_gpu",), since...))

URLs: ``sqlite:///relative.db``, ``sqlite:////abs/path.db``, a bare file path, or
``postgresql://user@host/db`` (the psycopg 3 driver is used). The schema is created and migrated
on open (see :mod:`spendwatch.history.schema`). The notification log of :mod:`alerting` lives in
the same database.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from spendwatch.errors import ConfigError
from spendwatch.history.query import AnomalyQuery, parse_duration, parse_time
from spendwatch.history.store import HistoryStore

__all__ = ["AnomalyQuery", "HistoryStore", "default_sqlite_path", "open_store", "parse_duration",
           "parse_time", "resolve_url"]


def default_sqlite_path() -> Path:
    """``$XDG_DATA_HOME/spendwatch/history.db`` (``~/.local/share/...`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "spendwatch" / "history.db"


def resolve_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The SQLAlchemy URL to use: ``url``, else ``SPENDWATCH_DB``, else the default SQLite file."""
    env = os.environ if environ is None else environ
    raw = url or env.get("SPENDWATCH_DB") or ""
    if not raw:
        path = default_sqlite_path()
        return f"sqlite:///{path}"
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    if raw.startswith(("postgresql+", "sqlite:")):
        return raw
    if "://" in raw:
        raise ConfigError(f"SPENDWATCH_DB / --db: unsupported URL {raw.split('://')[0]}://...; "
                          f"use sqlite:///PATH or postgresql://USER@HOST/DB")
    return f"sqlite:///{Path(raw).expanduser().absolute()}"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets `spendwatch anomalies` read while the worker writes; busy_timeout waits instead of
    # failing when two writers meet.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def open_store(url: str | None = None) -> HistoryStore:
    """Open (creating and migrating as needed) the history store at ``url`` (see :func:`resolve_url`)."""
    resolved = resolve_url(url)
    parsed = sa.make_url(resolved)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        if db and db != ":memory:":
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(resolved)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    elif parsed.get_backend_name() == "postgresql":
        engine = sa.create_engine(resolved, pool_pre_ping=True)
    else:
        raise ConfigError(f"history store: unsupported database {parsed.get_backend_name()}")
    return HistoryStore(resolved, engine)
