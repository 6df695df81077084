"""Insights in the history store: kept apart from anomalies (SQLite and PostgreSQL), and the migration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from spendwatch.history import AnomalyQuery, open_store
from spendwatch.history.schema import LATEST_VERSION, MIGRATIONS, migrations_table, schema_version
from tests.history.test_history_store import T0, anomaly, lifecycle

CLI = [sys.executable, "-m", "spendwatch.cli"]


def insight(aid: str = "underused_gpu-a", **kw: Any) -> dict[str, Any]:
    return {**anomaly(aid, kind="underused_gpu", waste=24.0, daily=24.0, **kw), "type": "insight"}


def test_insights_are_recorded_but_not_listed_as_anomalies(store: Any) -> None:
    store.record_many(lifecycle("idle_gpu-a") + [insight(), insight("underused_gpu-a", state="resolved",
                                                                    ts=T0 + 7200)])
    assert [a["id"] for a in store.query()] == ["idle_gpu-a"]  # the default: anomalies only
    got = store.query(AnomalyQuery(types=("insight",)))
    assert [(a["id"], a["type"], a["state"]) for a in got] == [("underused_gpu-a", "insight", "resolved")]
    assert len(store.query(AnomalyQuery(types=()))) == 2
    assert store.summary()["total"]["count"] == 1  # `anomalies summary` counts incidents
    assert store.summary(AnomalyQuery(types=("insight",)))["by_kind"][0]["kind"] == "underused_gpu"
    assert store.get("underused_gpu-a")["type"] == "insight"  # `anomalies show` finds either


def test_the_command_lists_insights_only_when_asked(store_url: str) -> None:
    with open_store(store_url) as store:
        store.record_many(lifecycle("idle_gpu-a") + [insight()])

    def cmd(*args: str) -> list[dict[str, Any]]:
        p = subprocess.run([*CLI, "anomalies", "--db", store_url, *args, "--json"], capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        return [orjson.loads(x) for x in p.stdout.splitlines()]
    assert [a["type"] for a in cmd()] == ["anomaly"]
    assert [(a["type"], a["kind"]) for a in cmd("--insights")] == [("insight", "underused_gpu")]
    assert sorted(a["type"] for a in cmd("--all-types")) == ["anomaly", "insight"]
    p = subprocess.run([*CLI, "anomalies", "--db", store_url, "summary", "--insights", "--json"], capture_output=True,
                       timeout=60)
    assert orjson.loads(p.stdout)["total"]["count"] == 1 and orjson.loads(p.stdout)["by_kind"][0]["kind"] == \
        "underused_gpu"


def test_a_store_of_the_previous_version_is_migrated_and_its_rows_stay_anomalies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # a database as version 3 left it: no `type` column
        migrations_table.create(conn)
        for version, name, fn in MIGRATIONS[:3]:
            fn(conn)
            conn.execute(migrations_table.insert().values(version=version, name=name, applied_at=0.0))
        conn.execute(sa.text("ALTER TABLE sw_anomalies DROP COLUMN type"))  # as created before this version
        conn.execute(sa.text(
            "INSERT INTO sw_anomalies (id, kind, state, severity, resource, started_at, detected_at, waste_usd, "
            "projected_daily_usd, summary, evidence, first_ts, last_ts, event_count, updated_at) VALUES "
            "('idle_gpu-old', 'idle_gpu', 'open', 'info', 'GPU-1', 1, 1, 2.0, 3.0, 's', '{}', 1, 1, 1, 1)"))
    assert schema_version(engine) == 3
    with open_store(url) as store:
        assert schema_version(store.engine) == LATEST_VERSION
        assert [(a["id"], a["type"]) for a in store.query()] == [("idle_gpu-old", "anomaly")]
        store.record(insight())
        assert [a["id"] for a in store.query(AnomalyQuery(types=("insight",)))] == ["underused_gpu-a"]
