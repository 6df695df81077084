"""History store on SQLite and on a real PostgreSQL: idempotence, latest state, queries, summary."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spendwatch.errors import BadEvent
from spendwatch.history import AnomalyQuery, open_store, resolve_url
from spendwatch.history.schema import LATEST_VERSION, schema_version

T0 = 1_774_384_000.0


def anomaly(aid: str = "idle_gpu-a", state: str = "open", ts: float = T0 + 600, waste: float = 1.0,
            kind: str = "idle_gpu", team: str | None = "vision", owner: str | None = "ana@corp.example",
            wl_id: str = "vision/train", resource: str = "GPU-1", daily: float = 70.8,
            severity: str = "warning", started: float = T0) -> dict[str, Any]:
    wl = {"id": wl_id, "kind": "training"} | ({"team": team} if team else {}) | ({"owner": owner} if owner else {})
    return {"type": "anomaly", "id": aid, "kind": kind, "state": state, "severity": severity, "workload": wl,
            "resource": resource, "started_at": started, "detected_at": T0 + 600,
            "resolved_at": ts if state == "resolved" else None, "waste_usd": waste, "projected_daily_usd": daily,
            "summary": f"{kind} on {resource}", "evidence": {"node": "n1", "mean_activity_pct": 0.0}, "ts": ts}


def lifecycle(aid: str = "idle_gpu-a", **kw: Any) -> list[dict[str, Any]]:
    return [anomaly(aid, ts=T0 + 600, waste=1.0, **kw), anomaly(aid, ts=T0 + 1800, waste=3.0, **kw),
            anomaly(aid, "resolved", ts=T0 + 3600, waste=5.0, **kw)]


def test_schema_is_migrated_once(store: Any) -> None:
    assert schema_version(store.engine) == LATEST_VERSION
    again = open_store(store.url)  # re-open: nothing to apply, no error
    assert schema_version(again.engine) == LATEST_VERSION
    again.close()


def test_same_event_twice_changes_nothing(store: Any) -> None:
    events = lifecycle()
    assert store.record_many(events) == 3
    assert store.record_many(events) == 0
    assert store.record(copy.deepcopy(events[1])) is False
    (a,) = store.query()
    assert a["state"] == "resolved" and a["waste_usd"] == 5.0 and a["event_count"] == 3
    assert [e["waste_usd"] for e in store.events(a["id"])] == [1.0, 3.0, 5.0]


def test_late_events_never_roll_back_latest_state(store: Any) -> None:
    first, middle, resolved = lifecycle()
    store.record(first)
    store.record(resolved)
    assert store.record(middle) is True  # recorded in the history ...
    a = store.get("idle_gpu-a")
    assert a is not None
    assert a["state"] == "resolved" and a["waste_usd"] == 5.0 and a["resolved_at"] == T0 + 3600  # ... not the state
    assert [e["ts"] for e in store.events("idle_gpu-a")] == [T0 + 600, T0 + 1800, T0 + 3600]


def test_bad_event_is_refused_with_the_field(store: Any) -> None:
    with pytest.raises(BadEvent, match="started_at"):
        store.record({"id": "x", "kind": "idle_gpu", "state": "open"})


def test_filters_sort_and_limit(store: Any) -> None:
    store.record_many([
        *lifecycle("idle_gpu-a"),
        anomaly("hoard-b", kind="gpu_memory_hoarding", team="speech", owner="U0123ABC", wl_id="serving/asr",
                resource="GPU-2", waste=20.0, ts=T0 + 86400, started=T0 + 80000, severity="critical"),
        anomaly("spike-c", kind="cost_spike", team=None, owner=None, wl_id="ml/llm-api", resource="key-9",
                waste=0.5, ts=T0 + 5 * 86400, started=T0 + 5 * 86400 - 100, severity="info"),
    ])
    ids = lambda **kw: [a["id"] for a in store.query(AnomalyQuery(**kw))]  # noqa: E731
    assert ids() == ["spike-c", "hoard-b", "idle_gpu-a"]  # newest started first
    assert ids(sort="waste") == ["hoard-b", "idle_gpu-a", "spike-c"]
    assert ids(sort="waste", descending=False, limit=1) == ["spike-c"]
    assert ids(kinds=("idle_gpu", "cost_spike")) == ["spike-c", "idle_gpu-a"]
    assert ids(teams=("speech",)) == ["hoard-b"]
    assert ids(owners=("ana@corp.example",)) == ["idle_gpu-a"]
    assert ids(workloads=("ml/*",)) == ["spike-c"]
    assert ids(workloads=("serving/asr",)) == ["hoard-b"]
    assert ids(resources=("GPU-1",)) == ["idle_gpu-a"]
    assert ids(states=("open",)) == ["spike-c", "hoard-b"]
    assert ids(min_waste_usd=5.0) == ["hoard-b", "idle_gpu-a"]
    assert ids(min_severity="warning") == ["hoard-b", "idle_gpu-a"]
    # Time range = active during it: idle_gpu-a was resolved at T0+3600, before this window.
    assert ids(from_ts=T0 + 7200) == ["spike-c", "hoard-b"]
    assert ids(to_ts=T0 + 70000) == ["idle_gpu-a"]
    assert ids(from_ts=T0 + 3000, to_ts=T0 + 3700) == ["idle_gpu-a"]


def test_summary_by_team_owner_kind_and_day(store: Any) -> None:
    store.record_many([
        *lifecycle("idle_gpu-a"),
        anomaly("idle_gpu-b", team="vision", waste=2.0, ts=T0 + 86400 + 10, resource="GPU-3"),
        anomaly("hoard-c", kind="gpu_memory_hoarding", team="speech", owner="sp@corp.example", waste=10.0),
    ])
    s = store.summary()
    assert s["total"] == {"count": 3, "open": 2, "waste_usd": 17.0, "projected_daily_usd": 141.6}
    assert s["by_team"][0] == {"team": "speech", "count": 1, "open": 1, "waste_usd": 10.0,
                               "projected_daily_usd": 70.8}
    assert s["by_team"][1]["team"] == "vision" and s["by_team"][1]["count"] == 2
    assert s["by_team"][1]["waste_usd"] == 7.0
    assert {r["kind"]: r["count"] for r in s["by_kind"]} == {"idle_gpu": 2, "gpu_memory_hoarding": 1}
    assert {r["owner"] for r in s["by_owner"]} == {"ana@corp.example", "sp@corp.example"}
    # idle_gpu-a accrued 5.0 on day one; idle_gpu-b 2.0 on day two; hoard-c 10.0 on day one.
    assert s["by_day"] == [{"day": "2026-03-24", "count": 2, "waste_usd": 15.0},
                           {"day": "2026-03-25", "count": 1, "waste_usd": 2.0}]
    assert store.summary(AnomalyQuery(teams=("speech",)))["total"]["count"] == 1


def test_get_by_unique_prefix(store: Any) -> None:
    store.record_many([anomaly("idle_gpu-abc"), anomaly("idle_gpu-abd"), anomaly("hoard_x-1")])
    assert store.get("hoard_x") is not None
    assert store.get("idle_gpu-ab") is None  # ambiguous
    assert store.get("idle_gpu-abd")["id"] == "idle_gpu-abd"  # type: ignore[index]
    assert store.get("hoard%") is None  # LIKE wildcards are escaped


def test_slack_message_is_stored_with_the_anomaly(store: Any) -> None:
    store.record(anomaly())
    store.set_message("idle_gpu-a", "#gpu", "1774384000.000100")
    a = store.get("idle_gpu-a")
    assert a is not None and (a["slack_channel"], a["slack_ts"]) == ("#gpu", "1774384000.000100")


def test_indexes_exist(store: Any) -> None:
    names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("sw_anomalies")}
    assert {"ix_sw_anomalies_started", "ix_sw_anomalies_kind", "ix_sw_anomalies_team", "ix_sw_anomalies_owner",
            "ix_sw_anomalies_workload", "ix_sw_anomalies_state", "ix_sw_anomalies_waste"} <= names


def test_url_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_url("postgresql://u@h/db").startswith("postgresql+psycopg://u@h/db")
    assert resolve_url("sqlite:////a/b.db") == "sqlite:////a/b.db"
    assert resolve_url(str(tmp_path / "h.db")) == f"sqlite:///{tmp_path}/h.db"
    monkeypatch.delenv("SPENDWATCH_DB")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_url() == f"sqlite:///{tmp_path}/data/spendwatch/history.db"
    s = open_store()
    assert (tmp_path / "data" / "spendwatch" / "history.db").exists()
    s.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(4)), repeats=st.lists(st.integers(0, 3), max_size=4))
def test_any_order_and_repeats_give_the_same_latest_state(tmp_path: Path, order: list[int],
                                                          repeats: list[int]) -> None:
    events = [anomaly(ts=T0 + 600 * (i + 1), waste=float(i)) for i in range(3)]
    events.append(anomaly("idle_gpu-a", "resolved", ts=T0 + 2400, waste=3.0))
    path = tmp_path / f"h-{'-'.join(map(str, order))}-{len(repeats)}.db"
    path.unlink(missing_ok=True)
    with open_store(f"sqlite:///{path}") as s:
        s.record_many([events[i] for i in order] + [events[i] for i in repeats])
        (a,) = s.query()
        assert (a["state"], a["waste_usd"], a["event_count"]) == ("resolved", 3.0, 4)


def test_hourly_spend_is_replaced_not_added_when_written_again(store_url: str) -> None:
    from spendwatch.history.spend import SpendRollup

    def rollup(scale: float) -> SpendRollup:
        r = SpendRollup()
        for h in range(30):
            for team, wid in (("ml", "ml/a"), ("", "batch/b")):
                r.add({"type": "billing_delta", "period_start": 1_774_310_400.0 + 3600 * h + 60,
                       "cost_usd": scale * (h + 1), "workload": {"id": wid, **({"team": team} if team else {})}})
        return r

    with open_store(store_url) as st_:
        assert st_.spend.write(rollup(1.0)) == 60
        assert st_.spend.write(rollup(2.0)) == 60  # the same hours again: replaced
        assert st_.spend.write(SpendRollup()) == 0
        rows = st_.spend.rows()
    assert len(rows) == 60
    assert sum(r["cost_usd"] for r in rows if r["team"] == "ml") == pytest.approx(2.0 * sum(range(1, 31)))
    assert {(r["team"], r["workload_id"]) for r in rows} == {("ml", "ml/a"), ("", "batch/b")}


def test_nul_in_text_is_stored_the_same_on_both_databases(store: Any) -> None:
    """The contract allows NUL in strings; PostgreSQL refuses it in text. Text columns keep U+FFFD in
    its place on both databases; the JSON columns keep the NUL itself, escaped."""
    a = anomaly("idle_gpu-nul", team="vi\u0000sion", owner="ana\u0000@corp.example", wl_id="vision/\u0000train",
                resource="GPU-\u00001")
    a["summary"] = "idle \u0000 GPU"
    assert store.record_many([a]) == 1 and store.set_aside == 0
    got = store.query(AnomalyQuery(teams=("vi\ufffdsion",)))
    assert [g["id"] for g in got] == ["idle_gpu-nul"]
    assert store.query(AnomalyQuery(teams=("vi\u0000sion",)))[0]["id"] == "idle_gpu-nul"  # a filter cleaned alike
    assert got[0]["workload"]["owner"] == "ana\u0000@corp.example"  # the workload object, as published
    assert got[0]["summary"] == "idle \ufffd GPU" and got[0]["resource"] == "GPU-\ufffd1"
    assert store.events("idle_gpu-nul")[0]["workload"]["team"] == "vi\u0000sion"


def test_an_event_that_cannot_be_stored_is_set_aside_and_the_rest_is_recorded(store: Any) -> None:
    long_kind = anomaly("long-kind", kind="k" * 100)
    number_owner = anomaly("number-owner")
    number_owner["workload"]["owner"] = 42
    infinite = anomaly("infinite", waste=float("inf"))
    no_start = {k: v for k, v in anomaly("no-start").items() if k != "started_at"}
    unjsonable = anomaly("unjsonable")
    unjsonable["evidence"] = {"x": "\ud800"}  # a lone surrogate: not UTF-8, not JSON
    batch = [*lifecycle("idle_gpu-a"), long_kind, number_owner, infinite, no_start, unjsonable,
             anomaly("idle_gpu-b", team="t\u0000")]
    assert store.record_many(batch) == 4
    assert store.set_aside == 5
    assert {a["id"] for a in store.query()} == {"idle_gpu-a", "idle_gpu-b"}
    aside = store.set_aside_events()
    assert [e["anomaly_id"] for e in aside] == ["unjsonable", "no-start", "infinite", "number-owner", "long-kind"]
    reasons = [e["reason"] for e in aside]
    assert "kind: 100 characters, more than 64" in reasons[4] and "workload.owner" in reasons[3]
    assert "waste_usd" in reasons[2] and "started_at" in reasons[1]
    assert '"number-owner"' in aside[3]["payload"] and "\\ud800" in aside[0]["payload"]
    assert store.record_many(batch) == 0 and store.set_aside == 10  # again: nothing new, set aside again


@pytest.mark.parametrize("limit", [0, -1, 1.5, True])
def test_a_limit_must_be_a_positive_integer(limit: Any) -> None:
    from spendwatch.errors import ConfigError

    with pytest.raises(ConfigError, match="limit: must be a positive integer"):
        AnomalyQuery(limit=limit)
    assert AnomalyQuery(limit=1).limit == 1 and AnomalyQuery().limit is None
